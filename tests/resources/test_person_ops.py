"""Persons of person groups and large person groups, and their faces, against the emulator."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

import face_async
from face_async.emulator import Emulator, make_face_image

KINDS = [
    pytest.param(("person_groups", "person_group_persons", False), id="person_group"),
    pytest.param(
        ("large_person_groups", "large_person_group_persons", True), id="large_person_group"
    ),
]
ALICE = make_face_image("alice")
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(params=KINDS)
async def kind(request: pytest.FixtureRequest, client: Any) -> tuple[Any, bool]:
    groups_attr, persons_attr, large = request.param
    await getattr(client, groups_attr).create("team", name="Team")
    return getattr(client, persons_attr), large


async def test_person_lifecycle(kind: tuple[Any, bool], emulator: Emulator) -> None:
    persons, large = kind
    person = await persons.create("team", name="Alice", user_data="first")
    assert isinstance(person, face_async.Person)
    record = emulator.state.groups(large)["team"].persons[person.person_id]
    assert (record.name, record.user_data) == ("Alice", "first")

    got = await persons.get("team", person.person_id)
    assert (got.person_id, got.name, got.user_data) == (person.person_id, "Alice", "first")
    assert got.persisted_face_ids == []

    await persons.update("team", person.person_id, user_data="second")
    assert (record.name, record.user_data) == ("Alice", "second")

    await persons.delete("team", person.person_id)
    assert person.person_id not in emulator.state.groups(large)["team"].persons
    with pytest.raises(face_async.PersonNotFound) as info:
        await persons.get("team", person.person_id)
    assert (info.value.status, info.value.code) == (404, "PersonNotFound")


async def test_missing_group_and_person(kind: tuple[Any, bool]) -> None:
    persons, large = kind
    group_missing = face_async.LargePersonGroupNotFound if large else face_async.PersonGroupNotFound
    with pytest.raises(group_missing):
        await persons.create("ghost", name="Alice")
    for call in (
        persons.update("team", MISSING, name="x"),
        persons.delete("team", MISSING),
        persons.add_face("team", MISSING, ALICE),
    ):
        with pytest.raises(face_async.PersonNotFound):
            await call


async def test_list_and_iter(kind: tuple[Any, bool], emulator: Emulator) -> None:
    persons, large = kind
    created = [(await persons.create("team", name=f"P{i}")).person_id for i in range(5)]
    ordered = sorted(created)
    assert [p.person_id for p in await persons.list("team")] == ordered
    assert [p.person_id for p in await persons.list("team", top=2)] == ordered[:2]
    page = await persons.list("team", start=ordered[1], top=2)
    assert [p.person_id for p in page] == ordered[2:4]

    op = "LargePersonGroupPerson_List" if large else "PersonGroupPerson_List"
    before = emulator.stats.requests[op]
    assert [p.person_id async for p in persons.iter("team", page_size=2)] == ordered
    assert emulator.stats.requests[op] - before == 3
    # A full last page costs one more request, which comes back empty.
    before = emulator.stats.requests[op]
    assert [p.person_id async for p in persons.iter("team", page_size=5)] == ordered
    assert emulator.stats.requests[op] - before == 2


async def test_add_face_from_every_image_input(
    kind: tuple[Any, bool], emulator: Emulator, tmp_path: Path
) -> None:
    persons, large = kind
    person = await persons.create("team", name="Alice")
    path = tmp_path / "alice.jpg"
    path.write_bytes(ALICE)
    emulator.state.register_url_image("https://images.example/alice.jpg", ALICE)
    stream_op = ("LargePersonGroupPerson" if large else "PersonGroupPerson") + "_AddFaceFromStream"
    url_op = stream_op.replace("Stream", "Url")

    inputs: list[object] = [ALICE, path, io.BytesIO(ALICE), "https://images.example/alice.jpg"]
    faces = []
    for image in inputs:
        faces.append(await persons.add_face("team", person.person_id, image, user_data="f"))
    assert all(isinstance(face, face_async.PersistedFace) for face in faces)
    assert emulator.stats.requests[stream_op] == 3
    assert emulator.stats.requests[url_op] == 1
    stored = emulator.state.groups(large)["team"].persons[person.person_id].faces
    assert list(stored) == [face.persisted_face_id for face in faces]

    with pytest.raises(face_async.InvalidURL):
        await persons.add_face("team", person.person_id, "https://images.example/missing.jpg")


async def test_face_get_update_delete(kind: tuple[Any, bool], emulator: Emulator) -> None:
    persons, large = kind
    person = await persons.create("team", name="Alice")
    face = await persons.add_face("team", person.person_id, ALICE, user_data="one")

    got = await persons.get_face("team", person.person_id, face.persisted_face_id)
    assert (got.persisted_face_id, got.user_data) == (face.persisted_face_id, "one")
    await persons.update_face("team", person.person_id, face.persisted_face_id, user_data="two")
    stored = emulator.state.groups(large)["team"].persons[person.person_id].faces
    assert stored[face.persisted_face_id].user_data == "two"
    await persons.delete_face("team", person.person_id, face.persisted_face_id)
    assert face.persisted_face_id not in stored
    with pytest.raises(face_async.PersistedFaceNotFound) as info:
        await persons.get_face("team", person.person_id, face.persisted_face_id)
    assert info.value.status == 404


async def test_invalid_input_sends_nothing(kind: tuple[Any, bool], emulator: Emulator) -> None:
    persons, large = kind
    person = await persons.create("team", name="Alice")
    pid = person.person_id
    group_param = "large_person_group_id" if large else "person_group_id"
    before = emulator.stats.total_requests
    cases: list[tuple[Any, str]] = [
        (lambda: persons.create("Team", name="A"), group_param),
        (lambda: persons.create("team", name=""), "name"),
        (lambda: persons.create("team", name="A", user_data="u" * 16385), "user_data"),
        (lambda: persons.get("team", "alice"), "person_id"),
        (lambda: persons.update("team", pid, name="n" * 129), "name"),
        (lambda: persons.list("team", top=1001), "top"),
        (lambda: persons.add_face("team", pid, ALICE[:1023]), "image"),
        (lambda: persons.add_face("team", pid, b"GIF89a" + b"\0" * 6 * 1024 * 1024), "image"),
        (lambda: persons.add_face("team", pid, b"\0" * 2048), "image"),
        (lambda: persons.add_face("team", pid, "alice.jpg"), "image"),
        (lambda: persons.add_face("team", pid, ALICE, user_data="u" * 1025), "user_data"),
        (lambda: persons.add_face("team", pid, ALICE, target_face=(0, 0, 0, 5)), "target_face"),
        (lambda: persons.add_face("team", pid, ALICE, detection_model="d3"), "detection_model"),
        (lambda: persons.get_face("team", pid, "face-1"), "persisted_face_id"),
        (lambda: persons.update_face("team", pid, MISSING, user_data="u" * 1025), "user_data"),
    ]
    for make_call, parameter in cases:
        with pytest.raises(face_async.FaceValidationError) as info:
            await make_call()
        assert info.value.parameter == parameter, parameter
    with pytest.raises(face_async.FaceValidationError):
        persons.iter("team", page_size=0)
    assert emulator.stats.total_requests == before


async def test_target_face_picks_one_face_of_several(kind: tuple[Any, bool], client: Any) -> None:
    persons, _ = kind
    person = await persons.create("team", name="Alice")
    pair = make_face_image("alice", faces=2)
    faces = await client.face.detect(pair)
    assert len(faces) == 2
    with pytest.raises(face_async.BadRequest):
        await persons.add_face("team", person.person_id, pair)  # which face? the service refuses
    added = await persons.add_face(
        "team", person.person_id, pair, target_face=faces[1].face_rectangle
    )
    rect = faces[0].face_rectangle
    again = await persons.add_face(
        "team", person.person_id, pair, target_face=(rect.left, rect.top, rect.width, rect.height)
    )
    got = await persons.get("team", person.person_id)
    assert got.persisted_face_ids == [added.persisted_face_id, again.persisted_face_id]
