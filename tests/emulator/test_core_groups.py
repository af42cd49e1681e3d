"""PersonGroup / LargePersonGroup: groups, persons, faces, training, and their errors."""

from __future__ import annotations

import re
from typing import Any

import pytest
from helpers_core import STREAM, Api, finish_training

from face_async.emulator import Emulator, make_face_image

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$")


@pytest.fixture(params=[False, True], ids=["PersonGroup", "LargePersonGroup"])
def large(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def coll(large: bool) -> str:
    return "largepersongroups" if large else "persongroups"


def prefix(large: bool) -> str:
    return "LargePersonGroup" if large else "PersonGroup"


def id_key(large: bool) -> str:
    return "largePersonGroupId" if large else "personGroupId"


async def test_group_crud(api: Api, emulator: Emulator, large: bool) -> None:
    c = coll(large)
    body = {"name": "G", "userData": "u", "recognitionModel": "recognition_04"}
    assert await api.call("PUT", f"/{c}/g", json=body) == (200, None)
    assert await api.error("PUT", f"/{c}/g", json=body) == (409, f"{prefix(large)}Exists")
    status, got = await api.call("GET", f"/{c}/g")
    assert (status, got) == (200, {id_key(large): "g", "name": "G", "userData": "u"})
    status, got = await api.call("GET", f"/{c}/g", params={"returnRecognitionModel": "true"})
    assert got["recognitionModel"] == "recognition_04"
    assert await api.call("PATCH", f"/{c}/g", json={"name": "H"}) == (200, None)
    status, got = await api.call("GET", f"/{c}/g")
    assert (got["name"], got["userData"]) == ("H", "u")
    records = emulator.state.large_person_groups if large else emulator.state.person_groups
    assert records["g"].name == "H"
    assert records["g"].recognition_model == "recognition_04"
    assert await api.call("DELETE", f"/{c}/g") == (200, None)
    assert await api.error("GET", f"/{c}/g") == (404, f"{prefix(large)}NotFound")
    assert "g" not in records


async def test_group_list_paging(api: Api, large: bool) -> None:
    for gid in ("c", "a", "d", "b"):
        await api.person_group(gid, large=large)
    status, body = await api.call("GET", f"/{coll(large)}", params={"start": "a", "top": "2"})
    assert status == 200
    assert [g[id_key(large)] for g in body] == ["b", "c"]
    status, body = await api.call(
        "GET", f"/{coll(large)}", params={"returnRecognitionModel": "True"}
    )
    assert [g[id_key(large)] for g in body] == ["a", "b", "c", "d"]
    assert all(g["recognitionModel"] == "recognition_01" for g in body)
    for top in ("0", "1001", "x"):
        status, code = await api.error("GET", f"/{coll(large)}", params={"top": top})
        assert (status, code) == (400, "BadArgument")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 129},
        {"name": "n", "userData": "x" * 16385},
        {"name": "n", "recognitionModel": "recognition_09"},
    ],
)
async def test_group_create_validation(api: Api, large: bool, body: dict[str, str]) -> None:
    assert await api.error("PUT", f"/{coll(large)}/g", json=body) == (400, "BadArgument")


