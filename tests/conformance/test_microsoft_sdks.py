"""Microsoft's own Face clients run their workflows, unchanged, against the emulator.

- ``azure-cognitiveservices-vision-face`` 0.6.1 (the official v1.0 SDK; msrest over requests,
  synchronous): every call runs in a worker thread (``asyncio.to_thread``) while the in-process
  emulator serves on the test's event loop.
- ``azure-ai-vision-face`` 1.0.0b2 (aio clients, v1.2-preview.1 routes): the large person group
  workflow, its training a long-running operation polled by the SDK's own poller.

Where a training has to finish, the tests move the emulator's clock forward between polls (what
the seconds a user sleeps between polls would do), so no test sleeps.
"""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import pytest
from azure.ai.vision.face import aio as vision_aio
from azure.ai.vision.face import models as vision_models
from azure.cognitiveservices.vision.face import FaceClient
from azure.cognitiveservices.vision.face import models as v1
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError
from msrest.authentication import CognitiveServicesCredentials

from face_async.emulator import Emulator, make_face_image

T = TypeVar("T")

# How far the emulated clock moves between two training-status polls, and how many polls a
# training may take before the test gives up (the emulator trains in 0.05 s of its clock).
POLL_STEP = 0.02
MAX_POLLS = 50
# msrest logs this (and keeps the raw string) when a value is not one of the SDK's enum members.
UNKNOWN_ENUM = "Deserializer is not able to find"


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(autouse=True)
def _loopback_without_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # Both SDKs honour proxy variables by default (requests, aiohttp trust_env): keep loopback
    # traffic on loopback even where a proxy is configured.
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")


