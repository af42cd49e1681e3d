"""What keeps the emulator flat as it stores more: ordered tables, freed per-person gates."""

from __future__ import annotations

import asyncio
import copy

import pytest
from helpers_core import STREAM, Api, finish_training

from face_async.emulator import Emulator, Latency, make_face_image
from face_async.emulator._images import FaceRect
from face_async.emulator._state import (
    DetectedFaceRecord,
    EmulatorState,
    IdTable,
    PersonGroupRecord,
    PersonRecord,
)

# ---------------------------------------------------------------------------- IdTable


def test_id_table_keeps_its_order_until_a_change() -> None:
    table: IdTable[int] = IdTable({"b": 1, "d": 2})
    ordered = table.ordered()
    assert ordered == ["b", "d"]
    assert table.ordered() is ordered  # kept: no sort per page
    table["a"] = 3
    table["c"] = 4
    table["a"] = 5  # a new value, not a new id
    assert table.ordered() == ["a", "b", "c", "d"]
    assert list(table) == ["b", "d", "a", "c"]  # iteration keeps insertion order
    del table["b"]
    assert table.ordered() == ["a", "c", "d"]
    assert table.pop("c") == 4
    table.update(e=6)
    table.setdefault("0", 7)
    table |= {"f": 8}
    assert table.ordered() == sorted(table) == ["0", "a", "d", "e", "f"]
    table.popitem()
    table.clear()
    assert table.ordered() == []
    assert table == {}


def test_id_table_copies_are_id_tables() -> None:
    group = PersonGroupRecord(group_id="g", name="g", large=True)
    for person_id in ("p2", "p1"):
        group.persons[person_id] = PersonRecord(person_id=person_id, name=person_id)
    group.persons.ordered()
    copied = copy.deepcopy(group)
    assert isinstance(copied.persons, IdTable)
    assert copied.persons.ordered() == ["p1", "p2"]
    copied.persons["p0"] = PersonRecord(person_id="p0", name="p0")
    assert copied.persons.ordered() == ["p0", "p1", "p2"]
    assert group.persons.ordered() == ["p1", "p2"]


# ---------------------------------------------------------------------------- paging


async def test_paging_follows_creates_and_deletes(api: Api) -> None:
    await api.person_group("g", large=True)
    created = [await api.person("g", large=True, name=f"p{i}") for i in range(7)]

    async def all_pages() -> list[str]:
        seen: list[str] = []
        params = {"top": "3"}
        max_pages = 20  # 8 persons at 3 per page need 4 pages (the last one empty)
        for _ in range(max_pages):
            status, body = await api.call("GET", "/largepersongroups/g/persons", params=params)
            assert status == 200
            if not body:
                return seen
            seen += [p["personId"] for p in body]
            params = {"top": "3", "start": seen[-1]}
        raise AssertionError(f"paging did not end within {max_pages} pages; seen {seen}")

    assert await all_pages() == sorted(created)
    created.append(await api.person("g", large=True, name="late"))
    gone = created.pop(2)
    assert (await api.call("DELETE", f"/largepersongroups/g/persons/{gone}"))[0] == 200
    assert await all_pages() == sorted(created)


# ---------------------------------------------------------------------------- find similar


async def test_large_face_list_match_person_equals_filtered_match_face(
    api: Api, emulator: Emulator
) -> None:
    assert (await api.call("PUT", "/largefacelists/l", json={"name": "l"}))[0] == 200
    for identity in ("a", "b", "a", "c", "a"):
        image = make_face_image(identity, variant=len(emulator.state.large_face_lists["l"].faces))
        status, _ = await api.call("POST", "/largefacelists/l/persistedfaces", data=image,
                                   headers=STREAM)  # fmt: skip
        assert status == 200
    await api.call("POST", "/largefacelists/l/train")
    finish_training(emulator)
    body = {"faceId": await api.face_id("a"), "largeFaceListId": "l"}
    _, by_face = await api.call("POST", "/findsimilars", json=body | {"mode": "matchFace"})
    _, by_person = await api.call("POST", "/findsimilars", json=body)
    assert len(by_face) == 5
    assert by_person == [c for c in by_face if c["confidence"] >= 0.5]
    assert len(by_person) == 3


# ---------------------------------------------------------------------------- per-person gates


@pytest.mark.parametrize("mode", ["conflict", "wait"])
async def test_per_person_gates_are_freed_and_counters_stay_flat(
    api: Api, emulator: Emulator, mode: str
) -> None:
    emulator.config.conflict_mode = mode
    await api.person_group("g", large=True)
    persons = [await api.person("g", large=True, name=f"p{i}") for i in range(60)]
    images = [make_face_image(p) for p in persons]
    await asyncio.gather(
        *(api.add_face("g", p, image, large=True) for p, image in zip(persons, images, strict=True))
    )
    assert emulator.knobs.gates_held == 0
    assert emulator.stats.max_concurrent_writes == {}  # no path ever held two at once
    assert emulator.stats.max_concurrent_writes_per_person == 1
    assert all(emulator.stats.writes_in_flight(f"largepersongroups/g/persons/{p}") == 0
               for p in persons)  # fmt: skip


async def test_gates_are_freed_after_contended_writes(api: Api, emulator: Emulator) -> None:
    emulator.config.conflict_mode = "wait"
    emulator.config.latency = {"*AddFace*": Latency.fixed(0.05)}
    await api.person_group("g")
    person = await api.person("g")
    key = f"persongroups/g/persons/{person}"
    first = asyncio.create_task(api.add_face("g", person, make_face_image("x", variant=0)))
    await emulator.stats.wait_for(lambda s: s.writes_in_flight(key) == 1, timeout=5)
    second = api.add_face("g", person, make_face_image("x", variant=1))
    await asyncio.gather(first, second)
    assert emulator.stats.max_concurrent_writes == {key: 2}
    assert emulator.stats.max_concurrent_writes_per_person == 2
    assert emulator.knobs.gates_held == 0
    emulator.stats.reset()
    assert emulator.stats.max_concurrent_writes_per_person == 0


# ---------------------------------------------------------------------------- faceIds


def test_face_id_sweeps_are_spread_over_the_inserts() -> None:
    state = EmulatorState()
    rect = FaceRect(left=0, top=0, width=10, height=10)
    sweeps = 0
    live_until = state.clock.now() + 1000
    for i in range(20_000):
        state.remember_face(DetectedFaceRecord(f"l{i}", "a", "recognition_01", live_until, rect))
    for i in range(30_000):
        before = len(state.detected_faces)
        state.remember_face(DetectedFaceRecord(f"x{i}", "a", "recognition_01", 0.0, rect))
        sweeps += len(state.detected_faces) <= before
    # A sweep reads every faceId kept: one per 5,000+ inserts here, not one per 4096 (7),
    # and keeps at most a third more faceIds than are live.
    assert 1 <= sweeps <= 5
    assert 20_000 <= len(state.detected_faces) <= 20_000 + 20_000 // 3 + 1
