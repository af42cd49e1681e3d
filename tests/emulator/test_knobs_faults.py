"""Fault injection: each kind fires as configured, is counted, and leaves an exact state."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from face_async.emulator import Emulator, Fault, make_face_image

KEY = "test-key"
ADD_FACE = "PersonGroupPerson_AddFaceFromStream"


def auth() -> dict[str, str]:
    return {"Ocp-Apim-Subscription-Key": KEY}


async def make_person(session: aiohttp.ClientSession, emu: Emulator, group: str = "g1") -> str:
    base = f"{emu.url}/face/v1.0/persongroups/{group}"
    async with session.put(base, json={"name": group}, headers=auth()) as resp:
        assert resp.status == 200
    async with session.post(f"{base}/persons", json={"name": "ann"}, headers=auth()) as resp:
        assert resp.status == 200
        person_id: str = (await resp.json())["personId"]
    return person_id


def add_face_url(emu: Emulator, person_id: str, group: str = "g1") -> str:
    return f"{emu.url}/face/v1.0/persongroups/{group}/persons/{person_id}/persistedfaces"


def faces_of(emu: Emulator, person_id: str, group: str = "g1") -> int:
    return len(emu.state.person_groups[group].persons[person_id].faces)


IMAGE_HEADERS = {**auth(), "Content-Type": "application/octet-stream"}


@pytest.mark.parametrize(
    ("kind", "code"),
    [("500", "InternalServerError"), ("503", "ServiceUnavailable"), ("408", "OperationTimeOut")],
)
async def test_error_faults_answer_without_writing(
    emulator: Emulator, kind: str, code: str
) -> None:
    emulator.config.faults = [Fault(kind, operations="*AddFace*", count=2)]
    image = make_face_image("ann")
    async with aiohttp.ClientSession() as session:
        person_id = await make_person(session, emulator)
        statuses = []
        for _ in range(3):
            async with session.post(
                add_face_url(emulator, person_id), data=image, headers=IMAGE_HEADERS
            ) as resp:
                statuses.append(resp.status)
                body = await resp.json()
        # The first two calls hit the fault, the third is handled: count=2 is a hard cap.
        assert statuses == [int(kind), int(kind), 200]
        assert "persistedFaceId" in body
    assert emulator.stats.faults == {kind: 2}
    assert emulator.stats.requests[ADD_FACE] == 3
    assert emulator.stats.responses[int(kind)] == 2
    assert faces_of(emulator, person_id) == 1


async def test_error_fault_body_is_documented(emulator: Emulator) -> None:
    emulator.config.faults = [Fault("408", operations="PersonGroup_List")]
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{emulator.url}/face/v1.0/persongroups", headers=auth()) as resp,
    ):
        assert resp.status == 408
        assert await resp.json() == {
            "error": {"code": "OperationTimeOut", "message": "Request Timeout."}
        }


async def test_injected_429_has_retry_after_and_documented_body(emulator: Emulator) -> None:
    emulator.config.rate_limit_form = "status"
    emulator.config.faults = [Fault("429", operations=ADD_FACE, count=1)]
    async with aiohttp.ClientSession() as session:
        person_id = await make_person(session, emulator)
        async with session.post(
            add_face_url(emulator, person_id), data=make_face_image("ann"), headers=IMAGE_HEADERS
        ) as resp:
            assert resp.status == 429
            assert resp.headers["Retry-After"] == "1"
            assert await resp.json() == {
                "error": {
                    "statusCode": 429,
                    "message": "Rate limit is exceeded. Try again in 1 seconds.",
                }
            }
    assert emulator.stats.faults == {"429": 1}
    assert emulator.stats.rate_limited == 0  # injected, not from the rate limit
    assert faces_of(emulator, person_id) == 0


async def test_injected_429s_alternate_the_two_forms_by_default(emulator: Emulator) -> None:
    emulator.config.faults = [Fault("429", operations=ADD_FACE, count=3)]
    answers = []
    async with aiohttp.ClientSession() as session:
        person_id = await make_person(session, emulator)
        for _ in range(3):
            async with session.post(
                add_face_url(emulator, person_id),
                data=make_face_image("ann"),
                headers=IMAGE_HEADERS,
            ) as resp:
                answers.append((resp.status, "Retry-After" in resp.headers, set(
                    (await resp.json())["error"]
                )))  # fmt: skip
    assert answers == [
        (429, False, {"code", "message"}),
        (429, True, {"statusCode", "message"}),
        (429, False, {"code", "message"}),
    ]


async def test_operation_glob_only_hits_matching_operations(emulator: Emulator) -> None:
    emulator.config.faults = [Fault("500", operations="*AddFace*")]
    async with aiohttp.ClientSession() as session:
        person_id = await make_person(session, emulator)  # create calls are not faulted
        async with session.get(f"{emulator.url}/face/v1.0/persongroups", headers=auth()) as resp:
            assert resp.status == 200
        async with session.post(
            add_face_url(emulator, person_id), data=make_face_image("a"), headers=IMAGE_HEADERS
        ) as resp:
            assert resp.status == 500
    assert emulator.stats.faults == {"500": 1}


async def test_reset_before_drops_the_connection_and_writes_nothing(emulator: Emulator) -> None:
    emulator.config.faults = [Fault("reset_before", operations="*AddFace*", count=1)]
    async with aiohttp.ClientSession() as session:
        person_id = await make_person(session, emulator)
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.post(
                add_face_url(emulator, person_id), data=make_face_image("a"), headers=IMAGE_HEADERS
            ) as resp:
                await resp.read()
        assert faces_of(emulator, person_id) == 0
        async with session.post(
            add_face_url(emulator, person_id), data=make_face_image("a"), headers=IMAGE_HEADERS
        ) as resp:
            assert resp.status == 200
    assert emulator.stats.faults == {"reset_before": 1}
    assert emulator.stats.requests[ADD_FACE] == 2
    assert emulator.stats.responses == {200: 3}  # create group, create person, the 2nd add
    assert faces_of(emulator, person_id) == 1


async def test_reset_after_commit_drops_the_connection_after_the_write(
    emulator: Emulator,
) -> None:
    emulator.config.faults = [Fault("reset_after_commit", operations="*AddFace*", count=1)]
    async with aiohttp.ClientSession() as session:
        person_id = await make_person(session, emulator)
        with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)) as caught:
            async with session.post(
                add_face_url(emulator, person_id), data=make_face_image("a"), headers=IMAGE_HEADERS
            ) as resp:
                await resp.read()
        assert isinstance(caught.value, aiohttp.ClientConnectionError)
    # The client saw no answer, yet the face IS stored: the ambiguous case.
    assert faces_of(emulator, person_id) == 1
    assert emulator.stats.faults == {"reset_after_commit": 1}
    assert emulator.stats.responses == {200: 2}  # only the two creates were answered
    assert emulator.stats.completed == 3


async def test_aiohttp_resends_an_idempotent_call_once_after_a_reset(
    emulator: Emulator,
) -> None:
    # Worth knowing for client code: aiohttp itself re-sends GET/PUT/DELETE once when a
    # pooled connection is dropped, so only the emulator's counters reveal the first attempt.
    emulator.config.faults = [Fault("reset_after_commit", operations="PersonGroup_Get", count=1)]
    async with aiohttp.ClientSession() as session:
        await make_person(session, emulator)
        async with session.get(f"{emulator.url}/face/v1.0/persongroups/g1", headers=auth()) as r:
            assert r.status == 200
            assert (await r.json())["personGroupId"] == "g1"
    assert emulator.stats.requests["PersonGroup_Get"] == 2
    assert emulator.stats.faults == {"reset_after_commit": 1}
    assert emulator.stats.responses == {200: 3}


async def test_slow_outlasts_the_client_timeout_then_commits(emulator: Emulator) -> None:
    emulator.config.slow_seconds = 0.6
    emulator.config.faults = [Fault("slow", operations="*AddFace*", count=1)]
    async with aiohttp.ClientSession() as session:
        person_id = await make_person(session, emulator)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(asyncio.TimeoutError):
            async with session.post(
                add_face_url(emulator, person_id),
                data=make_face_image("a"),
                headers=IMAGE_HEADERS,
                timeout=aiohttp.ClientTimeout(total=0.2),
            ) as resp:
                await resp.read()
        assert loop.time() - started < 0.6
        assert faces_of(emulator, person_id) == 0  # not yet: the server is still waiting
        # The server keeps the request it accepted and stores the face after the delay.
        await emulator.stats.wait_for(lambda s: s.completed == 3, timeout=10)
    assert loop.time() - started >= 0.6
    assert faces_of(emulator, person_id) == 1
    assert emulator.stats.faults == {"slow": 1}


async def test_probability_zero_never_fires_and_one_always_fires(emulator: Emulator) -> None:
    never = Fault("500", probability=0.0, operations="PersonGroup_List")
    always = Fault("503", probability=1.0, operations="PersonGroup_List", count=4)
    emulator.config.faults = [never, always]
    async with aiohttp.ClientSession() as session:
        statuses = []
        for _ in range(6):
            async with session.get(
                f"{emulator.url}/face/v1.0/persongroups", headers=auth()
            ) as resp:
                statuses.append(resp.status)
    assert statuses == [503, 503, 503, 503, 200, 200]
    assert emulator.knobs.fired(never) == 0
    assert emulator.knobs.fired(always) == 4


async def test_seeded_faults_repeat_exactly(emulator: Emulator) -> None:
    async def pattern(seed: int) -> list[int]:
        emulator.reset()
        emulator.config.seed = seed
        emulator.config.faults = [Fault("500", probability=0.5, operations="PersonGroup_List")]
        statuses = []
        async with aiohttp.ClientSession() as session:
            for _ in range(24):
                async with session.get(
                    f"{emulator.url}/face/v1.0/persongroups", headers=auth()
                ) as resp:
                    statuses.append(resp.status)
        assert emulator.stats.faults["500"] == statuses.count(500)
        return statuses

    first = await pattern(7)
    assert await pattern(7) == first
    assert 0 < first.count(500) < 24
    assert await pattern(8) != first
