"""The request path under pressure: a 429 mid-queue, 200 looping callers, odd inputs."""

from __future__ import annotations

import asyncio
import statistics
import traceback
from typing import Any

import pytest
from aiohttp import web

import face_async._converter as converter_module
from face_async import AsyncFaceClient
from face_async._errors import ResponseError
from face_async._http._policy import RetryPolicy
from face_async.emulator import Emulator, Latency

KEY = "S3CR3T-key-of-the-stub-0123456789"
GROUP = {"personGroupId": "g", "name": "G", "recognitionModel": "recognition_04"}
FAST = RetryPolicy(max_tries=3, initial_delay=0.01, max_delay=0.02)


async def test_a_429_pause_holds_callers_already_queued(
    stub: tuple[str, dict[str, object]],
) -> None:
    # tps=5, 12 callers: four go at once (the start credit, a second's worth less one), then
    # one every 0.2 s; the rest queue for their turn. The service answers the third request,
    # after 50 ms, with the gateway's 429 (no Retry-After; the
    # delay is in the message). From that answer until the pause ends, not one request may
    # arrive, though nine callers were already queued.
    url, state = stub
    loop = asyncio.get_running_loop()
    arrivals: list[float] = []
    limited_at: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        arrivals.append(loop.time())
        index = len(arrivals)
        await asyncio.sleep(0.05)  # the service's latency
        if index == 3:
            limited_at.append(loop.time())
            message = "Rate limit is exceeded. Try again in 1 seconds."
            return web.json_response({"error": {"code": "429", "message": message}}, status=429)
        return web.json_response(GROUP)

    state["handler"] = handler
    async with AsyncFaceClient(url, key=KEY, tps=5, retry=FAST) as client:
        groups = await asyncio.gather(*(client.person_groups.get("g") for _ in range(12)))
        assert all(group.person_group_id == "g" for group in groups)
        assert client.stats.rate_limited == 1
        assert client.endpoint.gate.pauses == 1
    [answered] = limited_at
    during = [t for t in arrivals if answered < t < answered + 0.99]
    assert during == []
    assert len(arrivals) == 13  # 12 calls, one of them sent twice
    assert sum(1 for t in arrivals if t < answered) == 4  # only the start credit's


async def test_two_hundred_looping_callers_are_served_fairly(emulator: Emulator) -> None:
    # aiohttp's connector is not fair: busy tasks re-took released connections and 136 of
    # 200 tasks finished one call in 60 s. Through the gate, every task is served in turn.
    emulator.config.latency = {"PersonGroup_Get": Latency.fixed(0.02)}
    async with AsyncFaceClient(emulator.url, key=emulator.key) as client:
        await client.person_groups.create("g", name="G")
        loop = asyncio.get_running_loop()
        stop_at = loop.time() + 3.0
        waits: list[float] = []
        done_per_task = [0] * 200

        async def loop_calls(index: int) -> None:
            while loop.time() < stop_at:
                started = loop.time()
                await client.person_groups.get("g")
                waits.append(loop.time() - started)
                done_per_task[index] += 1

        await asyncio.gather(*(loop_calls(i) for i in range(200)))
        assert client.stats.timeouts == 0  # no connect timeout spent waiting for the pool
        assert client.stats.retries == 0
    assert min(done_per_task) >= 2
    assert max(done_per_task) <= 2 * min(done_per_task) + 1
    assert max(waits) <= 4 * statistics.mean(waits)
    assert emulator.stats.max_in_flight <= 64  # the default per-host pool size


async def test_paging_that_does_not_advance_is_a_response_error(
    stub: tuple[str, dict[str, object]],
) -> None:
    url, state = stub
    page = [{"personId": f"00000000-0000-4000-8000-00000000000{i}", "name": "p"} for i in range(2)]
    seen: list[str | None] = []

    async def ignores_start(request: web.Request) -> web.Response:
        seen.append(request.query.get("start"))
        return web.json_response(page)  # the same full page, whatever the cursor

    state["handler"] = ignores_start
    async with AsyncFaceClient(url, key=KEY) as client:
        items: list[Any] = []

        async def drain() -> None:
            async for person in client.person_group_persons.iter("g", page_size=2):
                items.append(person)

        with pytest.raises(ResponseError) as info:
            await drain()
    assert len(items) == 4
    assert len(seen) == 2
    assert "did not advance" in str(info.value)


