"""A tiny real HTTP server for answers the emulator never gives (wrong shapes, proxies)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def stub() -> AsyncIterator[tuple[str, dict[str, object]]]:
    """A server on 127.0.0.1; the test sets ``state["handler"]``; ``state["seen"]`` holds the
    headers of every request received."""
    state: dict[str, object] = {"seen": []}

    async def dispatch(request: web.Request) -> web.StreamResponse:
        state["seen"].append(dict(request.headers))  # type: ignore[attr-defined]
        handler: Handler = state["handler"]  # type: ignore[assignment]
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", dispatch)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", state
    finally:
        await runner.cleanup()
