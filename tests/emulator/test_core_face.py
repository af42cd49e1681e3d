"""Face operations: detect, identify, verify, find similar, group, honouring image identities."""

from __future__ import annotations

import base64

import pytest
from helpers_core import STREAM, Api, finish_training

from face_async.emulator import Emulator, make_face_image

LANDMARKS = 27
ALL_ATTRIBUTES = (
    "age,gender,headPose,smile,facialHair,glasses,emotion,hair,makeup,occlusion,accessories,"
    "blur,exposure,noise"
)
NO_SUCH_FACE = "00000000-0000-0000-0000-000000000000"


# ---------------------------------------------------------------------------- detect


async def test_detect_rectangles_largest_first(api: Api) -> None:
    faces = await api.detect(make_face_image("a", faces=4))
    assert len(faces) == 4
    areas = [f["faceRectangle"]["width"] * f["faceRectangle"]["height"] for f in faces]
    assert areas == sorted(areas, reverse=True)
    assert all(set(f) == {"faceId", "faceRectangle"} for f in faces)
    assert len({f["faceId"] for f in faces}) == 4
    assert await api.detect(make_face_image("a", faces=0)) == []


async def test_detect_landmarks_attributes_and_model(api: Api, emulator: Emulator) -> None:
    faces = await api.detect(
        make_face_image("a"),
        returnFaceLandmarks="true",
        returnFaceAttributes=ALL_ATTRIBUTES,
        recognitionModel="recognition_04",
        returnRecognitionModel="true",
    )
    (face,) = faces
    # The live service's order (recordings): recognitionModel last.
    assert list(face) == [
        "faceId", "faceRectangle", "faceLandmarks", "faceAttributes", "recognitionModel"
    ]  # fmt: skip
    assert face["recognitionModel"] == "recognition_04"
    assert len(face["faceLandmarks"]) == LANDMARKS
    rect = face["faceRectangle"]
    for point in face["faceLandmarks"].values():
        assert rect["left"] <= point["x"] <= rect["left"] + rect["width"]
        assert rect["top"] <= point["y"] <= rect["top"] + rect["height"]
    attrs = face["faceAttributes"]
    assert set(attrs) == set(ALL_ATTRIBUTES.split(","))
    # Enum values as the live service spells them (recordings), not as Face.json does.
    assert attrs["glasses"] in ("NoGlasses", "ReadingGlasses", "Sunglasses", "SwimmingGoggles")
    assert attrs["blur"]["blurLevel"] in ("low", "medium", "high")
    assert attrs["noise"]["noiseLevel"] in ("low", "medium", "high")
    assert attrs["exposure"]["exposureLevel"] in ("underExposure", "goodExposure", "overExposure")
    assert 0 < attrs["age"] < 100
    assert attrs["gender"] in ("male", "female")
    assert abs(sum(attrs["emotion"].values()) - 1) < 0.01
    again = await api.detect(make_face_image("a", variant=7), returnFaceAttributes="age,gender")
    assert again[0]["faceAttributes"] == {"age": attrs["age"], "gender": attrs["gender"]}
    record = emulator.state.detected_faces[face["faceId"]]
    assert (record.identity, record.recognition_model) == ("a", "recognition_04")


async def test_detect_without_face_id_stores_nothing(api: Api, emulator: Emulator) -> None:
    faces = await api.detect(make_face_image("a"), returnFaceId="False")
    assert "faceId" not in faces[0]
    assert emulator.state.detected_faces == {}


async def test_detect_model_combinations(api: Api) -> None:
    image = make_face_image("a")
    faces = await api.detect(
        image,
        detectionModel="detection_03",
        recognitionModel="recognition_04",
        returnFaceAttributes="mask,qualityForRecognition",
    )
    assert set(faces[0]["faceAttributes"]) == {"mask", "qualityForRecognition"}
    assert faces[0]["faceAttributes"]["qualityForRecognition"] in ("low", "medium", "high")
    assert faces[0]["faceAttributes"]["mask"]["type"] == "noMask"
    assert len(await api.detect(image, detectionModel="detection_02")) == 1


