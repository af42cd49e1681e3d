"""The middleware that applies the knobs to every request.

Order per request: count -> authenticate (401) -> rate limit (429) -> injected fault before
handling (429/500/503/408, drop, slow) -> per-person gate for add/delete face (409 or wait) ->
latency -> handler -> injected fault after the write committed (drop without a response).

The latency sleeps inside the per-person gate: it stands for the service's processing time, and
a second write to the same person arriving while the first is being processed is what the real
service answers with 409.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import math
import random
import socket
import struct
import uuid
from collections.abc import Awaitable, Callable, Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from aiohttp import web

from ._app import NOT_FOUND_ROUTE, resolve
from ._app import operation_id as operation_id_of
from ._config import EmulatorConfig, Fault, RateLimit, glob_match
from ._stats import EmulatorStats

__all__ = [
    "KEY_HEADER",
    "Knobs",
    "error_response",
    "write_key",
]

KEY_HEADER = "Ocp-Apim-Subscription-Key"
# Routes of the emulator itself (stats, reset, config): authenticated, never counted or faulted.
INTERNAL_PREFIX = "_emulator"

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_ACCESS_DENIED = (
    "Access denied due to invalid subscription key. Make sure you are subscribed to an API you "
    "are trying to call and provide the right key."
)
_ERRORS: dict[str, tuple[int, str, str]] = {
    "401": (401, "Unspecified", _ACCESS_DENIED),
    "408": (408, "OperationTimeOut", "Request Timeout."),
    "409": (
        409,
        "ConcurrentOperationConflict",
        "Concurrent operation conflict on requested resource.",
    ),
    "500": (500, "InternalServerError", "An internal server error occurred."),
    "503": (503, "ServiceUnavailable", "The service is temporarily unavailable. Try again later."),
}
_LINGER_RESET = struct.pack("ii", 1, 0)
_CONTAINERS = (
    ("personGroupId", "persongroups"),
    ("largePersonGroupId", "largepersongroups"),
    ("faceListId", "facelists"),
    ("largeFaceListId", "largefacelists"),
)


def error_response(kind: str) -> web.Response:
    """The documented error answer for `kind` ("401", "408", "409", "500", "503")."""
    status, code, message = _ERRORS[kind]
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def rate_limit_response(retry_after: int, form: str = "status") -> web.Response:
    """A 429 saying to retry in `retry_after` seconds, in `form` ("status" or "gateway").

    "status": the documented body (`"statusCode": 429`) and a Retry-After header. "gateway":
    what the live service's API gateway sends, `{"error": {"code": "429", ...}}` with
    `Content-Type: application/json` and no Retry-After, the delay only in the message.
    """
    message = f"Rate limit is exceeded. Try again in {retry_after} seconds."
    if form == "gateway":
        body = json.dumps({"error": {"code": "429", "message": message}}, separators=(",", ":"))
        return web.Response(body=body.encode(), status=429, content_type="application/json")
    return web.json_response(
        {"error": {"statusCode": 429, "message": message}},
        status=429,
        headers={"Retry-After": str(retry_after)},
    )


@lru_cache(maxsize=512)
def _is_face_write(operation_id: str) -> bool:
    action = operation_id.rpartition("_")[2]
    return action.startswith("AddFace") or action == "DeleteFace"


def write_key(operation_id: str, match_info: Mapping[str, str]) -> str | None:
    """The resource an add/delete face call serializes on, e.g. "persongroups/g/persons/p".

    None for any other operation. Person groups serialize per person; face lists per list.
    """
    if not _is_face_write(operation_id):
        return None
    for parameter, segment in _CONTAINERS:
        container = match_info.get(parameter)
        if container is not None:
            person = match_info.get("personId")
            if person is None:
                return f"{segment}/{container.lower()}"
            return f"{segment}/{container.lower()}/persons/{person.lower()}"
    return None


def drop_connection(request: web.BaseRequest) -> None:
    """Close the client's connection at once with a TCP reset, sending nothing more."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # SO_LINGER 0 makes close() send RST: the client sees a reset, not a clean EOF.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    transport.abort()


