"""The emulator's numeric limits against the contract (tests/fixtures/Face.json), over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers_core import Api, finish_training

from face_async.emulator import Emulator, make_face_image
from face_async.emulator._limits import ServiceLimits

SPEC = json.loads((Path(__file__).parents[1] / "fixtures" / "Face.json").read_text())


def _definition(name: str, prop: str) -> dict[str, Any]:
    return dict(SPEC["definitions"][name]["properties"][prop])


def _parameter(path: str, method: str, name: str) -> dict[str, Any]:
    for param in SPEC["paths"][path][method]["parameters"]:
        if "$ref" in param:
            param = SPEC["parameters"][param["$ref"].rpartition("/")[2]]
        if param["name"] == name:
            return dict(param)
    raise KeyError(name)


def test_limits_are_the_documented_ones() -> None:
    limits = ServiceLimits()
    candidates = _definition("IdentifyRequest", "maxNumOfCandidatesReturned")
    assert (candidates["minimum"], candidates["maximum"]) == (1, limits.identify_max_candidates)
    assert _definition("IdentifyRequest", "faceIds")["maxItems"] == limits.identify_max_face_ids
    similar = _definition("FindSimilarRequest", "maxNumOfCandidatesReturned")
    assert similar["maximum"] == limits.find_similar_max_candidates
    faces = _definition("FindSimilarRequest", "faceIds")
    assert faces["maxItems"] == limits.find_similar_max_face_ids
    assert _definition("GroupRequest", "faceIds")["maxItems"] == limits.group_max_face_ids
    assert "at least 2 candidate faces" in SPEC["paths"]["/group"]["post"]["description"]
    assert limits.group_min_face_ids == 2
    ttl = SPEC["parameters"]["faceIdTimeToLive"]
    assert (ttl["minimum"], ttl["maximum"], ttl["default"]) == (
        limits.face_id_ttl_min,
        limits.face_id_ttl_max,
        limits.face_id_ttl_default,
    )
    top = _parameter("/persongroups", "get", "top")
    assert (top["minimum"], top["maximum"], top["default"]) == (1, limits.list_max_top, 1000)
    assert _definition("PersonGroup", "name")["maxLength"] == limits.max_name_length
    assert _definition("PersonGroup", "userData")["maxLength"] == limits.max_user_data
    assert _definition("PersistedFace", "userData")["maxLength"] == limits.max_face_user_data
    take = SPEC["paths"]["/snapshots"]["post"]["description"]
    assert f"S0-tier subscription quota: {limits.snapshot_takes_per_day} take" in take
    apply = SPEC["paths"]["/snapshots/{snapshotId}/apply"]["post"]["description"]
    assert f"S0-tier subscription quota: {limits.snapshot_applies_per_day} apply" in apply


async def test_identify_candidates_up_to_100(api: Api, emulator: Emulator) -> None:
    await api.enrolled_group({"alice": "alice", "bob": "bob"})
    await api.call("POST", "/persongroups/g/train")
    finish_training(emulator)
    face = await api.face_id("alice")
    body: dict[str, Any] = {"personGroupId": "g", "faceIds": [face], "confidenceThreshold": 0}
    status, result = await api.call("POST", "/identify", json=body)
    assert status == 200
    assert len(result[0]["candidates"]) == 1  # the default is 1
    status, result = await api.call("POST", "/identify", json=body | {
        "maxNumOfCandidatesReturned": 100})  # fmt: skip
    assert status == 200
    assert len(result[0]["candidates"]) == 2
    for bad in (0, 101):
        too_many = body | {"maxNumOfCandidatesReturned": bad}
        assert await api.error("POST", "/identify", json=too_many) == (400, "BadArgument")
    ten = body | {"faceIds": [face] * 10}
    assert (await api.call("POST", "/identify", json=ten))[0] == 200


async def test_find_similar_candidates_up_to_1000(api: Api) -> None:
    query = await api.face_id("a")
    others = [await api.face_id("a") for _ in range(3)]
    body: dict[str, Any] = {"faceId": query, "faceIds": others}
    status, result = await api.call("POST", "/findsimilars", json=body)
    assert (status, len(result)) == (200, 3)  # the default (20) is above the 3 given
    status, result = await api.call(
        "POST", "/findsimilars", json=body | {"maxNumOfCandidatesReturned": 1000}
    )
    assert (status, len(result)) == (200, 3)
    status, result = await api.call(
        "POST", "/findsimilars", json=body | {"faceIds": others * 333 + [query]}
    )
    assert status == 200
    for bad in (0, 1001):
        wrong = body | {"maxNumOfCandidatesReturned": bad}
        assert await api.error("POST", "/findsimilars", json=wrong) == (400, "BadArgument")


async def test_group_needs_two_to_1000_faces(api: Api) -> None:
    a1, a2 = await api.face_id("a"), await api.face_id("a")
    assert await api.error("POST", "/group", json={"faceIds": [a1]}) == (400, "BadArgument")
    status, result = await api.call("POST", "/group", json={"faceIds": [a1, a2]})
    assert (status, result) == (200, {"groups": [[a1, a2]], "messyGroup": []})
    status, _ = await api.call("POST", "/group", json={"faceIds": [a1, a2] * 500})
    assert status == 200


async def test_face_id_time_to_live_60_to_86400(api: Api) -> None:
    image = make_face_image("a")
    for ttl in ("60", "86400"):
        assert len(await api.detect(image, faceIdTimeToLive=ttl)) == 1
    for ttl in ("59", "86401"):
        status, code = await api.error(
            "POST", "/detect", data=image, params={"faceIdTimeToLive": ttl},
            headers={"Content-Type": "application/octet-stream"},
        )  # fmt: skip
        assert (status, code) == (400, "BadArgument"), ttl


async def test_list_top_1_to_1000(api: Api) -> None:
    await api.person_group("g")
    for top, expected in (("1", 200), ("1000", 200), ("0", 400), ("1001", 400)):
        status, _ = await api.call("GET", "/persongroups", params={"top": top})
        assert status == expected, top
        status, _ = await api.call("GET", "/persongroups/g/persons", params={"top": top})
        assert status == expected, top


async def test_snapshot_takes_and_applies_per_day(api: Api, emulator: Emulator) -> None:
    emulator.config.limits.snapshot_takes_per_day = 2
    emulator.config.limits.snapshot_applies_per_day = 1
    await api.person_group("g")
    take = {"type": "PersonGroup", "objectId": "g",
            "applyScope": ["00000000-0000-0000-0000-000000000001"]}  # fmt: skip
    for _ in range(2):
        assert (await api.call("POST", "/snapshots", json=take))[0] == 202
    finish_training(emulator)
    snapshots = list(emulator.state.snapshots)
    for snapshot_id in snapshots:  # deleting snapshots does not give takes back
        assert (await api.call("DELETE", f"/snapshots/{snapshot_id}"))[0] == 200
    assert await api.error("POST", "/snapshots", json=take) == (403, "QuotaExceeded")
    emulator.clock.advance(86_400)
    assert (await api.call("POST", "/snapshots", json=take))[0] == 202
    finish_training(emulator)
    (snapshot_id,) = emulator.state.snapshots
    path = f"/snapshots/{snapshot_id}/apply"
    assert (await api.call("POST", path, json={"objectId": "copy1"}))[0] == 202
    assert await api.error("POST", path, json={"objectId": "copy2"}) == (403, "QuotaExceeded")
    emulator.clock.advance(86_400)
    assert (await api.call("POST", path, json={"objectId": "copy2"}))[0] == 202