async def test_detection_03_returns_the_27_landmarks(api: Api) -> None:
    # The live service answers 200 with landmarks for detection_03 (the spec text says
    # detection_01 only).
    faces = await api.detect(
        make_face_image("a"), detectionModel="detection_03", returnFaceLandmarks="true"
    )
    assert len(faces[0]["faceLandmarks"]) == LANDMARKS


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"returnFaceAttributes": "age,height"}, 400, "BadArgument"),
        ({"recognitionModel": "recognition_05"}, 400, "BadArgument"),
        ({"detectionModel": "detection_04"}, 400, "BadArgument"),
        ({"detectionModel": "detection_02", "returnFaceAttributes": "age"}, 400, "BadArgument"),
        ({"detectionModel": "detection_02", "returnFaceLandmarks": "true"}, 400, "BadArgument"),
        ({"detectionModel": "detection_03", "returnFaceAttributes": "age"}, 400, "BadArgument"),
        ({"returnFaceAttributes": "mask"}, 400, "BadArgument"),
        ({"returnFaceAttributes": "qualityForRecognition"}, 400, "BadArgument"),
        ({"faceIdTimeToLive": "59"}, 400, "BadArgument"),
        ({"faceIdTimeToLive": "86401"}, 400, "BadArgument"),
        ({"returnFaceId": "maybe"}, 400, "BadArgument"),
    ],
)
async def test_detect_argument_errors(
    api: Api, params: dict[str, str], status: int, code: str
) -> None:
    got = await api.error("POST", "/detect", data=make_face_image("a"), headers=STREAM,
                          params=params)  # fmt: skip
    assert got == (status, code)


async def test_detect_documented_image_errors(api: Api, emulator: Emulator) -> None:
    """Every documented error of Face - Detect the routes answer (401/429: the knobs)."""

    async def err(**kw: object) -> tuple[int, str]:
        return await api.error("POST", "/detect", **kw)

    json_ct = {"Content-Type": "application/json"}
    assert await err(data=b"{not json", headers=json_ct) == (400, "BadArgument")
    assert await err(json={"url": "not a url"}) == (400, "InvalidURL")
    assert await err(json={"url": "http://nowhere/x.jpg"}) == (400, "InvalidURL")
    assert await err(data=b"\x00" * 4096, headers=STREAM) == (400, "InvalidImage")
    small = make_face_image("a", min_bytes=0)
    assert await err(data=small, headers=STREAM) == (400, "InvalidImageSize")
    big = make_face_image("a", min_bytes=6 * 1024 * 1024 + 1)
    assert await err(data=big, headers=STREAM) == (400, "InvalidImageSize")
    text = {"Content-Type": "text/plain"}
    assert await err(data=make_face_image("a"), headers=text) == (415, "BadArgument")
    # Over the server's body limit too: still the documented answer, not aiohttp's 413.
    huge = make_face_image("a", min_bytes=17 * 1024 * 1024)
    assert await err(data=huge, headers=STREAM) == (400, "InvalidImageSize")
    exactly = make_face_image("a", min_bytes=6 * 1024 * 1024)
    assert len(await api.detect(exactly[: 6 * 1024 * 1024])) == 1


async def test_detect_url_variants(api: Api, emulator: Emulator) -> None:
    emulator.state.register_url_image("https://img/a.jpg", make_face_image("a", faces=2))
    status, body = await api.call("POST", "/detect", json={"url": "https://img/a.jpg"})
    assert status == 200
    assert len(body) == 2
    data_url = "data:image/png;base64," + base64.b64encode(make_face_image("b", fmt="png")).decode()
    status, body = await api.call("POST", "/detect", json={"url": data_url})
    assert status == 200
    assert len(body) == 1
    assert emulator.state.detected_faces[body[0]["faceId"]].identity == "b"
    assert emulator.stats.as_json()["requests"]["Face_DetectWithUrl"] == 2


