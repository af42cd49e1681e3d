"""A local aiohttp server that answers with recorded Face API responses, byte for byte.

``serve(recording)`` queues a recording; the next request gets its status, its headers and
its body text exactly as recorded (aiohttp computes Content-Length and adds its Server
header), and is kept in ``received`` for the test to compare with the recorded request. Runs
on 127.0.0.1 only.
"""

from __future__ import annotations

from collections import deque
from types import TracebackType

import attrs
from aiohttp import web
from multidict import CIMultiDict
from recordings import Recording

# aiohttp writes these itself from the body it sends (the .NET recorder re-indents JSON
# bodies, so a recorded Content-Length can be that of the compact original).
_COMPUTED_HEADERS = frozenset({"content-length", "transfer-encoding", "content-encoding"})


@attrs.frozen
class ReceivedRequest:
    """What the client sent: method, decoded path, query pairs, Content-Type, body bytes."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    content_type: str | None
    body: bytes


class RecordedServer:
    """Answers each request with the next queued recording; 599 when none is queued."""

    def __init__(self) -> None:
        self._queue: deque[Recording] = deque()
        self.received: list[ReceivedRequest] = []
        self._runner: web.AppRunner | None = None
        self._port = 0

    @property
    def url(self) -> str:
        """The base URL (the Face API is under /face/v1.0 below it)."""
        if self._runner is None:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self._port}"

    def serve(self, recording: Recording) -> None:
        """Answer the next request with ``recording``'s response."""
        self._queue.append(recording)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(
            ReceivedRequest(
                method=request.method,
                path=request.path,
                query=tuple(request.query.items()),
                content_type=request.headers.get("Content-Type"),
                body=body,
            )
        )
        if not self._queue:
            return web.Response(status=599, text="no recording queued")
        response = self._queue.popleft().response
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in response.headers.items():
            if name.lower() not in _COMPUTED_HEADERS:
                headers.add(name, value)
        return web.Response(
            status=response.status, headers=headers, body=response.body.encode("utf-8")
        )

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._port = runner.addresses[0][1]
        self._runner = runner

    async def close(self) -> None:
        """Stop listening and release the runner."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> RecordedServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
