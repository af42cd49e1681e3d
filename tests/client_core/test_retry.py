"""Retries against the emulator's faults: what is retried, what is not, and how long we wait."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import aiohttp
import pytest
from aiohttp import web

from face_async._client import AsyncFaceClient
from face_async._errors import (
    FaceConnectionError,
    FaceTimeoutError,
    OutcomeUnknownError,
    RateLimited,
    ServerError,
)
from face_async._http._operations import Operation
from face_async._http._policy import RetryPolicy
from face_async.emulator import Emulator, Fault, Latency, RateLimit, make_face_image

GET_GROUP = Operation("PersonGroup_Get", "GET", "/persongroups/{personGroupId}", True)
CREATE_GROUP = Operation("PersonGroup_Create", "PUT", "/persongroups/{personGroupId}", True)
CREATE_PERSON = Operation(
    "PersonGroupPerson_Create", "POST", "/persongroups/{personGroupId}/persons", False
)
ADD_FACE = Operation(
    "PersonGroupPerson_AddFaceFromStream",
    "POST",
    "/persongroups/{personGroupId}/persons/{personId}/persistedfaces",
    False,
)
FAST = RetryPolicy(max_tries=4, initial_delay=0.01, max_delay=0.02)


async def _client_with_group(emu: Emulator, retry: RetryPolicy = FAST) -> AsyncFaceClient:
    client = await AsyncFaceClient(emu.url, key=emu.key, retry=retry).open()
    await client.transport.call(client.endpoint, CREATE_GROUP, ("g",), json={"name": "G"})
    return client


# --- idempotent operations are retried -------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "503", "408", "reset_before", "reset_after_commit"])
async def test_idempotent_read_is_retried(emulator: Emulator, kind: str) -> None:
    client = await _client_with_group(emulator)
    try:
        emulator.config.faults = [Fault(kind, operations="PersonGroup_Get", count=2)]
        group = await client.transport.call(client.endpoint, GET_GROUP, ("g",))
        assert isinstance(group, dict)
        assert group["personGroupId"] == "g"
        assert emulator.stats.requests["PersonGroup_Get"] == 3
        # aiohttp itself re-sends an idempotent method once when a pooled connection drops,
        # so a reset may cost one of our retries less.
        if kind.startswith("reset"):
            assert 1 <= client.stats.retries <= 2
        else:
            assert client.stats.retries == 2
    finally:
        await client.aclose()


async def test_idempotent_put_is_retried_after_408(emulator: Emulator) -> None:
    emulator.config.faults = [Fault("408", operations="PersonGroup_Create", count=1)]
    async with AsyncFaceClient(emulator.url, key=emulator.key, retry=FAST) as client:
        await client.transport.call(client.endpoint, CREATE_GROUP, ("g",), json={"name": "G"})
        assert client.stats.by_status[408] == 1
        assert client.stats.retries == 1
    assert emulator.stats.requests["PersonGroup_Create"] == 2
    assert emulator.stats.responses[200] == 1


async def test_retries_stop_at_max_tries(emulator: Emulator) -> None:
    client = await _client_with_group(emulator)
    try:
        emulator.config.faults = [Fault("503", operations="PersonGroup_Get")]
        with pytest.raises(ServerError) as info:
            await client.transport.call(client.endpoint, GET_GROUP, ("g",))
        assert info.value.status == 503
        assert info.value.request_id  # the emulator sends apim-request-id
        assert emulator.stats.requests["PersonGroup_Get"] == FAST.max_tries
        assert client.stats.server_errors == FAST.max_tries
    finally:
        await client.aclose()


# --- non-idempotent operations are never re-sent after an ambiguous failure ------------------


@pytest.mark.parametrize(
    ("kind", "status", "cause", "committed"),
    [
        ("500", 500, ServerError, False),
        ("503", 503, ServerError, False),
        ("408", 408, Exception, False),
        ("reset_after_commit", None, FaceConnectionError, True),
        ("reset_before", None, FaceConnectionError, False),
    ],
)
async def test_non_idempotent_write_raises_outcome_unknown(
    emulator: Emulator, kind: str, status: int | None, cause: type[Exception], committed: bool
) -> None:
    client = await _client_with_group(emulator)
    try:
        emulator.config.faults = [Fault(kind, operations="PersonGroupPerson_Create", count=1)]
        with pytest.raises(OutcomeUnknownError) as info:
            await client.transport.call(client.endpoint, CREATE_PERSON, ("g",), json={"name": "p"})
        error = info.value
        assert error.operation_id == "PersonGroupPerson_Create"
        assert error.status == status
        assert isinstance(error.cause, cause)
        assert error.__cause__ is error.cause
        assert emulator.stats.requests["PersonGroupPerson_Create"] == 1  # not re-sent
        assert client.stats.retries == 0
        assert client.stats.outcome_unknown == 1
        # reset_after_commit: the write applied although the client never saw an answer.
        assert len(emulator.state.person_groups["g"].persons) == (1 if committed else 0)
    finally:
        await client.aclose()


async def test_non_idempotent_add_face_after_500_is_not_duplicated(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="face_async")
    client = await _client_with_group(emulator)
    try:
        person = await client.transport.call(
            client.endpoint, CREATE_PERSON, ("g",), json={"name": "p"}
        )
        assert isinstance(person, dict)
        emulator.config.faults = [Fault("500", operations="*AddFace*", count=1)]
        with pytest.raises(OutcomeUnknownError):
            await client.transport.call(
                client.endpoint, ADD_FACE, ("g", person["personId"]), data=make_face_image("a")
            )
        assert emulator.stats.requests["PersonGroupPerson_AddFaceFromStream"] == 1
        warnings = [r.getMessage() for r in caplog.records if r.name == "face_async"]
        assert any(
            "PersonGroupPerson_AddFaceFromStream: outcome unknown after HTTP 500" in w
            for w in warnings
        )
    finally:
        await client.aclose()


def _bound_socket() -> socket.socket:
    """A socket bound to a free loopback port but not listening: connects are refused (RST)
    until it is handed to a server, so no other process can take the port in between."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