async def test_face_ids_expire(api: Api, emulator: Emulator) -> None:
    short = await api.face_id("a", faceIdTimeToLive="60")
    default = await api.face_id("a")
    body = {"faceId1": short, "faceId2": default}
    assert (await api.call("POST", "/verify", json=body))[0] == 200
    emulator.clock.advance(61)
    assert await api.error("POST", "/verify", json=body) == (404, "FaceNotFound")
    emulator.clock.advance(86_400)
    expired = {"faceIds": [default, default]}  # Face - Group takes 2 faces at the least
    assert await api.error("POST", "/group", json=expired) == (404, "FaceNotFound")


# ---------------------------------------------------------------------------- identify


async def test_identify(api: Api, emulator: Emulator) -> None:
    ids = await api.enrolled_group({"alice": "alice", "bob": "bob", "carol": "carol"})
    await api.call("POST", "/persongroups/g/train")
    finish_training(emulator)
    alice, bob, nobody = [await api.face_id(i) for i in ("alice", "bob", "zed")]
    status, body = await api.call(
        "POST", "/identify", json={"personGroupId": "g", "faceIds": [alice, bob, nobody]}
    )
    assert status == 200
    assert [r["faceId"] for r in body] == [alice, bob, nobody]
    assert [c["personId"] for c in body[0]["candidates"]] == [ids["alice"]]
    assert body[0]["candidates"][0]["confidence"] >= 0.9
    assert [c["personId"] for c in body[1]["candidates"]] == [ids["bob"]]
    assert body[2]["candidates"] == []
    status, body = await api.call(
        "POST",
        "/identify",
        json={"personGroupId": "g", "faceIds": [alice], "confidenceThreshold": 0.0,
              "maxNumOfCandidatesReturned": 3},
    )  # fmt: skip
    confidences = [c["confidence"] for c in body[0]["candidates"]]
    assert body[0]["candidates"][0]["personId"] == ids["alice"]
    assert len(confidences) == 3
    assert confidences == sorted(confidences, reverse=True)
    assert confidences[1] < 0.5


async def test_identify_uses_the_trained_model(api: Api, emulator: Emulator) -> None:
    ids = await api.enrolled_group({"alice": "alice"}, large=True)
    alice_face = await api.face_id("alice")
    body = {"largePersonGroupId": "g", "faceIds": [alice_face]}
    assert await api.error("POST", "/identify", json=body) == (400, "LargePersonGroupNotTrained")
    emulator.config.limits.training_seconds = 100.0
    await api.call("POST", "/largepersongroups/g/train")
    status, code = await api.error("POST", "/identify", json=body)
    assert (status, code) == (409, "LargePersonGroupTrainingNotFinished")
    finish_training(emulator)
    bob = await api.person("g", large=True, name="bob")
    await api.add_face("g", bob, make_face_image("alice", variant=9), large=True)
    status, result = await api.call("POST", "/identify", json=body)
    assert [c["personId"] for c in result[0]["candidates"]] == [ids["alice"]]
    await api.call("POST", "/largepersongroups/g/train")  # bob not visible until it ends
    status, result = await api.call(
        "POST", "/identify", json=body | {"maxNumOfCandidatesReturned": 5}
    )
    assert [c["personId"] for c in result[0]["candidates"]] == [ids["alice"]]
    finish_training(emulator)
    status, result = await api.call(
        "POST", "/identify", json=body | {"maxNumOfCandidatesReturned": 5}
    )
    assert {c["personId"] for c in result[0]["candidates"]} == {ids["alice"], bob}


