"""detect, identify, verify, find_similar and group against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

import face_async
from face_async.emulator import Emulator, make_face_image

ALICE = make_face_image("alice")
ALICE_2 = make_face_image("alice", fmt="png")
BOB = make_face_image("bob")
MISSING = "00000000-0000-4000-8000-000000000000"


async def _face_id(client: Any, image: bytes, **kwargs: Any) -> str:
    [face] = await client.face.detect(image, **kwargs)
    return str(face.face_id)


async def test_detect_with_attributes_landmarks_and_model(client: Any, emulator: Emulator) -> None:
    faces = await client.face.detect(
        ALICE,
        return_face_landmarks=True,
        return_face_attributes=[face_async.FaceAttributeType.AGE, "glasses"],
        recognition_model="recognition_04",
        return_recognition_model=True,
        face_id_time_to_live=120,
    )
    [face] = faces
    assert isinstance(face, face_async.DetectedFace)
    assert face.face_id in emulator.state.detected_faces
    assert face.recognition_model == face_async.RecognitionModel.RECOGNITION_04
    assert face.face_attributes is not None
    assert face.face_attributes.age is not None
    assert face.face_attributes.glasses is not None
    assert face.face_attributes.emotion is None  # not asked for
    assert face.face_landmarks is not None
    assert face.face_landmarks.nose_tip is not None
    assert face.face_rectangle.width > 0


async def test_detect_from_url_and_several_faces(client: Any, emulator: Emulator) -> None:
    emulator.state.register_url_image("https://img.example/team.jpg", make_face_image("t", faces=3))
    faces = await client.face.detect(
        "https://img.example/team.jpg", detection_model="detection_03",
        return_face_attributes=["mask"], return_face_id=False,
    )  # fmt: skip
    assert len(faces) == 3
    assert all(face.face_id is None for face in faces)
    assert emulator.stats.requests["Face_DetectWithUrl"] == 1
    with pytest.raises(face_async.InvalidURL) as info:
        await client.face.detect("https://img.example/nothing.jpg")
    assert (info.value.status, info.value.code) == (400, "InvalidURL")


async def test_detect_refuses_bad_options_before_sending(client: Any, emulator: Emulator) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"detection_model": "detection_02", "return_face_landmarks": True},
         "return_face_landmarks"),
        ({"detection_model": "detection_03", "return_face_attributes": ["age", "glasses"]},
         "return_face_attributes"),
        ({"detection_model": "detection_02", "return_face_attributes": ["mask"]},
         "return_face_attributes"),
        ({"return_face_attributes": ["qualityForRecognition"]}, "return_face_attributes"),
        ({"return_face_attributes": ["beauty"]}, "return_face_attributes"),
        ({"face_id_time_to_live": 59}, "face_id_time_to_live"),
        ({"face_id_time_to_live": 86401}, "face_id_time_to_live"),
        ({"recognition_model": "latest"}, "recognition_model"),
    ]  # fmt: skip
    for kwargs, parameter in cases:
        with pytest.raises(face_async.FaceValidationError) as info:
            await client.face.detect(ALICE, **kwargs)
        assert info.value.parameter == parameter
    for bad_image in (ALICE[:1000], b"x" * 5000, "team.jpg"):
        with pytest.raises(face_async.FaceValidationError, match="image"):
            await client.face.detect(bad_image)
    assert emulator.stats.total_requests == 0


async def test_identify_against_person_group_and_large_person_group(client: Any) -> None:
    for groups, persons, key in (
        (client.person_groups, client.person_group_persons, "person_group_id"),
        (client.large_person_groups, client.large_person_group_persons, "large_person_group_id"),
    ):
        await groups.create("staff", name="Staff")
        alice = await persons.create("staff", name="Alice")
        await persons.add_face("staff", alice.person_id, ALICE)
        bob = await persons.create("staff", name="Bob")
        await persons.add_face("staff", bob.person_id, BOB)
        await groups.train("staff")
        await groups.wait_for_training("staff", timeout=10, poll_interval=0.01)

        query = await _face_id(client, ALICE_2)
        [result] = await client.face.identify([query], **{key: "staff"})
        assert isinstance(result, face_async.IdentifyResult)
        assert result.face_id == query
        assert [c.person_id for c in result.candidates] == [alice.person_id]
        assert result.candidates[0].confidence >= 0.9
        [strict] = await client.face.identify(
            [query], **{key: "staff"}, confidence_threshold=1.0, max_num_of_candidates_returned=2
        )
        assert strict.candidates == []


async def test_identify_errors_and_validation(client: Any, emulator: Emulator) -> None:
    query = await _face_id(client, ALICE)
    with pytest.raises(face_async.PersonGroupNotFound) as info:
        await client.face.identify([query], person_group_id="ghost")
    assert info.value.status == 404
    before = emulator.stats.total_requests
    cases: list[tuple[dict[str, Any], str]] = [
        ({"face_ids": []}, "face_ids"),
        ({"face_ids": [query] * 11}, "face_ids"),
        ({"face_ids": ["nope"]}, "face_ids"),
        ({"person_group_id": None}, "person_group_id"),
        ({"large_person_group_id": "g"}, "large_person_group_id"),  # both given
        ({"max_num_of_candidates_returned": 0}, "max_num_of_candidates_returned"),
        ({"max_num_of_candidates_returned": 101}, "max_num_of_candidates_returned"),
        ({"confidence_threshold": 1.5}, "confidence_threshold"),
    ]
    for change, parameter in cases:
        kwargs: dict[str, Any] = {"face_ids": [query], "person_group_id": "g", **change}
        face_ids = kwargs.pop("face_ids")
        with pytest.raises(face_async.FaceValidationError) as error:
            await client.face.identify(face_ids, **kwargs)
        assert error.value.parameter == parameter
    assert emulator.stats.total_requests == before


async def test_verify_face_to_face_and_to_person(client: Any, emulator: Emulator) -> None:
    first, same, other = [await _face_id(client, image) for image in (ALICE, ALICE_2, BOB)]
    result = await client.face.verify_face_to_face(first, same)
    assert isinstance(result, face_async.VerifyResult)
    assert result.is_identical is True
    assert (await client.face.verify_face_to_face(first, other)).is_identical is False
    with pytest.raises(face_async.FaceNotFound):
        await client.face.verify_face_to_face(first, MISSING)

    await client.large_person_groups.create("crew", name="Crew")
    alice = await client.large_person_group_persons.create("crew", name="Alice")
    await client.large_person_group_persons.add_face("crew", alice.person_id, ALICE)
    verdict = await client.face.verify_face_to_person(
        same, alice.person_id, large_person_group_id="crew"
    )
    assert verdict.is_identical is True
    assert emulator.stats.requests["Face_VerifyFaceToPerson"] == 1
    with pytest.raises(face_async.PersonNotFound):
        await client.face.verify_face_to_person(same, MISSING, large_person_group_id="crew")

    before = emulator.stats.total_requests
    with pytest.raises(face_async.FaceValidationError, match="face_id2"):
        await client.face.verify_face_to_face(first, "x")
    with pytest.raises(face_async.FaceValidationError, match="person_group_id"):
        await client.face.verify_face_to_person(same, alice.person_id)
    assert emulator.stats.total_requests == before


async def test_find_similar_from_face_ids_and_lists(client: Any, emulator: Emulator) -> None:
    query = await _face_id(client, ALICE)
    same, other = await _face_id(client, ALICE_2), await _face_id(client, BOB)
    similar = await client.face.find_similar(query, face_ids=[same, other])
    assert [s.face_id for s in similar] == [same]
    assert isinstance(similar[0], face_async.SimilarFace)
    ranked = await client.face.find_similar(
        query, face_ids=[same, other], mode="matchFace", max_num_of_candidates_returned=2
    )
    assert [s.face_id for s in ranked] == [same, other]

    await client.face_lists.create("faces", name="Faces")
    persisted = await client.face_lists.add_face("faces", ALICE_2)
    await client.face_lists.add_face("faces", BOB)
    [hit] = await client.face.find_similar(query, face_list_id="faces")
    assert hit.persisted_face_id == persisted.persisted_face_id
    with pytest.raises(face_async.LargeFaceListNotFound):
        await client.face.find_similar(query, large_face_list_id="ghost")

    before = emulator.stats.total_requests
    find_cases: list[tuple[dict[str, Any], str]] = [
        ({}, "face_list_id"),
        ({"face_list_id": "faces", "face_ids": [same]}, "face_ids"),
        ({"face_ids": [same] * 1001}, "face_ids"),
        ({"face_ids": [same], "max_num_of_candidates_returned": 1001},
         "max_num_of_candidates_returned"),
        ({"face_ids": [same], "mode": "closest"}, "mode"),
        ({"face_list_id": "Faces"}, "face_list_id"),
    ]  # fmt: skip
    for kwargs, parameter in find_cases:
        with pytest.raises(face_async.FaceValidationError) as info:
            await client.face.find_similar(query, **kwargs)
        assert info.value.parameter == parameter
    assert emulator.stats.total_requests == before


async def test_group(client: Any, emulator: Emulator) -> None:
    a1, a2, b1 = [await _face_id(client, image) for image in (ALICE, ALICE_2, BOB)]
    result = await client.face.group([a1, a2, b1])
    assert isinstance(result, face_async.GroupResult)
    assert [sorted(group) for group in result.groups] == [sorted([a1, a2])]
    assert result.messy_group == [b1]
    with pytest.raises(face_async.FaceNotFound):
        await client.face.group([a1, MISSING])
    before = emulator.stats.total_requests
    for bad in ([a1], [a1] * 1001):
        with pytest.raises(face_async.FaceValidationError, match="face_ids"):
            await client.face.group(bad)
    assert emulator.stats.total_requests == before