async def test_a_full_page_ending_in_an_empty_id_stops(
    stub: tuple[str, dict[str, object]],
) -> None:
    url, state = stub

    async def empty_last_id(request: web.Request) -> web.Response:
        return web.json_response(
            [{"personGroupId": "a", "name": "A"}, {"personGroupId": "", "name": "B"}]
        )

    state["handler"] = empty_last_id
    async with AsyncFaceClient(url, key=KEY) as client:

        async def drain() -> None:
            async for _ in client.person_groups.iter(page_size=2):
                pass

        with pytest.raises(ResponseError):
            await drain()


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"personGroupId": "g", "name": "G", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
    ids=["deep-array", "deep-field"],
)
async def test_deeply_nested_body_without_orjson_is_a_response_error(
    stub: tuple[str, dict[str, object]], monkeypatch: pytest.MonkeyPatch, body: bytes
) -> None:
    monkeypatch.setattr(converter_module, "orjson", None)  # the core install's decoder
    url, state = stub

    async def nested(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    state["handler"] = nested
    async with AsyncFaceClient(url, key=KEY, retry=FAST) as client:
        with pytest.raises(ResponseError) as info:
            await client.person_groups.get("g")
    assert info.value.status == 200


async def test_huge_integer_in_a_float_field_without_orjson_is_a_response_error(
    stub: tuple[str, dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(converter_module, "orjson", None)
    url, state = stub
    huge = b"1" + b"0" * 400

    async def overflow(request: web.Request) -> web.Response:
        body = b'{"isIdentical": true, "confidence": ' + huge + b"}"
        return web.Response(body=body, content_type="application/json")

    state["handler"] = overflow
    async with AsyncFaceClient(url, key=KEY, retry=FAST) as client:
        with pytest.raises(ResponseError) as info:
            await client.face.verify_face_to_face(
                "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
            )
    assert "confidence" in str(info.value) or "Overflow" in str(info.value)


async def test_an_echoed_bearer_token_is_blanked_everywhere(
    stub: tuple[str, dict[str, object]],
) -> None:
    url, state = stub
    token = "eyJ0eXAiOi.secret-token-payload.sig"

    async def echo(request: web.Request) -> web.Response:
        sent = request.headers["Authorization"]
        if request.method == "GET" and request.path.endswith("/g"):
            body = {"error": {"code": "Unauthorized", "message": f"bad token {sent}"}}
            return web.json_response(body, status=401)
        return web.json_response({"personGroupId": 7, "echo": sent})

    async def provider() -> str:
        return token

    state["handler"] = echo
    async with AsyncFaceClient(url, token_provider=provider, retry=FAST) as client:
        errors: list[BaseException] = []
        for call in (client.person_groups.get("g"), client.person_groups.get("h")):
            try:
                await call
            except Exception as exc:
                errors.append(exc)
    assert len(errors) == 2
    for error in errors:
        rendered = "".join(traceback.format_exception(error))
        assert token not in rendered
        assert token not in repr(error)
        assert "***" in str(error)


async def test_errors_render_with_captured_locals(
    stub: tuple[str, dict[str, object]],
) -> None:
    # The converter builds models without their __init__; a half-built one must not break
    # a traceback that renders every frame's locals.
    url, state = stub

    async def half(request: web.Request) -> web.Response:
        return web.json_response(
            [{"faceId": "00000000-0000-4000-8000-000000000001", "faceRectangle": {"top": "x"}}]
        )

    state["handler"] = half
    async with AsyncFaceClient(url, key=KEY, retry=FAST) as client:
        with pytest.raises(ResponseError) as info:
            await client.face.detect(b"\xff\xd8\xff" + b"0" * 2000)
    rendered = "".join(
        traceback.TracebackException.from_exception(info.value, capture_locals=True).format()
    )
    assert "ResponseError" in rendered
