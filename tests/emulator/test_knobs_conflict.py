"""Per-person serialization of add/delete face: 409 ConcurrentOperationConflict or waiting."""

from __future__ import annotations

import asyncio

import aiohttp

from face_async.emulator import Emulator, Latency, make_face_image

KEY = "test-key"
CONFLICT = {
    "error": {
        "code": "ConcurrentOperationConflict",
        "message": "Concurrent operation conflict on requested resource.",
    }
}
HOLD = 0.4  # how long one add face is "processed"; a second call lands well inside it
IMAGE_HEADERS = {"Ocp-Apim-Subscription-Key": KEY, "Content-Type": "application/octet-stream"}


def auth() -> dict[str, str]:
    return {"Ocp-Apim-Subscription-Key": KEY}


async def make_persons(
    session: aiohttp.ClientSession, emu: Emulator, count: int, group: str = "g1"
) -> list[str]:
    base = f"{emu.url}/face/v1.0/persongroups/{group}"
    async with session.put(base, json={"name": group}, headers=auth()) as resp:
        assert resp.status == 200
    persons = []
    for index in range(count):
        async with session.post(
            f"{base}/persons", json={"name": f"p{index}"}, headers=auth()
        ) as resp:
            persons.append((await resp.json())["personId"])
    return persons


async def add_face(
    session: aiohttp.ClientSession, emu: Emulator, person_id: str, group: str = "g1"
) -> tuple[int, object]:
    async with session.post(
        f"{emu.url}/face/v1.0/persongroups/{group}/persons/{person_id}/persistedfaces",
        data=make_face_image(person_id),
        headers=IMAGE_HEADERS,
    ) as resp:
        return resp.status, await resp.json()


async def second_while_first_held(
    session: aiohttp.ClientSession, emu: Emulator, first: str, second: str
) -> list[tuple[int, object]]:
    """Send an add face for `first`; once the server holds it, one for `second`."""
    first_call = asyncio.create_task(add_face(session, emu, first))
    key = f"persongroups/g1/persons/{first}"
    await emu.stats.wait_for(lambda s: s.writes_in_flight(key) == 1, timeout=5)
    second_result = await add_face(session, emu, second)
    return [await first_call, second_result]


def faces(emu: Emulator, person_id: str) -> int:
    return len(emu.state.person_groups["g1"].persons[person_id].faces)


async def test_conflict_mode_answers_409_to_the_second_write(emulator: Emulator) -> None:
    emulator.config.latency = {"*AddFace*": Latency.fixed(HOLD)}
    async with aiohttp.ClientSession() as session:
        (person,) = await make_persons(session, emulator, 1)
        results = await second_while_first_held(session, emulator, person, person)
    assert results[0][0] == 200
    assert results[1] == (409, CONFLICT)
    assert emulator.stats.conflicts == 1
    assert emulator.stats.responses[409] == 1
    assert emulator.stats.max_concurrent_writes == {f"persongroups/g1/persons/{person}": 2}
    assert emulator.stats.max_parallel_writes == 1
    assert faces(emulator, person) == 1


async def test_conflict_mode_with_a_burst_commits_exactly_one(emulator: Emulator) -> None:
    emulator.config.latency = {"*AddFace*": Latency.fixed(HOLD)}
    async with aiohttp.ClientSession() as session:
        (person,) = await make_persons(session, emulator, 1)
        first = asyncio.create_task(add_face(session, emulator, person))
        key = f"persongroups/g1/persons/{person}"
        await emulator.stats.wait_for(lambda s: s.writes_in_flight(key) == 1, timeout=5)
        rest = await asyncio.gather(*(add_face(session, emulator, person) for _ in range(4)))
        statuses = [(await first)[0]] + [status for status, _ in rest]
    assert statuses == [200, 409, 409, 409, 409]
    assert emulator.stats.conflicts == 4
    assert faces(emulator, person) == 1


async def test_wait_mode_queues_the_second_write_and_commits_both(emulator: Emulator) -> None:
    emulator.config.conflict_mode = "wait"
    emulator.config.latency = {"*AddFace*": Latency.fixed(HOLD)}
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        (person,) = await make_persons(session, emulator, 1)
        started = loop.time()
        results = await second_while_first_held(session, emulator, person, person)
        elapsed = loop.time() - started
    assert [status for status, _ in results] == [200, 200]
    assert emulator.stats.conflicts == 0
    assert emulator.stats.max_parallel_writes == 1  # processed one after the other
    assert emulator.stats.max_concurrent_writes[f"persongroups/g1/persons/{person}"] == 2
    assert elapsed >= 2 * HOLD
    assert faces(emulator, person) == 2


