"""Replay every example of the spec against the emulator.

Each example's request (method, path, query, body or image) is sent with its ids replaced by
live ones; the emulator must accept it with the example's status and answer a body of the
same JSON shape (keys, nesting, types) as the example's response.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers_core import STREAM, Api, finish_training

from face_async.emulator import Emulator, make_face_image

FIXTURES = Path(__file__).parents[1] / "fixtures"
SPEC = json.loads((FIXTURES / "Face.json").read_text())
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
HEADER_PARAMS = {"Endpoint", "Content-Type", "Ocp-Apim-Subscription-Key"}


def _examples() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Example file name -> (method, path template, operation)."""
    found = {}
    for section in ("paths", "x-ms-paths"):
        for path, methods in SPEC[section].items():
            for method, op in methods.items():
                if method == "parameters":
                    continue
                for ref in op.get("x-ms-examples", {}).values():
                    name = Path(ref["$ref"]).name
                    found[name] = (method.upper(), path.partition("?")[0], op)
    return found


EXAMPLES = _examples()


def test_every_example_file_belongs_to_an_operation() -> None:
    files = {p.name for p in (FIXTURES / "examples").glob("*.json")}
    assert files == set(EXAMPLES)
    assert len({op["operationId"] for _, _, op in EXAMPLES.values()}) == 69


def assert_same_shape(got: Any, expected: Any, where: str = "$") -> None:
    """``got`` has every key of ``expected``, with the same JSON types, recursively.

    A key the example gives as null may be absent: the live service leaves such keys out
    (operation status ``message``; see docs/conformance.md), and the emulator follows it.
    """
    if expected is None:
        return
    if isinstance(expected, bool):
        assert isinstance(got, bool), where
    elif isinstance(expected, (int, float)):
        assert isinstance(got, (int, float)), where
        assert not isinstance(got, bool), where
    elif isinstance(expected, str):
        assert isinstance(got, str), where
    elif isinstance(expected, list):
        assert isinstance(got, list), where
        if expected and got:
            for i, item in enumerate(got):
                assert_same_shape(item, expected[0], f"{where}[{i}]")
    else:
        assert isinstance(expected, dict), where
        assert isinstance(got, dict), where
        missing = {key for key, value in expected.items() if value is not None} - set(got)
        assert not missing, f"{where}: missing {sorted(missing)}"
        for key, value in expected.items():
            if key in got:
                assert_same_shape(got[key], value, f"{where}.{key}")


class World:
    """Live objects standing in for the ids an example names."""

    def __init__(self, api: Api, emulator: Emulator) -> None:
        self.api = api
        self.emulator = emulator
        self.persons: dict[str, str] = {}  # group id -> alice's person id
        self.faces: dict[str, str] = {}  # group or list id -> alice's persisted face id

    async def group(self, group_id: str, *, large: bool) -> None:
        coll = "largepersongroups" if large else "persongroups"
        for gid in (group_id, "zzz"):
            await self.api.call("PUT", f"/{coll}/{gid}", json={"name": gid, "userData": "u"})
        _status, body = await self.api.call(
            "POST", f"/{coll}/{group_id}/persons", json={"name": "alice", "userData": "u"}
        )
        pid = body["personId"]
        self.faces[group_id] = await self.api.add_face(
            group_id, pid, make_face_image("alice"), large=large, params={"userData": "u"}
        )
        self.persons[group_id] = pid
        await self.api.call("POST", f"/{coll}/{group_id}/train")

    async def face_list(self, list_id: str, *, large: bool) -> None:
        coll = "largefacelists" if large else "facelists"
        for lid in (list_id, "zzz"):
            await self.api.call("PUT", f"/{coll}/{lid}", json={"name": lid, "userData": "u"})
        _status, body = await self.api.call(
            "POST", f"/{coll}/{list_id}/persistedfaces", data=make_face_image("alice"),
            headers=STREAM, params={"userData": "u"},
        )  # fmt: skip
        self.faces[list_id] = body["persistedFaceId"]
        if large:
            await self.api.call("POST", f"/{coll}/{list_id}/train")

    async def snapshot(self) -> tuple[str, str]:
        await self.face_list("snap-source", large=False)
        scope = ["64084E07-9B7F-4A98-BEA4-9986D3A1EDEB"]
        take = {"type": "FaceList", "objectId": "snap-source", "applyScope": scope, "userData": "u"}
        await self.api.call("POST", "/snapshots", json=take)
        operation = self.api.last_headers["Operation-Location"].rpartition("/")[2]
        finish_training(self.emulator)
        (snapshot_id,) = self.emulator.state.snapshots
        return snapshot_id, operation


