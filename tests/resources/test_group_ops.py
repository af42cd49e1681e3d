"""Person groups and large person groups (one implementation, both kinds) against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

import face_async
from face_async.emulator import Emulator

KINDS = [
    pytest.param("person_groups", False, face_async.PersonGroupNotFound, id="person_groups"),
    pytest.param(
        "large_person_groups", True, face_async.LargePersonGroupNotFound, id="large_person_groups"
    ),
]


def _id_of(group: Any) -> str:
    return str(getattr(group, "large_person_group_id", None) or group.person_group_id)


@pytest.mark.parametrize(("attr", "large", "not_found"), KINDS)
async def test_create_get_update_delete(
    client: Any, emulator: Emulator, attr: str, large: bool, not_found: type[face_async.APIError]
) -> None:
    groups = getattr(client, attr)
    await groups.create("staff", name="Staff", user_data="u", recognition_model="recognition_04")
    record = emulator.state.groups(large)["staff"]
    assert (record.name, record.user_data, record.recognition_model) == (
        "Staff",
        "u",
        "recognition_04",
    )

    group = await groups.get("staff", return_recognition_model=True)
    assert _id_of(group) == "staff"
    assert group.name == "Staff"
    assert group.recognition_model == face_async.RecognitionModel.RECOGNITION_04
    assert (await groups.get("staff")).recognition_model is None

    await groups.update("staff", name="Team")
    assert record.name == "Team"
    assert record.user_data == "u"  # not sent, not changed

    await groups.delete("staff")
    assert "staff" not in emulator.state.groups(large)
    with pytest.raises(not_found) as info:
        await groups.get("staff")
    assert info.value.status == 404
    assert info.value.code == not_found.__name__
    # The live wording names the parameter, not the id ("...is not found.\r\nParameter name:").
    assert "is not found" in info.value.message
    assert "Parameter name" in info.value.message


@pytest.mark.parametrize(("attr", "large", "not_found"), KINDS)
async def test_documented_errors(
    client: Any, emulator: Emulator, attr: str, large: bool, not_found: type[face_async.APIError]
) -> None:
    groups = getattr(client, attr)
    await groups.create("staff", name="Staff")
    with pytest.raises(face_async.Conflict) as conflict:
        await groups.create("staff", name="Again")
    assert conflict.value.status == 409
    for call in (groups.update("ghost", name="x"), groups.delete("ghost")):
        with pytest.raises(not_found):
            await call


@pytest.mark.parametrize(("attr", "large", "not_found"), KINDS)
async def test_list_and_iter_page_with_start_and_top(
    client: Any, emulator: Emulator, attr: str, large: bool, not_found: type[face_async.APIError]
) -> None:
    groups = getattr(client, attr)
    for index in (3, 1, 5, 2, 4):
        await groups.create(f"g{index}", name=f"G{index}")
    assert [_id_of(g) for g in await groups.list()] == ["g1", "g2", "g3", "g4", "g5"]
    assert [_id_of(g) for g in await groups.list(top=2)] == ["g1", "g2"]
    assert [_id_of(g) for g in await groups.list(start="g2", top=2)] == ["g3", "g4"]

    list_op = "LargePersonGroup_List" if large else "PersonGroup_List"
    before = emulator.stats.requests[list_op]
    seen = [_id_of(g) async for g in groups.iter(page_size=2)]
    assert seen == ["g1", "g2", "g3", "g4", "g5"]
    assert emulator.stats.requests[list_op] - before == 3  # pages of 2, 2, 1
    assert [_id_of(g) async for g in groups.iter(start="g3", page_size=1000)] == ["g4", "g5"]


@pytest.mark.parametrize(("attr", "large", "not_found"), KINDS)
async def test_invalid_input_sends_nothing(
    client: Any, emulator: Emulator, attr: str, large: bool, not_found: type[face_async.APIError]
) -> None:
    groups = getattr(client, attr)
    before = emulator.stats.total_requests
    id_name = "large_person_group_id" if large else "person_group_id"
    cases: list[tuple[Any, str]] = [
        (lambda: groups.create("Staff", name="S"), id_name),
        (lambda: groups.create("x" * 65, name="S"), id_name),
        (lambda: groups.create("staff", name=""), "name"),
        (lambda: groups.create("staff", name="n" * 129), "name"),
        (lambda: groups.create("staff", name="S", user_data="u" * 16385), "user_data"),
        (lambda: groups.create("staff", name="S", recognition_model="best"), "recognition_model"),
        (lambda: groups.update("staff", name="n" * 129), "name"),
        (lambda: groups.get("a/b"), id_name),
        (lambda: groups.list(top=0), "top"),
        (lambda: groups.list(top=1001), "top"),
        (lambda: groups.train("BAD"), id_name),
    ]
    for make_call, parameter in cases:
        with pytest.raises(face_async.FaceValidationError) as info:
            await make_call()
        assert info.value.parameter == parameter
    with pytest.raises(face_async.FaceValidationError, match="page_size"):
        groups.iter(page_size=1001)
    assert emulator.stats.total_requests == before