async def test_identify_errors(api: Api, emulator: Emulator) -> None:
    await api.enrolled_group({"alice": "alice"})
    await api.call("POST", "/persongroups/g/train")
    finish_training(emulator)
    face = await api.face_id("alice")
    cases: list[tuple[dict[str, object], tuple[int, str]]] = [
        ({"personGroupId": "g"}, (400, "BadArgument")),
        ({"personGroupId": "g", "faceIds": []}, (400, "BadArgument")),
        ({"personGroupId": "g", "faceIds": [face] * 11}, (400, "BadArgument")),
        ({"personGroupId": "g", "faceIds": ["nope"]}, (400, "BadArgument")),
        ({"faceIds": [face]}, (400, "BadArgument")),
        ({"personGroupId": "g", "largePersonGroupId": "g", "faceIds": [face]},
         (400, "BadArgument")),
        ({"personGroupId": "g", "faceIds": [face], "maxNumOfCandidatesReturned": 0},
         (400, "BadArgument")),
        ({"personGroupId": "g", "faceIds": [face], "confidenceThreshold": 1.5},
         (400, "BadArgument")),
        ({"personGroupId": "none", "faceIds": [face]}, (404, "PersonGroupNotFound")),
        ({"largePersonGroupId": "none", "faceIds": [face]}, (404, "LargePersonGroupNotFound")),
        ({"personGroupId": "g", "faceIds": [NO_SUCH_FACE]}, (404, "FaceNotFound")),
    ]  # fmt: skip
    for body, expected in cases:
        assert await api.error("POST", "/identify", json=body) == expected, body
    await api.person_group("fresh")
    body = {"personGroupId": "fresh", "faceIds": [face]}
    assert await api.error("POST", "/identify", json=body) == (400, "PersonGroupNotTrained")
    await api.person_group("r4", recognitionModel="recognition_04")
    body = {"personGroupId": "r4", "faceIds": [face]}
    assert await api.error("POST", "/identify", json=body) == (400, "BadArgument")


# ---------------------------------------------------------------------------- verify


async def test_verify_face_to_face(api: Api) -> None:
    a1, a2, b = await api.face_id("a"), await api.face_id("a"), await api.face_id("b")
    status, body = await api.call("POST", "/verify", json={"faceId1": a1, "faceId2": a2})
    assert status == 200
    assert body["isIdentical"] is True
    assert body["confidence"] >= 0.9
    status, body = await api.call("POST", "/verify", json={"faceId1": a1, "faceId2": b})
    assert body["isIdentical"] is False
    assert body["confidence"] < 0.5


async def test_verify_face_to_person(api: Api) -> None:
    ids = await api.enrolled_group({"alice": "alice", "bob": "bob"}, large=True)
    face = await api.face_id("alice")
    for name, identical in (("alice", True), ("bob", False)):
        status, body = await api.call(
            "POST",
            "/verify",
            json={"faceId": face, "personId": ids[name], "largePersonGroupId": "g"},
        )
        assert status == 200
        assert body["isIdentical"] is identical


async def test_verify_documented_errors(api: Api) -> None:
    """Every error of Face - Verify in the service's table (401/403/429: the knobs)."""
    ids = await api.enrolled_group({"alice": "alice"})
    face = await api.face_id("alice")
    pid = ids["alice"]
    missing_person = "11111111-1111-1111-1111-111111111111"
    json_ct = {"Content-Type": "application/json"}
    assert await api.error("POST", "/verify", data=b"{", headers=json_ct) == (400, "BadArgument")
    cases: list[tuple[dict[str, object], tuple[int, str]]] = [
        ({"faceId1": "bad", "faceId2": face}, (400, "BadArgument")),
        ({"faceId": face, "personId": "bad", "personGroupId": "g"}, (400, "BadArgument")),
        ({"faceId1": face}, (400, "BadArgument")),
        ({"faceId": face, "personId": pid, "personGroupId": "BAD!"}, (400, "BadArgument")),
        ({"faceId": face, "personId": pid}, (400, "BadArgument")),
        ({"faceId1": face, "faceId2": NO_SUCH_FACE}, (404, "FaceNotFound")),
        ({"faceId": face, "personId": missing_person, "personGroupId": "g"},
         (404, "PersonNotFound")),
        ({"faceId": face, "personId": pid, "personGroupId": "none"},
         (404, "PersonGroupNotFound")),
        ({"faceId": face, "personId": pid, "largePersonGroupId": "none"},
         (404, "LargePersonGroupNotFound")),
    ]  # fmt: skip
    for body, expected in cases:
        assert await api.error("POST", "/verify", json=body) == expected, body
    text = {"Content-Type": "text/plain"}
    assert await api.error("POST", "/verify", data=b"{}", headers=text) == (415, "BadArgument")


# ---------------------------------------------------------------------------- find similar