async def _read_body(request: web.Request) -> None:
    # A client that gives up during a delay cancels the request payload; buffering the body
    # first lets the handler still run, as the real service does with a request it accepted.
    if request.can_read_body:
        await request.read()


class _Call(NamedTuple):
    name: str  # the route name, what the counters use
    operation_id: str  # the spec operationId, what globs and the person gate use


class _Bucket:
    __slots__ = ("limit", "tokens", "updated")

    def __init__(self, limit: RateLimit, now: float) -> None:
        self.limit = limit
        self.tokens = limit.capacity
        self.updated = now

    def take(self, now: float) -> float:
        """Take a token; 0.0 when granted, else the seconds until one is available."""
        limit = self.limit
        self.tokens = min(limit.capacity, self.tokens + (now - self.updated) * limit.tps)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / limit.tps


class Knobs:
    """Per-emulator runtime for the knobs: RNGs, token buckets, per-person gates."""

    def __init__(self, *, key: str, config: EmulatorConfig, stats: EmulatorStats) -> None:
        self.key = key
        self.config = config
        self.stats = stats
        self._key_bytes = key.encode()
        self._seeded_with: int | None = None
        self._fault_rng = random.Random()
        self._latency_rng = random.Random()
        self._fired: dict[Fault, int] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._busy: set[str] = set()
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._writes_running = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._rate_limited = 0  # 429s answered: "mix" alternates the forms on it

    def reset(self) -> None:
        """Forget fault hit counts, token buckets and RNG positions (re-seeded on next use)."""
        self._seeded_with = None
        self._fired.clear()
        self._buckets.clear()
        self._rate_limited = 0

    def _too_many(self, retry_after: int) -> web.Response:
        form = self.config.rate_limit_form
        if form == "mix":
            form = ("gateway", "status")[self._rate_limited % 2]
        self._rate_limited += 1
        return rate_limit_response(retry_after, form)

    async def cancel_running(self) -> None:
        """Cancel the requests still being processed and wait for them to end.

        A request whose client has gone (e.g. timed out during a slow fault) is no longer
        tracked by aiohttp's shutdown, so the emulator ends it here.
        """
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def gates_held(self) -> int:
        """Per-person (or face list) gates held right now: 0 once the writes are over."""
        return len(self._busy) + len(self._locks)

    def fired(self, fault: Fault) -> int:
        """How many times `fault` has fired since the last reset."""
        return self._fired.get(fault, 0)

    def authorized(self, request: web.BaseRequest) -> bool:
        supplied = request.headers.get(KEY_HEADER)
        return supplied is not None and hmac.compare_digest(supplied.encode(), self._key_bytes)

    @web.middleware
    async def middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        if (request.match_info.route.name or "").startswith(INTERNAL_PREFIX):
            if not self.authorized(request):
                return error_response("401")
            return await handler(request)
        stats = self.stats
        stats.request_started()
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            response = await self._process(request, handler)
        finally:
            self._tasks.discard(task)
            stats.request_finished()
        response.headers.setdefault("apim-request-id", str(uuid.uuid4()))
        return response

    async def _process(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        stats = self.stats
        if not self.authorized(request):
            stats.unauthorized += 1
            stats.responses[401] += 1
            return error_response("401")
        # Counters use the route name, so v1.2-preview.1 calls ("<operationId>:v1_2") stay
        # distinguishable; globs and the person gate use the spec operationId.
        found = await resolve(request)
        name = NOT_FOUND_ROUTE if found is None else found.name
        stats.requests[name] += 1
        call = _Call(name, operation_id_of(name))
        key = None if found is None else write_key(call.operation_id, found.params)
        if key is None:
            return await self._apply(request, handler, call, None)
        stats.write_started(key)
        try:
            return await self._apply(request, handler, call, key)
        finally:
            stats.write_finished(key)

    async def _apply(
        self, request: web.Request, handler: _Handler, call: _Call, key: str | None
    ) -> web.StreamResponse:
        stats = self.stats
        config = self.config
        if self._seeded_with != config.seed:
            self._reseed(config.seed)
        if config.rate_limit is not None:
            wait = self._take_token(config.rate_limit)
            if wait > 0.0:
                stats.rate_limited += 1
                return self._answer(self._too_many(max(1, math.ceil(wait))))
        fault = self._draw_fault(config, call.operation_id) if config.faults else None
        if fault is not None:
            stats.faults[fault.kind] += 1
            kind = fault.kind
            if kind == "429":
                return self._answer(self._too_many(1))
            if kind in ("500", "503", "408"):
                return self._answer(error_response(kind))
            if kind == "reset_before":
                drop_connection(request)
                return web.Response(status=500)  # never sent: the transport is gone
            if kind == "slow":
                await _read_body(request)
                await asyncio.sleep(config.slow_seconds)
        if key is None:
            response = await self._handle(request, handler, call)
        elif config.conflict_mode == "wait":
            response = await self._handle_waiting(request, handler, call, key)
        else:
            if key in self._busy:
                stats.conflicts += 1
                return self._answer(error_response("409"))
            self._busy.add(key)
            try:
                response = await self._handle_write(request, handler, call)
            finally:
                self._busy.discard(key)
        if fault is not None and fault.kind == "reset_after_commit":
            drop_connection(request)
            return response
        return self._answer(response)

    def _answer(self, response: web.StreamResponse) -> web.StreamResponse:
        self.stats.responses[response.status] += 1
        return response

    async def _handle_waiting(
        self, request: web.Request, handler: _Handler, call: _Call, key: str
    ) -> web.StreamResponse:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                return await self._handle_write(request, handler, call)
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def _handle_write(
        self, request: web.Request, handler: _Handler, call: _Call
    ) -> web.StreamResponse:
        self._writes_running += 1
        stats = self.stats
        stats.max_parallel_writes = max(stats.max_parallel_writes, self._writes_running)
        try:
            return await self._handle(request, handler, call)
        finally:
            self._writes_running -= 1

    async def _handle(
        self, request: web.Request, handler: _Handler, call: _Call
    ) -> web.StreamResponse:
        latency = self.config.latency_for(call.operation_id) if self.config.latency else None
        if latency is not None:
            delay = latency.sample(self._latency_rng)
            self.stats.delayed[call.name] += 1
            self.stats.delay_seconds += delay
            if delay > 0.0:
                await _read_body(request)
                await asyncio.sleep(delay)
        try:
            return await handler(request)
        except web.HTTPException as exc:
            # Raised answers (404 for unknown paths, 405, ...) are responses too.
            self.stats.responses[exc.status] += 1
            raise

    def _reseed(self, seed: int) -> None:
        self._fault_rng.seed(f"{seed}:faults")
        self._latency_rng.seed(f"{seed}:latency")
        self._seeded_with = seed

    def _take_token(self, limit: RateLimit) -> float:
        now = asyncio.get_running_loop().time()
        bucket = self._buckets.get(self.key)
        if bucket is None or bucket.limit is not limit:
            bucket = self._buckets[self.key] = _Bucket(limit, now)
        return bucket.take(now)

    def _draw_fault(self, config: EmulatorConfig, operation_id: str) -> Fault | None:
        for fault in config.faults:
            if fault.count is not None and self._fired.get(fault, 0) >= fault.count:
                continue
            if not glob_match(fault.operations, operation_id):
                continue
            if fault.probability <= 0.0:
                continue
            if fault.probability < 1.0 and self._fault_rng.random() >= fault.probability:
                continue
            self._fired[fault] = self._fired.get(fault, 0) + 1
            return fault
        return None

    def snapshot(self) -> dict[str, Any]:
        """The knob runtime as JSON (fault hit counts in rule order)."""
        return {"faults_fired": [self._fired.get(fault, 0) for fault in self.config.faults]}