async def test_writes_to_different_persons_run_in_parallel(emulator: Emulator) -> None:
    emulator.config.latency = {"*AddFace*": Latency.fixed(HOLD)}
    async with aiohttp.ClientSession() as session:
        ann, bob = await make_persons(session, emulator, 2)
        results = await second_while_first_held(session, emulator, ann, bob)
    assert [status for status, _ in results] == [200, 200]
    assert emulator.stats.conflicts == 0
    assert emulator.stats.max_parallel_writes == 2
    assert emulator.stats.max_concurrent_writes_per_person == 1
    assert (faces(emulator, ann), faces(emulator, bob)) == (1, 1)


async def test_delete_face_conflicts_with_add_face_on_the_same_person(
    emulator: Emulator,
) -> None:
    async with aiohttp.ClientSession() as session:
        (person,) = await make_persons(session, emulator, 1)
        status, body = await add_face(session, emulator, person)
        assert status == 200
        assert isinstance(body, dict)
        face_id = body["persistedFaceId"]
        emulator.config.latency = {"*AddFace*": Latency.fixed(HOLD)}
        adding = asyncio.create_task(add_face(session, emulator, person))
        key = f"persongroups/g1/persons/{person}"
        await emulator.stats.wait_for(lambda s: s.writes_in_flight(key) == 1, timeout=5)
        async with session.delete(
            f"{emulator.url}/face/v1.0/persongroups/g1/persons/{person}/persistedfaces/{face_id}",
            headers=auth(),
        ) as resp:
            assert resp.status == 409
            assert await resp.json() == CONFLICT
        assert (await adding)[0] == 200
    assert faces(emulator, person) == 2
    assert emulator.stats.requests["PersonGroupPerson_DeleteFace"] == 1


async def test_face_list_writes_serialize_per_list(emulator: Emulator) -> None:
    emulator.config.latency = {"FaceList_AddFace*": Latency.fixed(HOLD)}
    base = f"{emulator.url}/face/v1.0/facelists"
    async with aiohttp.ClientSession() as session:
        for name in ("l1", "l2"):
            async with session.put(f"{base}/{name}", json={"name": name}, headers=auth()) as r:
                assert r.status == 200

        async def add(name: str) -> int:
            async with session.post(
                f"{base}/{name}/persistedfaces", data=make_face_image(name), headers=IMAGE_HEADERS
            ) as resp:
                return resp.status

        first = asyncio.create_task(add("l1"))
        await emulator.stats.wait_for(lambda s: s.writes_in_flight("facelists/l1") == 1, timeout=5)
        same_list, other_list = await asyncio.gather(add("l1"), add("l2"))
        assert (await first, same_list, other_list) == (200, 409, 200)
    assert len(emulator.state.face_lists["l1"].faces) == 1
    assert len(emulator.state.face_lists["l2"].faces) == 1


async def test_v12_add_face_shares_the_person_gate_with_v10(emulator: Emulator) -> None:
    emulator.config.latency = {"LargePersonGroupPerson_AddFaceFromStream": Latency.fixed(HOLD)}
    v10 = f"{emulator.url}/face/v1.0/largepersongroups/big"
    v12 = f"{emulator.url}/face/v1.2-preview.1/largepersongroups/big"
    async with aiohttp.ClientSession() as session:
        async with session.put(v10, json={"name": "big"}, headers=auth()) as resp:
            assert resp.status == 200
        async with session.post(f"{v10}/persons", json={"name": "ann"}, headers=auth()) as resp:
            person = (await resp.json())["personId"]

        async def add(base: str) -> int:
            async with session.post(
                f"{base}/persons/{person}/persistedfaces",
                data=make_face_image("ann"),
                headers=IMAGE_HEADERS,
            ) as resp:
                return resp.status

        first = asyncio.create_task(add(v10))
        key = f"largepersongroups/big/persons/{person}"
        await emulator.stats.wait_for(lambda s: s.writes_in_flight(key) == 1, timeout=5)
        assert await add(v12) == 409
        assert await first == 200
    # Counted per route (v1.2 apart); the gate and the globs see one operationId.
    assert emulator.stats.requests["LargePersonGroupPerson_AddFaceFromStream"] == 1
    assert emulator.stats.requests["LargePersonGroupPerson_AddFaceFromStream:v1_2"] == 1
    assert emulator.stats.delayed == {"LargePersonGroupPerson_AddFaceFromStream": 1}
    assert len(emulator.state.large_person_groups["big"].persons[person].faces) == 1