async def _prepare(
    world: World, op_id: str, params: dict[str, Any]
) -> tuple[dict[str, str], Any, bytes | None]:
    """Create what the example refers to; return (path args, JSON body, image bytes)."""
    creating = op_id in {"PersonGroup_Create", "LargePersonGroup_Create", "FaceList_Create",
                         "LargeFaceList_Create"}  # fmt: skip
    body = json.loads(json.dumps(params.get("body", params.get("ImageUrl"))))
    path: dict[str, str] = {}
    containers = (("personGroupId", False, world.group), ("largePersonGroupId", True, world.group),
                  ("faceListId", False, world.face_list),
                  ("largeFaceListId", True, world.face_list))  # fmt: skip
    for key, large, make in containers:
        container_id: str = params.get(key) or (body.get(key, "") if isinstance(body, dict) else "")
        if container_id and not creating:
            await make(container_id, large=large)
        if key in params:
            path[key] = container_id
            if "personId" in params:  # (only person groups have persons)
                path["personId"] = world.persons[container_id]
            if "persistedFaceId" in params:
                path["persistedFaceId"] = world.faces[container_id]
        if isinstance(body, dict) and "personId" in body and key in body:
            body["personId"] = world.persons[container_id]
    listing = {"PersonGroup_List": world.group, "LargePersonGroup_List": world.group,
               "FaceList_List": world.face_list, "LargeFaceList_List": world.face_list}  # fmt: skip
    if op_id in listing:
        await listing[op_id]("listed", large=op_id.startswith("Large"))
    if "snapshotId" in params or "operationId" in params or op_id == "Snapshot_List":
        snapshot_id, operation = await world.snapshot()
        path["snapshotId"], path["operationId"] = snapshot_id, operation
    if op_id == "Snapshot_Take":
        await world.face_list(body["objectId"], large=False)
    finish_training(world.emulator)
    if isinstance(body, dict):
        faces = [v for k, v in body.items() if k in ("faceId", "faceId1", "faceId2")]
        faces += body.get("faceIds", [])
        identities = ["alice", "bob"] if op_id == "Face_Group" else ["alice"]
        fresh = {}
        for i, example_id in enumerate(dict.fromkeys(faces)):
            identity = (
                "carol"
                if i == len(faces) - 1 and op_id == "Face_Group"
                else (identities[i % len(identities)])
            )
            fresh[example_id] = await world.api.face_id(identity)
        for key in ("faceId", "faceId1", "faceId2"):
            if key in body:
                body[key] = fresh[body[key]]
        if "faceIds" in body:
            body["faceIds"] = [fresh[f] for f in body["faceIds"]]
        if "url" in body:
            # The examples' URL is a placeholder; the emulator serves registered URLs only.
            body["url"] = "https://images.example/alice.jpg"
            world.emulator.state.register_url_image(body["url"], make_face_image("alice"))
    image = make_face_image("alice") if "Image" in params else None
    return path, body, image


def _query(params: dict[str, Any], example_response: object) -> dict[str, str]:
    names = {"returnFaceId", "returnFaceLandmarks", "returnFaceAttributes", "recognitionModel",
             "returnRecognitionModel", "detectionModel", "faceIdTimeToLive", "userData",
             "targetFace", "start", "top", "type", "applyScope"}  # fmt: skip
    query = {}
    for key, value in params.items():
        if key in HEADER_PARAMS or key not in names:
            continue
        if key == "userData" and "body" in params:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif key == "start" and UUID.match(str(value)):
            value = "00000000-0000-0000-0000-000000000000"
        query[key] = str(value)
    if "faceLandmarks" in json.dumps(example_response):
        # The detect examples answer landmarks without asking for them.
        query["returnFaceLandmarks"] = "true"
    return query


@pytest.mark.parametrize("name", sorted(EXAMPLES))
async def test_example_is_replayed(name: str, api: Api, emulator: Emulator) -> None:
    method, template, op = EXAMPLES[name]
    example = json.loads((FIXTURES / "examples" / name).read_text())
    params = example["parameters"]
    world = World(api, emulator)
    path_args, body, image = await _prepare(world, op["operationId"], params)
    path = template.format(**path_args)
    kwargs: dict[str, Any] = {"params": _query(params, example["responses"]) or None}
    if image is not None:
        kwargs |= {"data": image, "headers": STREAM}
    elif body is not None:
        kwargs["json"] = body
    status, got = await api.call(method, path, **kwargs)
    ((expected_status, expected),) = example["responses"].items()
    assert status == int(expected_status), (status, got)
    if "body" in expected:
        assert got is not None
        assert_same_shape(got, expected["body"])
        if isinstance(expected["body"], list) and expected["body"]:
            assert got, "expected a non-empty list"
    else:
        assert got is None
    for header in expected.get("header", {}):
        assert re.fullmatch(r"/operations/[0-9a-f-]{36}", api.last_headers[header])
