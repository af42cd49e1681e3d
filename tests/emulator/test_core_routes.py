"""Routing: every spec operation is registered under its operationId, paths match as clients
send them, and unknown paths answer the service's JSON 404."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aiohttp import web
from helpers_core import STREAM, Api, open_api

from face_async.emulator import Emulator, make_face_image
from face_async.emulator._app import OPERATION_IDS, add_routes, operation_id
from face_async.emulator._clock import Clock
from face_async.emulator._limits import ServiceLimits
from face_async.emulator._state import EmulatorState

SPEC = json.loads((Path(__file__).parents[1] / "fixtures" / "Face.json").read_text())


def _spec_operations() -> dict[str, tuple[str, str]]:
    ops = {}
    for section in ("paths", "x-ms-paths"):
        for path, methods in SPEC[section].items():
            for method, op in methods.items():
                if method != "parameters":
                    ops[op["operationId"]] = (method.upper(), path.partition("?")[0])
    return ops


def test_every_spec_operation_is_a_named_route() -> None:
    app = web.Application()
    router = add_routes(app, state=EmulatorState(), limits=ServiceLimits(), clock=Clock())
    spec = _spec_operations()
    assert len(spec) == 69
    assert sorted(OPERATION_IDS) == sorted(spec)
    registered = {route.name: (route.method, route.template) for route in router.routes}
    for op_id, (method, path) in spec.items():
        assert registered[op_id] == (method, "/face/v1.0" + path), op_id
    v12 = {operation_id(n) for n in registered if n.endswith(":v1_2")}
    assert {"LargePersonGroupPerson_Create", "LargePersonGroupPerson_AddFaceFromStream"} <= v12
    assert operation_id("LargePersonGroup_Train:v1_2") == "LargePersonGroup_Train"
    # aiohttp itself only knows the one catch-all route: the table above does the dispatch.
    assert [resource.canonical for resource in app.router.resources()] == ["/{tail}"]


async def test_route_names_reach_the_middlewares(emulator: Emulator, api: Api) -> None:
    await api.person_group("g")
    pid = await api.person("g")
    image = make_face_image("a")
    base = f"/persongroups/g/persons/{pid}"
    await api.call("POST", f"{base}/persistedfaces", data=image, headers=STREAM)
    emulator.state.register_url_image("http://x/a.jpg", make_face_image("a", variant=1))
    await api.call("POST", f"{base}/persistedFaces", json={"url": "http://x/a.jpg"})
    fid = await api.face_id("a")
    await api.call("POST", "/verify", json={"faceId": fid, "personId": pid, "personGroupId": "g"})
    await api.call("POST", "/verify", json={"faceId1": fid, "faceId2": fid})
    counted = emulator.stats.as_json()["requests"]
    assert counted["PersonGroupPerson_AddFaceFromStream"] == 1
    assert counted["PersonGroupPerson_AddFaceFromUrl"] == 1
    assert counted["Face_VerifyFaceToPerson"] == 1
    assert counted["Face_VerifyFaceToFace"] == 1
    assert counted["Face_DetectWithStream"] == 1


@pytest.mark.parametrize("segment", ["persistedfaces", "persistedFaces", "PERSISTEDFACES"])
async def test_fixed_segments_match_any_case(api: Api, emulator: Emulator, segment: str) -> None:
    await api.person_group("g")
    pid = await api.person("g")
    path = f"/persongroups/g/persons/{pid}/{segment}"
    status, body = await api.call("POST", path, data=make_face_image("a"), headers=STREAM)
    assert status == 200
    face = body["persistedFaceId"]
    status, body = await api.call("GET", f"{path}/{face}")
    assert (status, body["persistedFaceId"]) == (200, face)
    assert list(emulator.state.person_groups["g"].persons[pid].faces) == [face]


async def test_leading_segments_match_any_case(api: Api, emulator: Emulator) -> None:
    status, _ = await api.call("PUT", "/PersonGroups/g", json={"name": "g"})
    assert status == 200
    status, body = await api.call("POST", "/PERSONGROUPS/g/Persons", json={"name": "p"})
    assert status == 200
    assert list(emulator.state.person_groups["g"].persons) == [body["personId"]]
    assert emulator.stats.as_json()["requests"]["PersonGroupPerson_Create"] == 1
    assert await api.error("GET", "/PersonGroups/g/nothing") == (404, "404")


async def test_trailing_slash_and_empty_segments(api: Api, emulator: Emulator) -> None:
    await api.person_group("g")
    status, body = await api.call("GET", "/persongroups/g/")
    assert (status, body["personGroupId"]) == (200, "g")
    # An empty id is no id: the path matches no operation.
    assert await api.error("GET", "/persongroups/g/persons//persistedfaces") == (404, "404")
    assert await api.error("GET", "/persongroups//training") == (404, "404")
    assert emulator.stats.as_json()["requests"]["ResourceNotFound"] == 2


async def test_percent_encoded_ids_are_decoded(api: Api) -> None:
    status, code = await api.error("GET", "/persongroups/a%20b")
    assert (status, code) == (404, "PersonGroupNotFound")


async def test_unknown_path_is_a_json_404(api: Api) -> None:
    assert await api.error("GET", "/nothing/here") == (404, "404")
    assert await api.error("DELETE", "/detect") == (404, "404")


async def test_v12_paths_for_azure_ai_vision_face(emulator: Emulator) -> None:
    async with open_api(emulator, "/face/v1.2-preview.1") as api:
        status, _ = await api.call("PUT", "/largepersongroups/lg", json={"name": "lg"})
        assert status == 200
        pid = await api.person("lg", large=True)
        await api.add_face("lg", pid, make_face_image("a"), large=True)
        status, _ = await api.call("POST", "/largepersongroups/lg/train")
        assert status == 202
        location = api.last_headers["operation-Location"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/face/v1\.2-preview\.1/operations/[-0-9a-f]{36}",
                            location)  # fmt: skip
        emulator.clock.advance(10)
        status, body = await api.call("GET", location)
        assert status == 200
        assert body["status"] == "succeeded"
        assert set(body) == {"operationId", "status", "createdTime", "lastActionTime",
                             "finishedTime", "message"}  # fmt: skip
        status, body = await api.call("GET", "/largepersongroups/lg/training")
        assert body["status"] == "succeeded"
    assert emulator.state.large_person_groups["lg"].persons[pid].faces
    counted = emulator.stats.as_json()["requests"]
    assert counted["LargePersonGroupPerson_AddFaceFromStream:v1_2"] == 1
