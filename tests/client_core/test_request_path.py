"""One conversion path: every 2xx the client cannot use is a ResponseError with the status, the
request id and a redacted body excerpt; credentials of views; Retry-After on any 429 body."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from face_async._client import AsyncFaceClient
from face_async._errors import FaceValidationError, ResponseError, error_from_response
from face_async._http import _operations as o
from face_async._http._decide import Answer, Fail, Retry, decide
from face_async._http._policy import RetryPolicy
from face_async.emulator import make_face_image

KEY = "S3CR3T-key-of-the-stub-0123456789"
PERSON = "00000000-0000-4000-8000-000000000001"
FAST = RetryPolicy(max_tries=3, initial_delay=0.01, max_delay=0.02)


def _answer(body: object, *, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(
            body, status=status, headers={"apim-request-id": "rid-7", **(headers or {})}
        )

    return handler


async def _response_error(stub: tuple[str, dict[str, object]], call: Any) -> ResponseError:
    url, state = stub
    async with AsyncFaceClient(url, key=KEY, retry=FAST) as client:
        with pytest.raises(ResponseError) as info:
            await call(client)
    assert len(state["seen"]) == 1  # type: ignore[arg-type]  # a misfit is not retried
    assert KEY not in str(info.value)
    return info.value


async def test_wrong_shaped_200_for_a_single_model(stub: tuple[str, dict[str, object]]) -> None:
    stub[1]["handler"] = _answer({"name": 5, "echo": KEY})
    error = await _response_error(stub, lambda c: c.person_groups.get("g"))
    assert (error.status, error.request_id) == (200, "rid-7")
    assert '"echo"' in error.body_excerpt  # the body, not the converter's message
    assert "***" in error.body_excerpt  # the key is blanked
    assert "PersonGroup_Get" in str(error)
    assert "PersonGroup" in str(error)


@pytest.mark.parametrize(
    ("body", "call"),
    [
        ({"faces": []}, lambda c: c.face.detect(make_face_image("a"))),
        ([{"faceId": 1}], lambda c: c.face.detect(make_face_image("a"))),
        ([{"name": "no id"}], lambda c: c.person_group_persons.list("g")),
        ({"value": []}, lambda c: c.large_face_lists.list()),
    ],
    ids=["detect-object", "detect-item", "persons-list", "large-face-lists-list"],
)
async def test_wrong_shaped_200_for_a_list(
    stub: tuple[str, dict[str, object]], body: object, call: Any
) -> None:
    stub[1]["handler"] = _answer(body)
    error = await _response_error(stub, call)
    assert (error.status, error.request_id) == (200, "rid-7")
    assert error.body_excerpt.startswith(("{", "["))
    assert "list[" in str(error)


async def test_snapshot_take_without_operation_location_is_outcome_unknown(
    stub: tuple[str, dict[str, object]],
) -> None:
    # The service accepted the snapshot (202) but said not where: the write happened, what
    # it made cannot be read, so it is an unknown outcome, never re-sent.
    from face_async._errors import OutcomeUnknownError

    url, state = stub
    state["handler"] = _answer({"accepted": True}, status=202)
    async with AsyncFaceClient(url, key=KEY, retry=FAST) as client:
        with pytest.raises(OutcomeUnknownError) as info:
            await client.snapshots.take("PersonGroup", "g", [PERSON])
    assert len(state["seen"]) == 1  # type: ignore[arg-type]
    error = info.value.cause
    assert isinstance(error, ResponseError)
    assert (error.status, error.request_id) == (202, "rid-7")
    assert "accepted" in error.body_excerpt
    assert "Operation-Location" in str(error)
    assert info.value.request_id == "rid-7"


async def test_snapshot_apply_reads_the_operation_id(
    stub: tuple[str, dict[str, object]],
) -> None:
    location = f"https://x/face/v1.0/operations/{PERSON}"
    stub[1]["handler"] = _answer(None, status=202, headers={"Operation-Location": location})
    async with AsyncFaceClient(stub[0], key=KEY) as client:
        assert await client.snapshots.apply(PERSON, "g2") == PERSON


# --- with_endpoint requires its own credential ------------------------------------------------


async def test_with_endpoint_requires_exactly_one_credential(
    stub: tuple[str, dict[str, object]],
) -> None:
    url, state = stub

    async def token() -> str:
        return "t"

    async with AsyncFaceClient("https://westus.api.cognitive.microsoft.com", key=KEY) as client:
        for kwargs in ({}, {"key": "other", "token_provider": token}, {"key": ""}):
            with pytest.raises(FaceValidationError) as info:
                client.with_endpoint(url, **kwargs)  # type: ignore[arg-type]
            assert info.value.parameter == "key"
        view = client.with_endpoint(url, key="other-key")
        stub[1]["handler"] = _answer({"personGroupId": "g", "name": "G"})
        await view.person_groups.get("g")
    [headers] = state["seen"]  # type: ignore[misc]
    assert headers["Ocp-Apim-Subscription-Key"] == "other-key"
    assert KEY not in str(headers)


# --- Retry-After whatever the body --------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_read_from_a_body_that_is_not_json(status: int) -> None:
    error = error_from_response(status, {"Retry-After": "7"}, b"<html>slow down</html>")
    assert isinstance(error, ResponseError)
    assert (error.status, error.retry_after) == (status, 7.0)
    policy = RetryPolicy(max_server_delay=5.0)
    answer = Answer(status, {"Retry-After": "7"}, b"<html>slow down</html>")
    decision = decide(o.PERSON_GROUP_GET, answer, 1, policy)
    # A 429 over the cap is raised; a 503 is retried after the computed delay.
    assert isinstance(decision, Fail if status == 429 else Retry)


async def test_non_json_429_pauses_the_gate_and_waits_retry_after(
    stub: tuple[str, dict[str, object]],
) -> None:
    url, state = stub
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        times.append(loop.time())
        if len(times) == 1:
            return web.Response(
                status=429, text="Too Many Requests", headers={"Retry-After": "0.2"}
            )
        return web.json_response({"personGroupId": "g", "name": "G"})

    state["handler"] = handler
    async with AsyncFaceClient(url, key=KEY, retry=FAST) as client:
        group = await client.person_groups.get("g")
        assert group.person_group_id == "g"
        assert client.endpoint.gate.pauses == 1
        assert client.stats.rate_limited == 1
    assert len(times) == 2
    assert times[1] - times[0] >= 0.19  # FAST alone would have waited at most 0.02 s


# --- JSON bodies come from the request models: the wire names are unchanged -------------------


async def test_request_bodies_on_the_wire(stub: tuple[str, dict[str, object]]) -> None:
    url, state = stub
    bodies: list[object] = []

    async def handler(request: web.Request) -> web.Response:
        bodies.append(await request.json() if request.can_read_body else None)
        if request.method == "POST" and request.path.endswith(("/snapshots", "/apply")):
            location = f"{url}/face/v1.0/operations/{PERSON}"
            return web.Response(status=202, headers={"Operation-Location": location})
        if request.path.endswith("/identify") or request.path.endswith("/findsimilars"):
            return web.json_response([])
        if request.path.endswith("/verify"):
            return web.json_response({"isIdentical": False, "confidence": 0.1})
        if request.path.endswith("/persons"):
            return web.json_response({"personId": PERSON})
        return web.Response(status=200)

    state["handler"] = handler
    async with AsyncFaceClient(url, key=KEY) as c:
        await c.face.identify([PERSON], person_group_id="g", confidence_threshold=0.5)
        await c.face.find_similar(PERSON, large_face_list_id="l", mode="matchFace")
        await c.face.verify_face_to_face(PERSON, PERSON)
        await c.face.verify_face_to_person(PERSON, PERSON, large_person_group_id="lg")
        await c.person_groups.create("g", name="G", recognition_model="recognition_04")
        await c.person_groups.update("g", user_data="")
        await c.person_group_persons.create("g", name="P", user_data="u")
        await c.large_face_lists.update_face("l", PERSON)
        await c.snapshots.take("FaceList", "l", [PERSON], user_data="u")
        await c.snapshots.apply(PERSON, "copy")
        await c.snapshots.update(PERSON, apply_scope=[PERSON])
    assert bodies == [
        {"faceIds": [PERSON], "personGroupId": "g", "maxNumOfCandidatesReturned": 1,
         "confidenceThreshold": 0.5},
        {"faceId": PERSON, "largeFaceListId": "l", "maxNumOfCandidatesReturned": 20,
         "mode": "matchFace"},
        {"faceId1": PERSON, "faceId2": PERSON},
        {"faceId": PERSON, "personId": PERSON, "largePersonGroupId": "lg"},
        {"name": "G", "recognitionModel": "recognition_04"},
        {"userData": ""},
        {"name": "P", "userData": "u"},
        {},
        {"type": "FaceList", "objectId": "l", "applyScope": [PERSON], "userData": "u"},
        {"objectId": "copy", "mode": "CreateNew"},
        {"applyScope": [PERSON]},
    ]  # fmt: skip
