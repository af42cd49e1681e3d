"""FaceList / LargeFaceList operations and snapshots."""

from __future__ import annotations

import pytest
from helpers_core import STREAM, Api, finish_training

from face_async.emulator import Emulator, make_face_image

SCOPE = ["35230F59-AA9C-45E0-AB5E-C859BF1A5429"]


@pytest.fixture(params=[False, True], ids=["FaceList", "LargeFaceList"])
def large(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def names(large: bool) -> tuple[str, str, str]:
    if large:
        return "largefacelists", "largeFaceListId", "LargeFaceList"
    return "facelists", "faceListId", "FaceList"


async def test_face_list_crud(api: Api, emulator: Emulator, large: bool) -> None:
    c, key, p = names(large)
    body = {"name": "L", "userData": "u", "recognitionModel": "recognition_03"}
    assert await api.call("PUT", f"/{c}/fl", json=body) == (200, None)
    assert await api.error("PUT", f"/{c}/fl", json=body) == (409, f"{p}Exists")
    assert await api.error("PUT", f"/{c}/BAD", json=body) == (400, "BadArgument")
    assert await api.error("PUT", f"/{c}/x", json={"name": ""}) == (400, "BadArgument")
    status, got = await api.call("GET", f"/{c}/fl", params={"returnRecognitionModel": "true"})
    expected = {key: "fl", "name": "L", "userData": "u", "recognitionModel": "recognition_03"}
    if not large:
        expected["persistedFaces"] = []  # type: ignore[assignment]
    assert (status, got) == (200, expected)
    assert await api.call("PATCH", f"/{c}/fl", json={"userData": "v"}) == (200, None)
    records = emulator.state.large_face_lists if large else emulator.state.face_lists
    assert records["fl"].user_data == "v"
    await api.call("PUT", f"/{c}/a", json={"name": "a"})
    status, got = await api.call("GET", f"/{c}")
    assert [x[key] for x in got] == ["a", "fl"]
    assert "recognitionModel" not in got[0]
    assert await api.call("DELETE", f"/{c}/fl") == (200, None)
    assert "fl" not in records
    for method in ("GET", "DELETE"):
        assert await api.error(method, f"/{c}/fl") == (404, f"{p}NotFound")
    assert await api.error("PATCH", f"/{c}/fl", json={"name": "x"}) == (404, f"{p}NotFound")


async def test_face_list_faces(api: Api, emulator: Emulator, large: bool) -> None:
    c, _, p = names(large)
    await api.call("PUT", f"/{c}/fl", json={"name": "L"})
    status, body = await api.call(
        "POST", f"/{c}/fl/persistedFaces", data=make_face_image("a"), headers=STREAM,
        params={"userData": "ud"},
    )  # fmt: skip
    assert status == 200
    fid = body["persistedFaceId"]
    records = emulator.state.large_face_lists if large else emulator.state.face_lists
    assert records["fl"].faces[fid].identity == "a"
    if large:
        assert await api.call("GET", f"/{c}/fl/persistedfaces/{fid}") == (
            200,
            {"persistedFaceId": fid, "userData": "ud"},
        )
        patch = {"userData": "new"}
        assert await api.call("PATCH", f"/{c}/fl/persistedfaces/{fid}", json=patch) == (200, None)
        status, listed = await api.call("GET", f"/{c}/fl/persistedfaces", params={"top": "1"})
        assert listed == [{"persistedFaceId": fid, "userData": "new"}]
        assert await api.error("GET", f"/{c}/fl/persistedfaces/x") == (404, "PersistedFaceNotFound")
        assert await api.error("GET", f"/{c}/none/persistedfaces") == (404, f"{p}NotFound")
    else:
        status, got = await api.call("GET", f"/{c}/fl")
        assert got["persistedFaces"] == [{"persistedFaceId": fid, "userData": "ud"}]
    assert await api.call("DELETE", f"/{c}/fl/persistedfaces/{fid}") == (200, None)
    assert records["fl"].faces == {}
    assert await api.error("DELETE", f"/{c}/fl/persistedfaces/{fid}") == (
        404,
        "PersistedFaceNotFound",
    )


async def test_face_list_add_face_errors(api: Api, emulator: Emulator, large: bool) -> None:
    c, _, p = names(large)
    await api.call("PUT", f"/{c}/fl", json={"name": "L"})
    path = f"/{c}/fl/persistedfaces"
    one = make_face_image("a")
    assert await api.error("POST", f"/{c}/none/persistedfaces", data=one, headers=STREAM) == (
        404,
        f"{p}NotFound",
    )
    two = make_face_image("a", faces=2)
    assert await api.error("POST", path, data=two, headers=STREAM) == (400, "InvalidImage")
    long = {"userData": "x" * 1025}
    assert await api.error("POST", path, data=one, headers=STREAM, params=long) == (
        400,
        "BadArgument",
    )
    if large:
        emulator.config.limits.max_faces_per_large_face_list = 1
    else:
        emulator.config.limits.max_faces_per_face_list = 1
    assert (await api.call("POST", path, data=one, headers=STREAM))[0] == 200
    assert await api.error("POST", path, data=one, headers=STREAM) == (403, "QuotaExceeded")


async def test_large_face_list_training(api: Api, emulator: Emulator) -> None:
    assert await api.error("POST", "/largefacelists/none/train") == (404, "LargeFaceListNotFound")
    await api.call("PUT", "/largefacelists/fl", json={"name": "L"})
    status, code = await api.error("GET", "/largefacelists/fl/training")
    assert (status, code) == (404, "LargeFaceListNotTrained")
    assert await api.call("POST", "/largefacelists/fl/train") == (202, None)
    finish_training(emulator)
    status, body = await api.call("GET", "/largefacelists/fl/training")
    assert body["status"] == "failed"
    assert body["message"]
    await api.call(
        "POST", "/largefacelists/fl/persistedfaces", data=make_face_image("a"), headers=STREAM
    )
    await api.call("POST", "/largefacelists/fl/train")
    finish_training(emulator)
    status, body = await api.call("GET", "/largefacelists/fl/training")
    assert body["status"] == "succeeded"
    assert body["message"] is None


# ---------------------------------------------------------------------------- snapshots


async def test_snapshot_take_and_apply(api: Api, emulator: Emulator) -> None:
    ids = await api.enrolled_group({"alice": "alice"}, large=True)
    take = {"type": "LargePersonGroup", "objectId": "g", "applyScope": SCOPE, "userData": "s"}
    status, body = await api.call("POST", "/snapshots", json=take)
    assert (status, body) == (202, None)
    location = api.last_headers["Operation-Location"]
    assert location.startswith("/operations/")
    status, op = await api.call("GET", location)
    assert status == 200
    # The live service's current form: notStarted first, no message, no snapshot id yet.
    assert list(op) == ["status", "createdTime", "lastActionTime", "resourceLocation"]
    assert (op["status"], op["resourceLocation"]) == ("notStarted", "/snapshots/")
    emulator.clock.advance(emulator.config.limits.snapshot_seconds / 2)
    assert (await api.call("GET", location))[1]["status"] == "running"
    assert await api.call("GET", "/snapshots") == (200, [])
    finish_training(emulator)
    status, op = await api.call("GET", location)
    assert op["status"] == "succeeded"
    assert list(op) == [
        "status", "createdTime", "lastActionTime", "finishedTime", "resourceLocation"
    ]  # fmt: skip
    assert op["resourceLocation"].startswith("/snapshots/")
    snapshot_id = op["resourceLocation"].rpartition("/")[2]
    status, snap = await api.call("GET", f"/snapshots/{snapshot_id}")
    assert (snap["id"], snap["type"], snap["applyScope"], snap["userData"]) == (
        snapshot_id, "LargePersonGroup", SCOPE, "s"
    )  # fmt: skip
    status, listed = await api.call(
        "GET", "/snapshots", params={"type": "LargePersonGroup", "applyScope": SCOPE[0].lower()}
    )
    assert [s["id"] for s in listed] == [snapshot_id]
    assert (await api.call("GET", "/snapshots", params={"type": "FaceList"}))[1] == []
    patch = {"userData": "t", "applyScope": SCOPE}
    assert await api.call("PATCH", f"/snapshots/{snapshot_id}", json=patch) == (200, None)
    assert emulator.state.snapshots[snapshot_id].user_data == "t"
    status, _ = await api.call("POST", f"/snapshots/{snapshot_id}/apply", json={"objectId": "g2"})
    assert status == 202
    apply_location = api.last_headers["Operation-Location"]
    finish_training(emulator)
    status, op = await api.call("GET", apply_location)
    assert op["status"] == "succeeded"
    assert op["resourceLocation"] == "/largepersongroup/g2"  # singular, as the live service
    copied = emulator.state.large_person_groups["g2"]
    assert list(copied.persons) == [ids["alice"]]
    assert copied is not emulator.state.large_person_groups["g"]
    assert await api.call("DELETE", f"/snapshots/{snapshot_id}") == (200, None)
    assert await api.error("GET", f"/snapshots/{snapshot_id}") == (404, "SnapshotNotFound")


async def test_snapshot_errors(api: Api, emulator: Emulator) -> None:
    missing = "11111111-1111-1111-1111-111111111111"
    take = {"type": "FaceList", "objectId": "none", "applyScope": SCOPE}
    assert await api.error("POST", "/snapshots", json=take) == (404, "FaceListNotFound")
    bads: list[dict[str, object]] = [
        {"type": "Nope"},
        {"applyScope": []},
        {"applyScope": ["not-uuid"]},
        {"objectId": "BAD"},
    ]
    for bad in bads:
        assert await api.error("POST", "/snapshots", json=take | bad) == (400, "BadArgument")
    assert await api.error("GET", f"/snapshots/{missing}") == (404, "SnapshotNotFound")
    assert await api.error("PATCH", f"/snapshots/{missing}", json={}) == (404, "SnapshotNotFound")
    assert await api.error("DELETE", f"/snapshots/{missing}") == (404, "SnapshotNotFound")
    apply = {"objectId": "x"}
    status, code = await api.error("POST", f"/snapshots/{missing}/apply", json=apply)
    assert (status, code) == (404, "SnapshotNotFound")
    assert await api.error("GET", f"/operations/{missing}") == (404, "OperationNotFound")
    assert await api.error("GET", "/snapshots", params={"type": "Nope"}) == (400, "BadArgument")
    await api.call("PUT", "/facelists/fl", json={"name": "x"})
    await api.call("POST", "/snapshots", json=take | {"objectId": "fl"})
    finish_training(emulator)
    (snapshot_id,) = emulator.state.snapshots
    status, code = await api.error(
        "POST", f"/snapshots/{snapshot_id}/apply", json={"objectId": "fl"}
    )
    assert (status, code) == (409, "FaceListExists")
    bad_mode = {"objectId": "f2", "mode": "Overwrite"}
    status, code = await api.error("POST", f"/snapshots/{snapshot_id}/apply", json=bad_mode)
    assert (status, code) == (400, "BadArgument")


async def test_face_list_list_url_and_update_errors(api: Api, large: bool) -> None:
    c, _, p = names(large)
    bad_bool = {"returnRecognitionModel": "maybe"}
    assert await api.error("GET", f"/{c}", params=bad_bool) == (400, "BadArgument")
    await api.call("PUT", f"/{c}/fl", json={"name": "L"})
    unknown_url = {"url": "https://nowhere.example/a.jpg"}
    path = f"/{c}/fl/persistedFaces"
    assert await api.error("POST", path, json=unknown_url) == (400, "InvalidURL")
    assert await api.error("POST", f"/{c}/none/persistedfaces", json=unknown_url) == (
        404,
        f"{p}NotFound",
    )
    if large:
        assert await api.error("GET", f"/{c}", params={"top": "0"}) == (400, "BadArgument")
        missing = f"/{c}/fl/persistedfaces/11111111-1111-1111-1111-111111111111"
        patch = {"userData": "x"}
        assert await api.error("PATCH", missing, json=patch) == (404, "PersistedFaceNotFound")