async def test_group_create_ids_and_media_type(api: Api, large: bool) -> None:
    for bad in ("UPPER", "x" * 65, "sp%20ace", "d.t"):
        status, code = await api.error("PUT", f"/{coll(large)}/{bad}", json={"name": "n"})
        assert (status, code) == (400, "BadArgument"), bad
    assert await api.call("PUT", f"/{coll(large)}/{'x' * 64}", json={"name": "n"}) == (200, None)
    status, code = await api.error(
        "PUT", f"/{coll(large)}/g", data=b"name=n", headers={"Content-Type": "text/plain"}
    )
    assert (status, code) == (415, "BadArgument")
    status, code = await api.error(
        "PUT", f"/{coll(large)}/g", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert (status, code) == (400, "BadArgument")


async def test_group_update_and_delete_errors(api: Api, large: bool) -> None:
    c, p = coll(large), prefix(large)
    assert await api.error("PATCH", f"/{c}/none", json={"name": "x"}) == (404, f"{p}NotFound")
    assert await api.error("DELETE", f"/{c}/none") == (404, f"{p}NotFound")
    assert await api.error("GET", f"/{c}/BAD") == (404, f"{p}NotFound")
    await api.person_group("g", large=large)
    status, code = await api.error("PATCH", f"/{c}/g", json={"userData": "x" * 16385})
    assert (status, code) == (400, "BadArgument")


async def test_persons(api: Api, emulator: Emulator, large: bool) -> None:
    c = coll(large)
    await api.person_group("g", large=large)
    status, body = await api.call(
        "POST", f"/{c}/g/persons", json={"name": "alice", "userData": "d"}
    )
    assert status == 200
    assert set(body) == {"personId"}
    pid = body["personId"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", pid)
    status, body = await api.call("GET", f"/{c}/g/persons/{pid}")
    assert body == {"personId": pid, "name": "alice", "userData": "d", "persistedFaceIds": []}
    assert await api.call("PATCH", f"/{c}/g/persons/{pid}", json={"name": "al"}) == (200, None)
    group = (emulator.state.large_person_groups if large else emulator.state.person_groups)["g"]
    assert group.persons[pid].name == "al"
    assert group.persons[pid].user_data == "d"
    others = [await api.person("g", large=large) for _ in range(4)]
    ordered = sorted([pid, *others])
    status, body = await api.call("GET", f"/{c}/g/persons", params={"top": "2"})
    assert [p["personId"] for p in body] == ordered[:2]
    status, body = await api.call(
        "GET", f"/{c}/g/persons", params={"start": ordered[1], "top": "10"}
    )
    assert [p["personId"] for p in body] == ordered[2:]
    assert await api.call("DELETE", f"/{c}/g/persons/{pid}") == (200, None)
    assert pid not in group.persons
    assert await api.error("GET", f"/{c}/g/persons/{pid}") == (404, "PersonNotFound")
    assert await api.error("GET", f"/{c}/g/persons/not-a-uuid") == (404, "PersonNotFound")
    assert await api.error("PATCH", f"/{c}/g/persons/{pid}", json={}) == (404, "PersonNotFound")
    assert await api.error("DELETE", f"/{c}/g/persons/{pid}") == (404, "PersonNotFound")
    p = prefix(large)
    assert await api.error("POST", f"/{c}/x/persons", json={"name": "n"}) == (404, f"{p}NotFound")
    assert await api.error("GET", f"/{c}/x/persons") == (404, f"{p}NotFound")
    status, code = await api.error("POST", f"/{c}/g/persons", json={"name": "n" * 129})
    assert (status, code) == (400, "BadArgument")
    status, code = await api.error("GET", f"/{c}/g/persons", params={"top": "1001"})
    assert (status, code) == (400, "BadArgument")


async def test_person_quota(api: Api, emulator: Emulator, large: bool) -> None:
    if large:
        emulator.config.limits.max_persons_per_large_person_group = 3
    else:
        emulator.config.limits.max_persons_per_person_group = 3
    await api.person_group("g", large=large)
    for _ in range(3):
        await api.person("g", large=large)
    status, code = await api.error("POST", f"/{coll(large)}/g/persons", json={"name": "n"})
    assert (status, code) == (403, "QuotaExceeded")


async def test_faces(api: Api, emulator: Emulator, large: bool) -> None:
    c = coll(large)
    await api.person_group("g", large=large)
    pid = await api.person("g", large=large)
    base = f"/{c}/g/persons/{pid}/persistedfaces"
    params = {"userData": "first", "detectionModel": "detection_03"}
    fid = await api.add_face("g", pid, make_face_image("a"), large=large, params=params)
    record = (emulator.state.large_person_groups if large else emulator.state.person_groups)["g"]
    face = record.persons[pid].faces[fid]
    assert (face.user_data, face.identity, face.detection_model) == ("first", "a", "detection_03")
    assert await api.call("GET", f"{base}/{fid}") == (
        200,
        {"persistedFaceId": fid, "userData": "first"},
    )
    assert await api.call("PATCH", f"{base}/{fid}", json={"userData": "second"}) == (200, None)
    assert face.user_data == "second"
    status, code = await api.error("PATCH", f"{base}/{fid}", json={"userData": "x" * 1025})
    assert (status, code) == (400, "BadArgument")
    status, person = await api.call("GET", f"/{c}/g/persons/{pid}")
    assert person["persistedFaceIds"] == [fid]
    assert await api.call("DELETE", f"{base}/{fid}") == (200, None)
    assert record.persons[pid].faces == {}
    for method in ("GET", "DELETE"):
        assert await api.error(method, f"{base}/{fid}") == (404, "PersistedFaceNotFound")
        assert await api.error(method, f"{base}/nope") == (404, "PersistedFaceNotFound")
    assert await api.error("PATCH", f"{base}/{fid}", json={}) == (404, "PersistedFaceNotFound")


async def test_add_face_documented_errors(api: Api, emulator: Emulator, large: bool) -> None:
    """Every error of (Large)PersonGroup Person - Add Face that the service documents."""
    c, p = coll(large), prefix(large)
    await api.person_group("g", large=large)
    pid = await api.person("g", large=large)
    base = f"/{c}/g/persons/{pid}/persistedfaces"
    one, two = make_face_image("a"), make_face_image("a", faces=2)

    async def err(params: dict[str, str] | None = None, **kw: object) -> tuple[int, str]:
        kw.setdefault("data", one)
        kw.setdefault("headers", STREAM)
        return await api.error("POST", base, params=params, **kw)

    assert await err({"userData": "x" * 1025}) == (400, "BadArgument")
    assert await err(json={"nourl": 1}, data=None, headers=None) == (400, "BadArgument")
    assert await err({"targetFace": "5000,5000,10,10"}) == (400, "BadArgument")
    for bad in ("1,2,3", "a,b,c,d", "1,2,0,4", "-1,2,3,4"):
        assert await err({"targetFace": bad}) == (400, "BadArgument"), bad
    assert await err({"detectionModel": "detection_99"}) == (400, "BadArgument")
    assert await err(data=b"GIF00a" + bytes(4000)) == (400, "InvalidImage")
    assert await err(data=make_face_image("a", faces=0)) == (400, "InvalidImage")
    assert await err(data=two) == (400, "InvalidImage")
    assert await err(data=make_face_image("a", min_bytes=0)) == (400, "InvalidImageSize")
    big = make_face_image("a", min_bytes=6 * 1024 * 1024 + 1)
    assert await err(data=big) == (400, "InvalidImageSize")
    assert await err(json={"url": "ftp://x/a.jpg"}, data=None, headers=None) == (400, "InvalidURL")
    unknown = {"url": "https://example.invalid/a.jpg"}
    assert await err(json=unknown, data=None, headers=None) == (400, "InvalidURL")
    assert await err(headers={"Content-Type": "image/jpeg"}) == (415, "BadArgument")
    bad_group = f"/{c}/NOPE/persons/{pid}/persistedfaces"
    assert await api.error("POST", bad_group, data=one, headers=STREAM) == (404, f"{p}NotFound")
    missing = f"/{c}/none/persons/{pid}/persistedfaces"
    assert await api.error("POST", missing, data=one, headers=STREAM) == (404, f"{p}NotFound")
    bad_person = f"/{c}/g/persons/not-a-uuid/persistedfaces"
    assert await api.error("POST", bad_person, data=one, headers=STREAM) == (404, "PersonNotFound")
    gone = f"/{c}/g/persons/{'0' * 8}-0000-0000-0000-{'0' * 12}/persistedfaces"
    assert await api.error("POST", gone, data=one, headers=STREAM) == (404, "PersonNotFound")
    emulator.config.limits.max_faces_per_person = 2
    await api.add_face("g", pid, make_face_image("a", variant=1), large=large)
    await api.add_face("g", pid, make_face_image("a", variant=2), large=large)
    assert await err() == (403, "QuotaExceeded")
    group = (emulator.state.large_person_groups if large else emulator.state.person_groups)["g"]
    assert len(group.persons[pid].faces) == 2  # none of the failures stored anything


async def test_add_face_target_and_url(api: Api, emulator: Emulator, large: bool) -> None:
    await api.person_group("g", large=large)
    pid = await api.person("g", large=large)
    photo = make_face_image("x", identities=["ann", "ben"])
    faces = await api.detect(photo)
    rect = faces[1]["faceRectangle"]
    target = f"{rect['left']},{rect['top']},{rect['width']},{rect['height']}"
    fid = await api.add_face("g", pid, photo, large=large, params={"targetFace": target})
    group = (emulator.state.large_person_groups if large else emulator.state.person_groups)["g"]
    assert group.persons[pid].faces[fid].identity == "ben"
    emulator.state.register_url_image("https://photos/ann.png", make_face_image("ann", fmt="png"))
    status, body = await api.call(
        "POST",
        f"/{coll(large)}/g/persons/{pid}/persistedFaces",
        json={"url": "https://photos/ann.png"},
    )
    assert status == 200
    assert group.persons[pid].faces[body["persistedFaceId"]].identity == "ann"


async def test_duplicates_in_summary(api: Api, emulator: Emulator) -> None:
    await api.person_group("g")
    pid = await api.person("g", name="alice")
    image = make_face_image("alice")
    for extra in (image, image, make_face_image("alice", variant=3)):
        await api.add_face("g", pid, extra)
    summary: Any = emulator.state.summary()["person_groups"]
    assert summary["g"]["per_person"][pid] == {"name": "alice", "faces": 3, "duplicates": 1}
    assert summary["g"]["faces"] == 3
    assert summary["g"]["duplicates"] == 1


async def test_training_lifecycle(api: Api, emulator: Emulator, large: bool) -> None:
    c, p = coll(large), prefix(large)
    assert await api.error("POST", f"/{c}/none/train") == (404, f"{p}NotFound")
    assert await api.error("POST", f"/{c}/BAD/train") == (404, f"{p}NotFound")
    assert await api.error("GET", f"/{c}/none/training") == (404, f"{p}NotFound")
    await api.enrolled_group({"alice": "alice"}, large=large)
    assert await api.error("GET", f"/{c}/g/training") == (404, f"{p}NotTrained")
    emulator.config.limits.training_seconds = 100.0
    assert await api.call("POST", f"/{c}/g/train") == (202, None)
    # As the live service: Operation-Location naming the training status, ending in /training.
    location = api.last_headers["Operation-Location"]
    assert location == f"{emulator.url}/face/v1.0/{c}/g/training"
    status, body = await api.call("GET", location)
    assert status == 200
    # Before any success the live service leaves the lastSuccessfulTraining* keys out.
    assert list(body) == ["status", "createdDateTime", "lastActionDateTime", "message"]
    assert body["status"] == "notstarted"
    assert body["message"] is None
    assert ISO.match(body["createdDateTime"])
    emulator.clock.advance(50)
    assert (await api.call("GET", f"/{c}/g/training"))[1]["status"] == "running"
    emulator.clock.advance(50)
    status, body = await api.call("GET", f"/{c}/g/training")
    assert body["status"] == "succeeded"
    assert ISO.match(body["lastSuccessfulTrainingDateTime"])
    assert body["lastActionDateTime"] >= body["createdDateTime"]
    # Only person groups report the successful training's id (large groups do not).
    assert ("lastSuccessfulTrainingId" in body) is not large
    if not large:
        first = body["lastSuccessfulTrainingId"]
        assert await api.call("POST", f"/{c}/g/train") == (202, None)
        _, retraining = await api.call("GET", f"/{c}/g/training")
        assert retraining["status"] == "notstarted"
        assert retraining["lastSuccessfulTrainingId"] == first


async def test_training_with_nothing_fails(api: Api, emulator: Emulator, large: bool) -> None:
    await api.person_group("g", large=large)
    await api.call("POST", f"/{coll(large)}/g/train")
    finish_training(emulator)
    _status, body = await api.call("GET", f"/{coll(large)}/g/training")
    assert body["status"] == "failed"
    assert "no person" in body["message"]


async def test_person_group_writes_during_training(api: Api, emulator: Emulator) -> None:
    ids = await api.enrolled_group({"alice": "alice"})
    emulator.config.limits.training_seconds = 100.0
    await api.call("POST", "/persongroups/g/train")
    conflict = (409, "PersonGroupTrainingNotFinished")
    assert await api.error("POST", "/persongroups/g/train") == conflict
    path = f"/persongroups/g/persons/{ids['alice']}/persistedfaces"
    image = make_face_image("alice", variant=1)
    assert await api.error("POST", path, data=image, headers=STREAM) == conflict
    assert await api.error("POST", "/persongroups/g/persons", json={"name": "n"}) == conflict
    finish_training(emulator)
    assert (await api.call("POST", path, data=image, headers=STREAM))[0] == 200


async def test_large_person_group_accepts_writes_during_training(
    api: Api, emulator: Emulator
) -> None:
    ids = await api.enrolled_group({"alice": "alice"}, large=True)
    emulator.config.limits.training_seconds = 100.0
    await api.call("POST", "/largepersongroups/g/train")
    await api.add_face("g", ids["alice"], make_face_image("alice", variant=1), large=True)
    assert await api.call("POST", "/largepersongroups/g/train") == (202, None)