@pytest.fixture
async def sdk(emulator: Emulator) -> AsyncIterator[FaceClient]:
    """The v1.0 SDK's FaceClient on the emulator, closed (its requests session) afterwards."""
    client = FaceClient(emulator.url, CognitiveServicesCredentials(emulator.key))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def unknown_enums(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    """Reads msrest's warnings (from any thread) about values no SDK enum member spells."""

    def messages() -> list[str]:
        return [r.getMessage() for r in caplog.records if UNKNOWN_ENUM in r.getMessage()]

    with caplog.at_level(logging.WARNING, logger="msrest.serialization"):
        yield messages


def image(identity: str) -> io.BytesIO:
    """A fresh stream of a generated face of ``identity`` (the SDK reads streams to the end)."""
    return io.BytesIO(make_face_image(identity))


async def in_thread(work: Callable[..., T], *args: Any) -> T:
    """Run a synchronous SDK workflow in a worker thread; its assertions fail the test."""
    return await asyncio.to_thread(work, *args)


def wait_until_final(get_status: Callable[[], Any], emulator: Emulator) -> list[str]:
    """Poll a training or operation status until it is final; returns the statuses seen.

    A status the SDK's enum does not spell stays a plain string (msrest), hence the str().
    """
    seen: list[str] = []
    for _ in range(MAX_POLLS):
        status = get_status().status
        seen.append(str(getattr(status, "value", status)))
        if seen[-1] in ("succeeded", "failed"):
            return seen
        # Only this worker thread moves the clock; the emulator's handlers only read it.
        emulator.clock.advance(POLL_STEP)
    raise AssertionError(f"not final after {MAX_POLLS} polls: {seen}")


def api_error(call: Callable[[], object]) -> tuple[int, str, str]:
    """Make ``call``; returns the (status, code, message) of the APIErrorException it raises."""
    with pytest.raises(v1.APIErrorException) as caught:
        call()
    response, body = caught.value.response, caught.value.error
    assert body is not None, response.text
    assert body.error is not None, response.text
    return response.status_code, body.error.code, body.error.message


# ------------------------------------------------------------- v1.0 SDK: person group workflow


def _person_group_workflow(client: FaceClient, emulator: Emulator) -> None:
    groups = client.person_group
    persons = client.person_group_person
    groups.create("friends", name="Friends", user_data="team a", recognition_model="recognition_04")
    group = groups.get("friends", return_recognition_model=True)
    assert (group.person_group_id, group.name, group.user_data) == ("friends", "Friends", "team a")
    assert group.recognition_model == "recognition_04"

    enrolled: dict[str, str] = {}
    for name in ("alice", "bob"):
        person = persons.create("friends", name=name, user_data=f"{name} data")
        enrolled[name] = person.person_id
        face_ids = [
            persons.add_face_from_stream(
                "friends", person.person_id, image(name), user_data=f"{name} {n}"
            ).persisted_face_id
            for n in range(2)
        ]
        stored = persons.get("friends", person.person_id)
        assert (stored.person_id, stored.name, stored.user_data) == (
            person.person_id,
            name,
            f"{name} data",
        )
        assert stored.persisted_face_ids == face_ids
        face = persons.get_face("friends", person.person_id, face_ids[1])
        assert (face.persisted_face_id, face.user_data) == (face_ids[1], f"{name} 1")
    listed = persons.list("friends")
    assert {p.name: p.person_id for p in listed} == enrolled

    groups.train("friends")
    seen = wait_until_final(lambda: groups.get_training_status("friends"), emulator)
    assert seen[-1] == "succeeded", seen
    status = groups.get_training_status("friends")
    assert status.last_successful_training is not None
    assert status.created <= status.last_action <= status.last_successful_training

    def detect(identity: str) -> str:
        found = client.face.detect_with_stream(
            image(identity), recognition_model="recognition_04", detection_model="detection_03"
        )
        assert len(found) == 1
        return str(found[0].face_id)

    alice, alice_again = detect("alice"), detect("alice")
    bob, carol = detect("bob"), detect("carol")
    results = client.face.identify([alice, bob, carol], person_group_id="friends")
    assert [r.face_id for r in results] == [alice, bob, carol]
    assert results[0].candidates[0].person_id == enrolled["alice"]
    assert results[0].candidates[0].confidence >= 0.5
    assert results[1].candidates[0].person_id == enrolled["bob"]
    assert results[2].candidates == []  # carol was never enrolled

    same = client.face.verify_face_to_face(alice, alice_again)
    assert same.is_identical is True
    assert same.confidence >= 0.5
    other = client.face.verify_face_to_face(alice, bob)
    assert other.is_identical is False
    assert other.confidence < 0.5
    to_person = client.face.verify_face_to_person(
        alice, enrolled["alice"], person_group_id="friends"
    )
    assert to_person.is_identical is True
    not_person = client.face.verify_face_to_person(
        alice, enrolled["bob"], person_group_id="friends"
    )
    assert not_person.is_identical is False

    groups.delete("friends")
    assert [g.person_group_id for g in groups.list()] == []


async def test_v1_person_group_train_identify_verify(sdk: FaceClient, emulator: Emulator) -> None:
    await in_thread(_person_group_workflow, sdk, emulator)


# ------------------------------------------------------- v1.0 SDK: large person group paging


def _large_person_group_workflow(client: FaceClient, emulator: Emulator) -> None:
    groups = client.large_person_group
    persons = client.large_person_group_person
    groups.create("staff", name="Staff", recognition_model="recognition_04")
    created = [persons.create("staff", name=f"p{n:02d}").person_id for n in range(23)]

    pages: list[list[str]] = []
    start: str | None = None
    for _ in range(10):  # 23 persons in pages of 10: three pages and an empty one
        page = persons.list("staff", start=start, top=10)
        pages.append([p.person_id for p in page])
        if not page:
            break
        start = page[-1].person_id
    assert [len(p) for p in pages] == [10, 10, 3, 0]
    listed = [person_id for page in pages for person_id in page]
    assert listed == sorted(created)  # the service lists persons in personId order

    face_of = {
        name: persons.add_face_from_stream(
            "staff", created[n], image(name), detection_model="detection_03"
        ).persisted_face_id
        for n, name in enumerate(("dora", "emil"))
    }
    assert persons.get("staff", created[0]).persisted_face_ids == [face_of["dora"]]
    groups.train("staff")
    seen = wait_until_final(lambda: groups.get_training_status("staff"), emulator)
    assert seen[-1] == "succeeded", seen

    query = client.face.detect_with_stream(
        image("emil"), recognition_model="recognition_04", detection_model="detection_03"
    )[0].face_id
    result = client.face.identify([query], large_person_group_id="staff")
    assert [c.person_id for c in result[0].candidates] == [created[1]]
    verdict = client.face.verify_face_to_person(query, created[1], large_person_group_id="staff")
    assert verdict.is_identical is True
    assert [g.large_person_group_id for g in groups.list()] == ["staff"]


async def test_v1_large_person_group_paging_and_identify(
    sdk: FaceClient, emulator: Emulator
) -> None:
    await in_thread(_large_person_group_workflow, sdk, emulator)


# --------------------------------------------------- v1.0 SDK: face lists and find similar


def _find_similar_workflow(client: FaceClient, emulator: Emulator) -> None:
    names = ("alice", "bob", "carol")
    client.face_list.create("faces", name="Faces", recognition_model="recognition_04")
    in_list = {
        name: client.face_list.add_face_from_stream(
            "faces", image(name), user_data=name
        ).persisted_face_id
        for name in names
    }
    stored = client.face_list.get("faces")
    assert (stored.face_list_id, stored.name) == ("faces", "Faces")
    assert {f.user_data: f.persisted_face_id for f in stored.persisted_faces} == in_list

    large = client.large_face_list
    large.create("many", name="Many", recognition_model="recognition_04")
    in_large = {
        name: large.add_face_from_stream("many", image(name)).persisted_face_id for name in names
    }
    first = large.list_faces("many", top=2)
    rest = large.list_faces("many", start=first[-1].persisted_face_id, top=2)
    assert [f.persisted_face_id for f in [*first, *rest]] == sorted(in_large.values())
    large.train("many")
    seen = wait_until_final(lambda: large.get_training_status("many"), emulator)
    assert seen[-1] == "succeeded", seen

    def detect(identity: str) -> str:
        return str(
            client.face.detect_with_stream(image(identity), recognition_model="recognition_04")[
                0
            ].face_id
        )

    query = detect("bob")
    similar = client.face.find_similar(query, face_list_id="faces")
    assert [s.persisted_face_id for s in similar] == [in_list["bob"]]
    assert similar[0].confidence >= 0.5
    every = client.face.find_similar(query, face_list_id="faces", mode="matchFace")
    assert every[0].persisted_face_id == in_list["bob"]
    assert {s.persisted_face_id for s in every} == set(in_list.values())

    similar = client.face.find_similar(query, large_face_list_id="many")
    assert [s.persisted_face_id for s in similar] == [in_large["bob"]]

    candidates = {name: detect(name) for name in names}
    similar = client.face.find_similar(query, face_ids=list(candidates.values()))
    assert [s.face_id for s in similar] == [candidates["bob"]]
    assert similar[0].persisted_face_id is None

    grouped = client.face.group([*candidates.values(), query])
    assert [sorted(g) for g in grouped.groups] == [sorted((candidates["bob"], query))]
    assert sorted(grouped.messy_group) == sorted((candidates["alice"], candidates["carol"]))


async def test_v1_face_lists_and_find_similar(sdk: FaceClient, emulator: Emulator) -> None:
    await in_thread(_find_similar_workflow, sdk, emulator)


# ------------------------------------------------------- v1.0 SDK: snapshot take and apply


def _operation_id(response: Any) -> str:
    # As Microsoft's snapshot sample does: the id is the last segment of Operation-Location.
    return str(response.headers["Operation-Location"]).rstrip("/").rsplit("/", 1)[-1]


def _snapshot_workflow(client: FaceClient, emulator: Emulator) -> None:
    client.person_group.create("source", name="Source", user_data="copied")
    person_id = client.person_group_person.create("source", name="lena").person_id
    client.person_group_person.add_face_from_stream("source", person_id, image("lena"))
    scope = [str(uuid.uuid4())]

    taken = client.snapshot.take("PersonGroup", "source", scope, user_data="nightly", raw=True)
    take_id = _operation_id(taken.response)
    seen = wait_until_final(lambda: client.snapshot.get_operation_status(take_id), emulator)
    assert seen[-1] == "succeeded", seen
    operation = client.snapshot.get_operation_status(take_id)
    snapshot_id = operation.resource_location.rstrip("/").rsplit("/", 1)[-1]
    snapshot = client.snapshot.get(snapshot_id)
    assert (snapshot.id, snapshot.type, snapshot.user_data) == (
        snapshot_id,
        v1.SnapshotObjectType.person_group,
        "nightly",
    )
    assert snapshot.apply_scope == scope
    assert [s.id for s in client.snapshot.list(type="PersonGroup")] == [snapshot_id]

    applied = client.snapshot.apply(snapshot_id, "copy", raw=True)
    apply_id = _operation_id(applied.response)
    seen = wait_until_final(lambda: client.snapshot.get_operation_status(apply_id), emulator)
    assert seen[-1] == "succeeded", seen
    location = client.snapshot.get_operation_status(apply_id).resource_location
    assert location.rstrip("/").rsplit("/", 1)[-1] == "copy"
    copy = client.person_group.get("copy")
    assert (copy.name, copy.user_data) == ("Source", "copied")
    [person] = client.person_group_person.list("copy")
    assert (person.person_id, person.name, len(person.persisted_face_ids)) == (person_id, "lena", 1)


async def test_v1_snapshot_take_and_apply(sdk: FaceClient, emulator: Emulator) -> None:
    await in_thread(_snapshot_workflow, sdk, emulator)


# ------------------------------------------------------------------------ v1.0 SDK: detect

# Every attribute the SDK offers that detection_01 computes: all but mask (detection_03 only);
# qualityForRecognition needs recognition_03 or recognition_04.
DETECTION_01_ATTRIBUTES = [a for a in v1.FaceAttributeType if a is not v1.FaceAttributeType.mask]
# What detection_03 computes (Microsoft's "specify a face detection model" page, and
# azure-ai-vision-face's FaceAttributeTypeDetection03: blur, headPose, mask), with
# qualityForRecognition, which recognition_04 computes.
DETECTION_03_ATTRIBUTES = [
    v1.FaceAttributeType.head_pose,
    v1.FaceAttributeType.blur,
    v1.FaceAttributeType.mask,
    v1.FaceAttributeType.quality_for_recognition,
]
LANDMARKS = list(v1.FaceLandmarks._attribute_map)


def _assert_landmarks(face: v1.DetectedFace) -> None:
    rect = face.face_rectangle
    assert rect.width > 0
    assert rect.height > 0
    assert len(LANDMARKS) == 27
    for name in LANDMARKS:
        point = getattr(face.face_landmarks, name)
        assert point is not None, name
        assert rect.left <= point.x <= rect.left + rect.width, name
        assert rect.top <= point.y <= rect.top + rect.height, name


def _detect_every_attribute(client: FaceClient) -> v1.DetectedFace:
    faces = client.face.detect_with_stream(
        image("alice"),
        return_face_landmarks=True,
        return_face_attributes=DETECTION_01_ATTRIBUTES,
        recognition_model="recognition_04",
        return_recognition_model=True,
        detection_model="detection_01",
    )
    assert len(faces) == 1
    return faces[0]


async def test_v1_detect_every_attribute_and_landmarks(
    sdk: FaceClient, unknown_enums: Callable[[], list[str]]
) -> None:
    face = await in_thread(_detect_every_attribute, sdk)
    assert uuid.UUID(face.face_id)
    assert face.recognition_model == "recognition_04"
    _assert_landmarks(face)
    attrs = face.face_attributes
    returned = {
        spec["key"]
        for name, spec in v1.FaceAttributes._attribute_map.items()
        if getattr(attrs, name) is not None
    }
    assert returned == {a.value for a in DETECTION_01_ATTRIBUTES}
    assert 0 < attrs.age < 120
    assert isinstance(attrs.gender, v1.Gender)
    assert 0 <= attrs.smile <= 1
    assert isinstance(attrs.glasses, v1.GlassesType)
    assert -180 <= attrs.head_pose.yaw <= 180
    assert attrs.facial_hair.beard is not None
    emotions = attrs.emotion.as_dict()
    assert len(emotions) == 8
    assert sum(emotions.values()) == pytest.approx(1, abs=0.01)
    assert attrs.hair.hair_color
    assert all(isinstance(c.color, v1.HairColorType) for c in attrs.hair.hair_color)
    assert all(isinstance(a.type, v1.AccessoryType) for a in attrs.accessories)
    assert isinstance(attrs.makeup.eye_makeup, bool)
    assert isinstance(attrs.occlusion.eye_occluded, bool)
    assert isinstance(attrs.blur.blur_level, v1.BlurLevel)
    assert isinstance(attrs.exposure.exposure_level, v1.ExposureLevel)
    assert isinstance(attrs.noise.noise_level, v1.NoiseLevel)
    assert isinstance(attrs.quality_for_recognition, v1.QualityForRecognition)
    assert attrs.mask is None
    assert unknown_enums() == []


def _detect_03(client: FaceClient) -> list[v1.DetectedFace]:
    return client.face.detect_with_stream(
        io.BytesIO(make_face_image("bob", faces=2)),
        return_face_landmarks=True,
        return_face_attributes=DETECTION_03_ATTRIBUTES,
        recognition_model="recognition_04",
        detection_model="detection_03",
    )


async def test_v1_detect_detection_03_with_landmarks(
    sdk: FaceClient, unknown_enums: Callable[[], list[str]]
) -> None:
    faces = await in_thread(_detect_03, sdk)
    assert len(faces) == 2
    assert len({f.face_id for f in faces}) == 2
    for face in faces:
        _assert_landmarks(face)
        attrs = face.face_attributes
        assert isinstance(attrs.mask.type, v1.MaskType)
        assert isinstance(attrs.mask.nose_and_mouth_covered, bool)
        assert isinstance(attrs.blur.blur_level, v1.BlurLevel)
        assert -180 <= attrs.head_pose.roll <= 180
        assert isinstance(attrs.quality_for_recognition, v1.QualityForRecognition)
        assert attrs.age is None
        assert attrs.emotion is None
    assert unknown_enums() == []


# ------------------------------------------------------------------------ v1.0 SDK: errors

Call = Callable[[FaceClient, dict[str, str]], object]


def _seed(client: FaceClient) -> dict[str, str]:
    """One of each container, each with a person and/or a face; returns their ids."""
    ids: dict[str, str] = {}
    client.person_group.create("pg", name="pg")
    ids["person"] = client.person_group_person.create("pg", name="p").person_id
    client.person_group_person.add_face_from_stream("pg", ids["person"], image("a"))
    client.large_person_group.create("lpg", name="lpg")
    ids["large_person"] = client.large_person_group_person.create("lpg", name="p").person_id
    client.large_person_group_person.add_face_from_stream("lpg", ids["large_person"], image("a"))
    client.face_list.create("fl", name="fl")
    client.face_list.add_face_from_stream("fl", image("a"))
    client.large_face_list.create("lfl", name="lfl")
    client.large_face_list.add_face_from_stream("lfl", image("a"))
    ids["face"] = client.face.detect_with_stream(image("a"))[0].face_id
    return ids


def _missing() -> str:
    return str(uuid.uuid4())


TOO_BIG = b"\xff\xd8\xff\xe0" + bytes(6 * 1024 * 1024)

ERRORS: dict[str, tuple[Call, int, str]] = {
    "person group get": (lambda c, i: c.person_group.get("nope"), 404, "PersonGroupNotFound"),
    "person group train": (lambda c, i: c.person_group.train("nope"), 404, "PersonGroupNotFound"),
    "person create": (
        lambda c, i: c.person_group_person.create("nope", name="x"),
        404,
        "PersonGroupNotFound",
    ),
    "person get": (
        lambda c, i: c.person_group_person.get("pg", _missing()),
        404,
        "PersonNotFound",
    ),
    "person face get": (
        lambda c, i: c.person_group_person.get_face("pg", i["person"], _missing()),
        404,
        "PersistedFaceNotFound",
    ),
    "large person group get": (
        lambda c, i: c.large_person_group.get("nope"),
        404,
        "LargePersonGroupNotFound",
    ),
    "large person get": (
        lambda c, i: c.large_person_group_person.get("lpg", _missing()),
        404,
        "PersonNotFound",
    ),
    "large person face get": (
        lambda c, i: c.large_person_group_person.get_face("lpg", i["large_person"], _missing()),
        404,
        "PersistedFaceNotFound",
    ),
    "face list get": (lambda c, i: c.face_list.get("nope"), 404, "FaceListNotFound"),
    "face list delete face": (
        lambda c, i: c.face_list.delete_face("fl", _missing()),
        404,
        "PersistedFaceNotFound",
    ),
    "large face list get": (
        lambda c, i: c.large_face_list.get("nope"),
        404,
        "LargeFaceListNotFound",
    ),
    "large face list face get": (
        lambda c, i: c.large_face_list.get_face("lfl", _missing()),
        404,
        "PersistedFaceNotFound",
    ),
    "find similar in missing face list": (
        lambda c, i: c.face.find_similar(i["face"], face_list_id="nope"),
        404,
        "FaceListNotFound",
    ),
    "identify in missing large person group": (
        lambda c, i: c.face.identify([i["face"]], large_person_group_id="nope"),
        404,
        "LargePersonGroupNotFound",
    ),
    "verify expired face": (
        lambda c, i: c.face.verify_face_to_face(i["face"], _missing()),
        404,
        "FaceNotFound",
    ),
    "snapshot get": (lambda c, i: c.snapshot.get(_missing()), 404, "SnapshotNotFound"),
    "operation status": (
        lambda c, i: c.snapshot.get_operation_status(_missing()),
        404,
        "OperationNotFound",
    ),
    "identify untrained group": (
        lambda c, i: c.face.identify([i["face"]], person_group_id="pg"),
        400,
        "PersonGroupNotTrained",
    ),
    "detect not an image": (
        lambda c, i: c.face.detect_with_stream(io.BytesIO(b"not an image " * 100)),
        400,
        "InvalidImage",
    ),
    "add face not an image": (
        lambda c, i: c.person_group_person.add_face_from_stream(
            "pg", i["person"], io.BytesIO(b"not an image " * 100)
        ),
        400,
        "InvalidImage",
    ),
    "detect image under 1 KB": (
        lambda c, i: c.face.detect_with_stream(io.BytesIO(b"\xff\xd8\xff\xe0" + bytes(500))),
        400,
        "InvalidImageSize",
    ),
    "add face image over 6 MB": (
        lambda c, i: c.face_list.add_face_from_stream("fl", io.BytesIO(TOO_BIG)),
        400,
        "InvalidImageSize",
    ),
    "detect attributes with detection_02": (
        lambda c, i: c.face.detect_with_stream(
            image("a"), return_face_attributes=["age"], detection_model="detection_02"
        ),
        400,
        "BadArgument",
    ),
}


def _error_of(client: FaceClient, call: Call) -> tuple[int, str, str]:
    ids = _seed(client)
    return api_error(lambda: call(client, ids))


@pytest.mark.parametrize(("call", "status", "code"), list(ERRORS.values()), ids=list(ERRORS))
async def test_v1_documented_errors(sdk: FaceClient, call: Call, status: int, code: str) -> None:
    got_status, got_code, message = await in_thread(_error_of, sdk, call)
    assert (got_status, got_code) == (status, code), message
    assert message


def _wrong_key(url: str) -> tuple[int, str, str]:
    client = FaceClient(url, CognitiveServicesCredentials("not-the-key"))
    try:
        return api_error(lambda: client.person_group.list())
    finally:
        client.close()


async def test_v1_wrong_key_is_401(emulator: Emulator) -> None:
    status, code, message = await in_thread(_wrong_key, emulator.url)
    assert status == 401
    # "401" is the gateway's code; "Unspecified" the one Face API v1.0's reference documents.
    assert code in ("401", "Unspecified"), code
    assert "subscription key" in message
    assert "not-the-key" not in message


def _fill_person(client: FaceClient) -> tuple[int, tuple[int, str, str]]:
    client.person_group.create("full", name="full")
    person_id = client.person_group_person.create("full", name="p").person_id
    photo = make_face_image("p")
    for _ in range(248):
        client.person_group_person.add_face_from_stream("full", person_id, io.BytesIO(photo))
    error = api_error(
        lambda: client.person_group_person.add_face_from_stream(
            "full", person_id, io.BytesIO(photo)
        )
    )
    return len(client.person_group_person.get("full", person_id).persisted_face_ids), error


async def test_v1_quota_exceeded_at_the_249th_face(sdk: FaceClient) -> None:
    faces, (status, code, message) = await in_thread(_fill_person, sdk)
    assert faces == 248
    assert (status, code) == (403, "QuotaExceeded"), message


# ------------------------------------------- azure-ai-vision-face 1.0.0b2 (aio, v1.2-preview.1)


async def test_vision_face_aio_large_person_group_workflow(emulator: Emulator) -> None:
    credential = AzureKeyCredential(emulator.key)
    responses: list[int] = []

    def time_passes(response: Any) -> None:
        # The SDK's poller calls this after each response: the emulated training moves on.
        responses.append(response.http_response.status_code)
        emulator.clock.advance(POLL_STEP)

    async with (
        vision_aio.FaceAdministrationClient(endpoint=emulator.url, credential=credential) as admin,
        vision_aio.FaceClient(endpoint=emulator.url, credential=credential) as face,
    ):
        groups = admin.large_person_group
        await groups.create(
            "crew", name="Crew", recognition_model=vision_models.FaceRecognitionModel.RECOGNITION04
        )
        enrolled: dict[str, str] = {}
        for name in ("ines", "jonas"):
            person = await groups.create_person("crew", name=name, user_data=name.upper())
            enrolled[name] = person.person_id
            added = await groups.add_face(
                "crew",
                person.person_id,
                make_face_image(name),
                detection_model=vision_models.FaceDetectionModel.DETECTION03,
            )
            stored = await groups.get_person("crew", person.person_id)
            assert (stored.name, stored.user_data) == (name, name.upper())
            assert stored.persisted_face_ids == [added.persisted_face_id]
        assert sorted(p.person_id for p in await groups.get_persons("crew")) == sorted(
            enrolled.values()
        )

        poller = await groups.begin_train("crew", polling_interval=0, raw_response_hook=time_passes)
        assert await poller.result() is None
        assert poller.status() == "succeeded"
        assert responses[0] == 202
        assert len(responses) <= MAX_POLLS
        training = await groups.get_training_status("crew")
        assert training.status == vision_models.FaceOperationStatus.SUCCEEDED

        detected = await face.detect(
            make_face_image("jonas"),
            detection_model=vision_models.FaceDetectionModel.DETECTION03,
            recognition_model=vision_models.FaceRecognitionModel.RECOGNITION04,
            return_face_id=True,
            return_face_landmarks=True,
            return_face_attributes=[
                *vision_models.FaceAttributeTypeDetection03,
                vision_models.FaceAttributeTypeRecognition04.QUALITY_FOR_RECOGNITION,
            ],
        )
        assert len(detected) == 1
        assert detected[0].face_rectangle.width > 0
        assert detected[0].face_landmarks.nose_tip.x > 0
        attributes = detected[0].face_attributes
        assert attributes.mask.type in set(vision_models.MaskType)
        assert 0 <= attributes.blur.value <= 1
        assert -180 <= attributes.head_pose.yaw <= 180
        assert attributes.quality_for_recognition  # its spelling: the test below
        results = await face.identify_from_large_person_group(
            face_ids=[detected[0].face_id], large_person_group_id="crew"
        )
        assert [r.face_id for r in results] == [detected[0].face_id]
        assert results[0].candidates[0].person_id == enrolled["jonas"]
        assert results[0].candidates[0].confidence >= 0.5


async def test_vision_face_aio_detect_level_spellings(emulator: Emulator) -> None:
    credential = AzureKeyCredential(emulator.key)
    async with vision_aio.FaceClient(endpoint=emulator.url, credential=credential) as face:
        detected = await face.detect(
            make_face_image("kim"),
            detection_model=vision_models.FaceDetectionModel.DETECTION03,
            recognition_model=vision_models.FaceRecognitionModel.RECOGNITION04,
            return_face_id=False,
            return_face_attributes=[
                vision_models.FaceAttributeTypeDetection03.BLUR,
                vision_models.FaceAttributeTypeRecognition04.QUALITY_FOR_RECOGNITION,
            ],
        )
    attributes = detected[0].face_attributes
    # A str Enum member equals only its own spelling: what a user's `== BlurLevel.LOW` sees.
    assert attributes.blur.blur_level in set(vision_models.BlurLevel)
    assert attributes.quality_for_recognition in set(vision_models.QualityForRecognition)


async def test_vision_face_aio_errors(emulator: Emulator) -> None:
    async with vision_aio.FaceAdministrationClient(
        endpoint=emulator.url, credential=AzureKeyCredential(emulator.key)
    ) as admin:
        with pytest.raises(ResourceNotFoundError) as missing:
            await admin.large_person_group.get("missing")
    assert missing.value.status_code == 404
    assert missing.value.error is not None
    assert missing.value.error.code == "LargePersonGroupNotFound"
    async with vision_aio.FaceAdministrationClient(
        endpoint=emulator.url, credential=AzureKeyCredential("not-the-key")
    ) as stranger:
        with pytest.raises(ClientAuthenticationError) as denied:
            await stranger.large_person_group.get("missing")
    assert denied.value.status_code == 401
