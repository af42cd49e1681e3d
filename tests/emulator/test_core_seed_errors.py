"""The seed operations' documented answers that come from the knobs (401, 408, 429), end to end.

The routes' own errors of these operations are in test_core_face.py / test_core_groups.py; this
module checks that the same calls, through the whole emulator, also produce the documented
401 / 408 / 429 bodies.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers_core import STREAM, Api

from face_async.emulator import Emulator, Fault, make_face_image


async def _seed_calls(api: Api) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (method, path, request kwargs) for the five seed operations."""
    await api.person_group("g")
    await api.person_group("lg", large=True)
    pid = await api.person("g")
    lpid = await api.person("lg", large=True)
    face = await api.face_id("a")
    image = {"data": make_face_image("a"), "headers": STREAM}
    return {
        "Face_DetectWithStream": ("POST", "/detect", image),
        "Face_VerifyFaceToFace": ("POST", "/verify", {"json": {"faceId1": face, "faceId2": face}}),
        "PersonGroup_Train": ("POST", "/persongroups/g/train", {}),
        "PersonGroupPerson_AddFaceFromStream": (
            "POST", f"/persongroups/g/persons/{pid}/persistedfaces", image,
        ),
        "LargePersonGroupPerson_AddFaceFromStream": (
            "POST", f"/largepersongroups/lg/persons/{lpid}/persistedFaces", image,
        ),
    }  # fmt: skip


async def test_wrong_key_is_401_unspecified(api: Api) -> None:
    calls = await _seed_calls(api)
    for op_id, (method, path, kwargs) in calls.items():
        wrong = {**kwargs.get("headers", {}), "Ocp-Apim-Subscription-Key": "wrong"}
        status, code = await api.error(method, path, **{**kwargs, "headers": wrong})
        assert (status, code) == (401, "Unspecified"), op_id


@pytest.mark.parametrize(
    ("kind", "status"),
    [("408", 408), ("429", 429)],
)
async def test_timeouts_and_rate_limits(
    api: Api, emulator: Emulator, kind: str, status: int
) -> None:
    emulator.config.limits.training_seconds = 0  # the train call must not block the add-faces
    calls = await _seed_calls(api)
    for op_id, (method, path, kwargs) in calls.items():
        emulator.config.faults = [Fault(kind=kind, operations=op_id, count=1)]
        got, body = await api.call(method, path, **kwargs)
        assert got == status, op_id
        if kind == "408":
            assert body["error"]["code"] == "OperationTimeOut"
        else:
            # Either 429 form: the gateway's string code or the service's statusCode.
            assert body["error"].get("code", body["error"].get("statusCode")) in ("429", 429)
            assert "Try again in" in body["error"]["message"]
        emulator.config.faults = []
        assert (await api.call(method, path, **kwargs))[0] in (200, 202), op_id