async def test_find_similar_over_face_ids(api: Api) -> None:
    query = await api.face_id("a")
    same, other = await api.face_id("a"), await api.face_id("b")
    body: dict[str, object] = {"faceId": query, "faceIds": [same, other]}
    status, result = await api.call("POST", "/findsimilars", json=body)
    assert status == 200
    assert [r["faceId"] for r in result] == [same]
    status, result = await api.call("POST", "/findsimilars", json=body | {"mode": "matchFace"})
    assert [r["faceId"] for r in result] == [same, other]
    assert result[0]["confidence"] > result[1]["confidence"]
    body |= {"mode": "matchFace", "maxNumOfCandidatesReturned": 1}
    assert len((await api.call("POST", "/findsimilars", json=body))[1]) == 1


async def test_find_similar_over_face_lists(api: Api, emulator: Emulator) -> None:
    query = await api.face_id("a")
    for coll in ("facelists", "largefacelists"):
        await api.call("PUT", f"/{coll}/fl", json={"name": "fl"})
        stored = {}
        for identity in ("a", "b"):
            status, body = await api.call(
                "POST", f"/{coll}/fl/persistedfaces", data=make_face_image(identity), headers=STREAM
            )
            stored[identity] = body["persistedFaceId"]
        key = "largeFaceListId" if coll == "largefacelists" else "faceListId"
        body = {"faceId": query, key: "fl"}
        if coll == "largefacelists":
            status, code = await api.error("POST", "/findsimilars", json=body)
            assert (status, code) == (400, "LargeFaceListNotTrained")
            await api.call("POST", "/largefacelists/fl/train")
            finish_training(emulator)
            query = await api.face_id("a")
            body["faceId"] = query
        status, result = await api.call("POST", "/findsimilars", json=body)
        assert status == 200
        assert [r["persistedFaceId"] for r in result] == [stored["a"]]


async def test_find_similar_errors(api: Api) -> None:
    face = await api.face_id("a")
    cases: list[tuple[dict[str, object], tuple[int, str]]] = [
        ({"faceIds": [face]}, (400, "BadArgument")),
        ({"faceId": face}, (400, "BadArgument")),
        ({"faceId": face, "faceIds": [face], "faceListId": "x"}, (400, "BadArgument")),
        ({"faceId": face, "faceIds": [face], "mode": "fuzzy"}, (400, "BadArgument")),
        ({"faceId": face, "faceIds": [face], "maxNumOfCandidatesReturned": 1001},
         (400, "BadArgument")),
        ({"faceId": face, "faceIds": [face] * 1001}, (400, "BadArgument")),
        ({"faceId": face, "faceListId": "none"}, (404, "FaceListNotFound")),
        ({"faceId": face, "largeFaceListId": "none"}, (404, "LargeFaceListNotFound")),
        ({"faceId": NO_SUCH_FACE, "faceIds": [face]}, (404, "FaceNotFound")),
    ]  # fmt: skip
    for body, expected in cases:
        assert await api.error("POST", "/findsimilars", json=body) == expected, body


# ---------------------------------------------------------------------------- group


async def test_group_by_identity(api: Api) -> None:
    faces = await api.detect(make_face_image("x", identities=["a", "b", "a", "c", "b", "a"]))
    ids = [f["faceId"] for f in faces]
    status, body = await api.call("POST", "/group", json={"faceIds": ids})
    assert status == 200
    assert body["groups"] == [[ids[0], ids[2], ids[5]], [ids[1], ids[4]]]
    assert body["messyGroup"] == [ids[3]]


async def test_group_errors(api: Api) -> None:
    face = await api.face_id("a")
    assert await api.error("POST", "/group", json={}) == (400, "BadArgument")
    assert await api.error("POST", "/group", json={"faceIds": ["x"]}) == (400, "BadArgument")
    too_many = {"faceIds": [face] * 1001}
    assert await api.error("POST", "/group", json=too_many) == (400, "BadArgument")
    missing = {"faceIds": [face, NO_SUCH_FACE]}
    assert await api.error("POST", "/group", json=missing) == (404, "FaceNotFound")
    other_model = await api.face_id("a", recognitionModel="recognition_02")
    mixed = {"faceIds": [face, other_model]}
    assert await api.error("POST", "/group", json=mixed) == (400, "BadArgument")
