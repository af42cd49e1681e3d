"""Face lists and large face lists (shared implementation) against the emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import face_async
from face_async.emulator import Emulator, make_face_image

ALICE = make_face_image("alice")
MISSING = "00000000-0000-4000-8000-000000000000"
KINDS = [
    pytest.param("face_lists", False, face_async.FaceListNotFound, id="face_lists"),
    pytest.param("large_face_lists", True, face_async.LargeFaceListNotFound, id="large_face_lists"),
]


def _id_of(face_list: Any) -> str:
    return str(getattr(face_list, "large_face_list_id", None) or face_list.face_list_id)


@pytest.mark.parametrize(("attr", "large", "not_found"), KINDS)
async def test_list_lifecycle_and_faces(
    client: Any, emulator: Emulator, tmp_path: Path, attr: str, large: bool,
    not_found: type[face_async.APIError],
) -> None:  # fmt: skip
    lists = getattr(client, attr)
    await lists.create("faces", name="Faces", user_data="u", recognition_model="recognition_03")
    record = emulator.state.lists(large)["faces"]
    assert (record.name, record.user_data, record.recognition_model) == (
        "Faces", "u", "recognition_03",
    )  # fmt: skip
    await lists.update("faces", name="Renamed", user_data="v")
    assert (record.name, record.user_data) == ("Renamed", "v")

    path = tmp_path / "alice.png"
    path.write_bytes(make_face_image("alice", fmt="png"))
    first = await lists.add_face("faces", ALICE, user_data="one")
    second = await lists.add_face("faces", path, target_face=None, detection_model="detection_03")
    assert list(record.faces) == [first.persisted_face_id, second.persisted_face_id]

    got = await lists.get("faces", return_recognition_model=True)
    assert _id_of(got) == "faces"
    assert got.name == "Renamed"
    assert got.recognition_model == face_async.RecognitionModel.RECOGNITION_03
    if not large:
        assert got.persisted_faces is not None
        assert [f.persisted_face_id for f in got.persisted_faces] == list(record.faces)
    assert [_id_of(x) for x in await lists.list()] == ["faces"]

    await lists.delete_face("faces", first.persisted_face_id)
    assert list(record.faces) == [second.persisted_face_id]
    with pytest.raises(face_async.PersistedFaceNotFound):
        await lists.delete_face("faces", first.persisted_face_id)

    await lists.delete("faces")
    assert "faces" not in emulator.state.lists(large)
    with pytest.raises(not_found) as info:
        await lists.get("faces")
    assert (info.value.status, info.value.code) == (404, not_found.__name__)
    with pytest.raises(not_found):
        await lists.add_face("faces", ALICE)


@pytest.mark.parametrize(("attr", "large", "not_found"), KINDS)
async def test_invalid_input_sends_nothing(
    client: Any, emulator: Emulator, attr: str, large: bool, not_found: type[face_async.APIError]
) -> None:
    lists = getattr(client, attr)
    id_name = "large_face_list_id" if large else "face_list_id"
    cases: list[tuple[Any, str]] = [
        (lambda: lists.create("Faces", name="F"), id_name),
        (lambda: lists.create("faces", name=""), "name"),
        (lambda: lists.create("faces", name="F", user_data="u" * 16385), "user_data"),
        (lambda: lists.add_face("faces", ALICE, user_data="u" * 1025), "user_data"),
        (lambda: lists.add_face("faces", ALICE, target_face=(-1, 0, 5, 5)), "target_face"),
        (lambda: lists.add_face("faces", b"BM" + b"\0" * 100), "image"),
        (lambda: lists.delete_face("faces", "face"), "persisted_face_id"),
        (lambda: lists.delete("faces!"), id_name),
    ]
    for make_call, parameter in cases:
        with pytest.raises(face_async.FaceValidationError) as info:
            await make_call()
        assert info.value.parameter == parameter
    assert emulator.stats.total_requests == 0


async def test_large_face_list_faces_paging_and_updates(client: Any, emulator: Emulator) -> None:
    lists = client.large_face_lists
    await lists.create("big", name="Big")
    ids = sorted([(await lists.add_face("big", ALICE)).persisted_face_id for _ in range(5)])
    assert [f.persisted_face_id for f in await lists.list_faces("big")] == ids
    assert [f.persisted_face_id for f in await lists.list_faces("big", top=2)] == ids[:2]
    page = await lists.list_faces("big", start=ids[2], top=10)
    assert [f.persisted_face_id for f in page] == ids[3:]

    before = emulator.stats.requests["LargeFaceList_ListFaces"]
    assert [f.persisted_face_id async for f in lists.iter_faces("big", page_size=2)] == ids
    assert emulator.stats.requests["LargeFaceList_ListFaces"] - before == 3

    await lists.update_face("big", ids[0], user_data="tagged")
    face = await lists.get_face("big", ids[0])
    assert (face.persisted_face_id, face.user_data) == (ids[0], "tagged")
    assert emulator.state.lists(True)["big"].faces[ids[0]].user_data == "tagged"
    with pytest.raises(face_async.PersistedFaceNotFound):
        await lists.get_face("big", MISSING)
    with pytest.raises(face_async.LargeFaceListNotFound):
        await lists.list_faces("ghost")

    before_total = emulator.stats.total_requests
    with pytest.raises(face_async.FaceValidationError, match="top"):
        await lists.list_faces("big", top=1001)
    with pytest.raises(face_async.FaceValidationError, match="user_data"):
        await lists.update_face("big", ids[0], user_data="u" * 1025)
    with pytest.raises(face_async.FaceValidationError, match="page_size"):
        lists.iter_faces("big", page_size=0)
    assert emulator.stats.total_requests == before_total


async def test_large_face_lists_iter_pages(client: Any, emulator: Emulator) -> None:
    for index in range(4):
        await client.large_face_lists.create(f"l{index}", name=f"L{index}")
    seen = [x.large_face_list_id async for x in client.large_face_lists.iter(page_size=3)]
    assert seen == ["l0", "l1", "l2", "l3"]
    assert emulator.stats.requests["LargeFaceList_List"] == 2
    page = await client.large_face_lists.list(start="l1", top=2)
    assert [x.large_face_list_id for x in page] == ["l2", "l3"]