class _RetrySignal(logging.Handler):
    """Sets an event when the client logs its first retry (it logs before it sleeps)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.event = asyncio.Event()
        self.logger = logging.getLogger("face_async")
        self._old_level = self.logger.level

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("retrying"):
            self.event.set()

    def __enter__(self) -> asyncio.Event:
        self.logger.addHandler(self)
        self.logger.setLevel(logging.INFO)
        return self.event

    def __exit__(self, *exc_info: object) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self._old_level)


async def test_connect_error_before_send_is_retried_for_a_non_idempotent_write() -> None:
    sock = _bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    retry = RetryPolicy(max_tries=200, initial_delay=0.02, max_delay=0.02)
    emu = Emulator(key="k")  # its app is served below on the socket bound above
    runner = web.AppRunner(emu.app, handle_signals=False, access_log=None)
    try:
        with _RetrySignal() as first_retry:
            async with AsyncFaceClient(url, key="k", retry=retry) as client:
                call = asyncio.create_task(
                    client.transport.call(
                        client.endpoint, CREATE_PERSON, ("g",), json={"name": "p"}
                    )
                )
                await first_retry.wait()  # the first attempt was refused: nothing was sent
                await runner.setup()
                await web.SockSite(runner, sock).start()  # listens on the same socket
                async with AsyncFaceClient(url, key="k") as setup:
                    await setup.transport.call(
                        setup.endpoint, CREATE_GROUP, ("g",), json={"name": "G"}
                    )
                person = await call
                assert isinstance(person, dict)
                assert "personId" in person
                assert client.stats.connection_errors >= 1
                assert client.stats.outcome_unknown == 0
                assert emu.stats.requests["PersonGroupPerson_Create"] == 1
    finally:
        await runner.cleanup()
        sock.close()


# --- 409 and 429 are retried for every operation ---------------------------------------------


async def test_concurrent_operation_conflict_is_retried_for_writes(emulator: Emulator) -> None:
    retry = RetryPolicy(max_tries=30, initial_delay=0.01, max_delay=0.05)
    client = await _client_with_group(emulator, retry)
    try:
        person = await client.transport.call(
            client.endpoint, CREATE_PERSON, ("g",), json={"name": "p"}
        )
        assert isinstance(person, dict)
        emulator.config.latency = {"*AddFace*": Latency.fixed(0.05)}
        image = make_face_image("a")
        faces = await asyncio.gather(
            *(
                client.transport.call(
                    client.endpoint, ADD_FACE, ("g", person["personId"]), data=image
                )
                for _ in range(3)
            )
        )
        assert len({f["persistedFaceId"] for f in faces}) == 3  # type: ignore[index]
        assert emulator.stats.conflicts >= 1
        assert client.stats.by_status[409] == emulator.stats.conflicts
        assert client.stats.retries == emulator.stats.conflicts
    finally:
        await client.aclose()


async def test_429_waits_retry_after_and_pauses_every_worker(emulator: Emulator) -> None:
    client = await _client_with_group(emulator)
    try:
        emulator.config.faults = [Fault("429", operations="PersonGroup_Get", count=1)]
        started = time.monotonic()
        with _RetrySignal() as retrying:
            first = asyncio.create_task(client.transport.call(client.endpoint, GET_GROUP, ("g",)))
            await retrying.wait()  # the 429 has been seen; the fault is spent
        assert client.stats.rate_limited == 1
        assert client.endpoint.gate.pauses == 1
        others = [
            asyncio.create_task(client.transport.call(client.endpoint, GET_GROUP, ("g",)))
            for _ in range(3)
        ]
        done_at: list[float] = []
        for task in [first, *others]:
            await task
            done_at.append(time.monotonic() - started)
        # Retry-After: 1 -> nobody got through before a second had passed, without jitter.
        assert min(done_at) >= 0.95
        assert max(done_at) < 3.0
        assert emulator.stats.responses[429] == 1
        assert emulator.stats.requests["PersonGroup_Get"] == 5
        assert client.stats.rate_limited == 1
        assert client.stats.retries == 1
    finally:
        await client.aclose()


async def test_service_rate_limit_pauses_the_gate_and_every_call_succeeds(
    emulator: Emulator,
) -> None:
    retry = RetryPolicy(max_tries=5, initial_delay=0.01, max_delay=0.02)
    client = await _client_with_group(emulator, retry)
    try:
        emulator.config.rate_limit = RateLimit(tps=4, burst=2)
        results = await asyncio.gather(
            *(client.transport.call(client.endpoint, GET_GROUP, ("g",)) for _ in range(6))
        )
        assert all(isinstance(r, dict) for r in results)
        assert emulator.stats.rate_limited >= 1
        assert client.stats.rate_limited == emulator.stats.rate_limited
        assert client.endpoint.gate.pauses >= 1
        # Paused together: far fewer 429s than a blind per-worker retry storm would cause.
        assert client.stats.rate_limited <= 6
    finally:
        await client.aclose()


async def test_retry_after_above_the_cap_raises_at_once(emulator: Emulator) -> None:
    retry = RetryPolicy(max_tries=5, initial_delay=0.01, max_delay=0.02, max_server_delay=0.5)
    client = await _client_with_group(emulator, retry)
    try:
        emulator.config.faults = [Fault("429", operations="PersonGroupPerson_Create")]
        started = time.monotonic()
        with pytest.raises(RateLimited) as info:
            await client.transport.call(client.endpoint, CREATE_PERSON, ("g",), json={"name": "p"})
        assert time.monotonic() - started < 0.9  # did not sleep the 1 s Retry-After
        assert info.value.retry_after == 1.0
        assert info.value.status == 429
        assert emulator.stats.requests["PersonGroupPerson_Create"] == 1
        assert client.endpoint.gate.pauses == 0
    finally:
        await client.aclose()


async def test_client_side_tps_keeps_under_the_service_limit(emulator: Emulator) -> None:
    emulator.config.rate_limit = RateLimit(tps=6, burst=5)
    async with AsyncFaceClient(emulator.url, key=emulator.key, tps=5, retry=FAST) as client:
        await client.transport.call(client.endpoint, CREATE_GROUP, ("g",), json={"name": "G"})
        started = time.monotonic()
        await asyncio.gather(
            *(client.transport.call(client.endpoint, GET_GROUP, ("g",)) for _ in range(7))
        )
        elapsed = time.monotonic() - started
    # The create and three reads leave at once (the gate starts with a second's worth less
    # one call), then 5 per second with up to 50 ms made up for lateness: the last of the
    # other four reads leaves >= 0.75 s later.
    assert elapsed >= 0.75
    assert emulator.stats.rate_limited == 0
    assert client.stats.rate_limited == 0


# --- timeouts --------------------------------------------------------------------------------


async def test_per_call_timeout(emulator: Emulator) -> None:
    emulator.config.slow_seconds = 5.0
    client = await _client_with_group(emulator, RetryPolicy.never())
    try:
        emulator.config.faults = [Fault("slow", operations="PersonGroup_Get", count=1)]
        started = time.monotonic()
        with pytest.raises(FaceTimeoutError) as info:
            await client.transport.call(client.endpoint, GET_GROUP, ("g",), timeout=0.2)
        assert time.monotonic() - started < 2.0
        assert info.value.request_sent is True
        assert isinstance(info.value, TimeoutError)
        assert client.stats.timeouts == 1
    finally:
        await client.aclose()


async def test_timeout_is_retried_for_reads_and_ambiguous_for_writes(emulator: Emulator) -> None:
    emulator.config.slow_seconds = 5.0
    client = await _client_with_group(emulator)
    try:
        emulator.config.faults = [Fault("slow", operations="PersonGroup_Get", count=1)]
        group = await client.transport.call(client.endpoint, GET_GROUP, ("g",), timeout=0.2)
        assert isinstance(group, dict)
        assert emulator.stats.requests["PersonGroup_Get"] == 2
        emulator.config.faults = [Fault("slow", operations="PersonGroupPerson_Create", count=1)]
        with pytest.raises(OutcomeUnknownError) as info:
            await client.transport.call(
                client.endpoint, CREATE_PERSON, ("g",), json={"name": "p"}, timeout=0.2
            )
        assert isinstance(info.value.cause, FaceTimeoutError)
        assert emulator.stats.requests["PersonGroupPerson_Create"] == 1
    finally:
        await client.aclose()


async def test_waiting_for_a_pool_slot_spends_no_timeout(emulator: Emulator) -> None:
    # One connection, held by a slow read: a write queued behind it waits in the gate, where
    # no timeout runs, and goes out once the slot is free: never a "not sent" timeout, never
    # OutcomeUnknownError, and sent exactly once.
    emulator.config.latency = {"PersonGroup_Get": Latency.fixed(0.5)}
    async with AsyncFaceClient(
        emulator.url, key=emulator.key, max_connections=1, retry=RetryPolicy.never()
    ) as client:
        await client.transport.call(client.endpoint, CREATE_GROUP, ("g",), json={"name": "G"})
        slow = asyncio.create_task(client.transport.call(client.endpoint, GET_GROUP, ("g",)))
        await emulator.stats.wait_for(lambda stats: stats.in_flight == 1)
        person = await client.transport.call(
            client.endpoint, CREATE_PERSON, ("g",), json={"name": "p"}, timeout=0.3
        )
        assert isinstance(person, dict)
        await slow
        assert client.stats.timeouts == 0
        assert client.stats.outcome_unknown == 0
        assert emulator.stats.requests["PersonGroupPerson_Create"] == 1
        assert emulator.stats.requests["PersonGroup_Get"] == 1


async def test_connect_timeout_is_not_sent_and_retried() -> None:
    # A listener that never accepts: the TCP connect hangs (backlog full), so the attempt
    # ends in aiohttp's ConnectionTimeoutError within sock_connect: "not sent".
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):  # fill the accept backlog so further SYNs go unanswered
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            timeout = aiohttp.ClientTimeout(total=5.0, sock_connect=0.2)
            async with AsyncFaceClient(
                f"http://127.0.0.1:{port}", key="k", retry=RetryPolicy.never(), timeout=timeout
            ) as client:
                with pytest.raises((FaceTimeoutError, FaceConnectionError)) as info:
                    await client.transport.call(
                        client.endpoint, CREATE_PERSON, ("g",), json={"name": "p"}
                    )
                assert info.value.request_sent is False
                assert client.stats.outcome_unknown == 0
        finally:
            for filler in fillers:
                filler.close()


def test_client_timeout_is_validated_and_gets_a_connect_bound() -> None:
    from face_async._errors import FaceValidationError
    from face_async._http._transport import CONNECT_TIMEOUT, to_client_timeout

    for total in (0.15, 4.0, 30.0, 600.0):
        for given in (total, aiohttp.ClientTimeout(total=total)):
            derived = to_client_timeout(given)
            assert derived.total == total
            assert derived.sock_connect == min(CONNECT_TIMEOUT, total / 2)
    kept = aiohttp.ClientTimeout(total=3.0, connect=1.0, sock_connect=0.5, sock_read=2.0)
    assert to_client_timeout(kept) is kept
    for bad in (0, -1, float("nan"), float("inf"), True, "3"):
        with pytest.raises(FaceValidationError):
            to_client_timeout(bad)
    with pytest.raises(FaceValidationError):
        to_client_timeout(aiohttp.ClientTimeout(total=5.0, sock_read=-1))


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
async def test_a_bad_per_call_timeout_is_refused_before_sending(
    emulator: Emulator, bad: float
) -> None:
    from face_async._errors import FaceValidationError

    async with AsyncFaceClient(emulator.url, key=emulator.key) as client:
        with pytest.raises(FaceValidationError):
            await client.person_groups.get("g", timeout=bad)
    assert sum(emulator.stats.requests.values()) == 0


async def test_cancellation_is_never_swallowed_or_retried(emulator: Emulator) -> None:
    emulator.config.slow_seconds = 5.0
    sent = asyncio.Event()

    async def on_headers_sent(*_: object) -> None:
        sent.set()

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(on_headers_sent)
    async with (
        aiohttp.ClientSession(trace_configs=[trace]) as session,
        AsyncFaceClient(emulator.url, key=emulator.key, session=session, retry=FAST) as client,
    ):
        await client.transport.call(client.endpoint, CREATE_GROUP, ("g",), json={"name": "G"})
        emulator.config.faults = [Fault("slow", operations="PersonGroup_Get", count=1)]
        sent.clear()
        task = asyncio.create_task(client.transport.call(client.endpoint, GET_GROUP, ("g",)))
        await sent.wait()  # the request is on the wire
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client.stats.retries == 0
        assert client.stats.requests == 2
        group = await client.transport.call(client.endpoint, GET_GROUP, ("g",))
        assert isinstance(group, dict)  # the client is still usable


async def test_each_retry_is_logged_with_operation_status_and_request_id(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="face_async")
    client = await _client_with_group(emulator)
    try:
        emulator.config.faults = [Fault("503", operations="PersonGroup_Get", count=1)]
        await client.transport.call(client.endpoint, GET_GROUP, ("g",))
    finally:
        await client.aclose()
    retries = [r for r in caplog.records if r.getMessage().startswith("retrying")]
    assert len(retries) == 1
    message = retries[0].getMessage()
    assert retries[0].levelno == logging.WARNING
    assert "PersonGroup_Get" in message
    assert "ServerError 503" in message
    assert "attempt 1" in message
    assert "request id None" not in message  # the emulator's apim-request-id is reported


async def test_429_is_retried_for_a_non_idempotent_write(emulator: Emulator) -> None:
    client = await _client_with_group(emulator)
    try:
        emulator.config.faults = [Fault("429", operations="PersonGroupPerson_Create", count=1)]
        person = await client.transport.call(
            client.endpoint, CREATE_PERSON, ("g",), json={"name": "p"}
        )
        assert isinstance(person, dict)
        assert emulator.stats.requests["PersonGroupPerson_Create"] == 2
        assert len(emulator.state.person_groups["g"].persons) == 1
        assert client.stats.outcome_unknown == 0
    finally:
        await client.aclose()
