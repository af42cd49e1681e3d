"""The pure input checks: what passes, what is refused, and that the parameter is named."""

from __future__ import annotations

from typing import Any

import pytest

import face_async._validation as v
from face_async._errors import FaceValidationError
from face_async._models import DetectionModel, FaceAttributeType, FaceRectangle, RecognitionModel

UUID = "c5c24a82-6845-4031-9d5d-978df9175426"


def _refused(parameter: str) -> Any:
    return pytest.raises(FaceValidationError, match=parameter)


@pytest.mark.parametrize("good", ["a", "staff-1_x", "0" * 64])
def test_id_accepts_documented_characters(good: str) -> None:
    assert v.check_id(good, "person_group_id") == good


@pytest.mark.parametrize("bad", ["", "Staff", "a b", "é", "a/b", "x" * 65, None, 7])
def test_id_refuses_others_and_names_the_parameter(bad: object) -> None:
    with _refused("person_group_id") as info:
        v.check_id(bad, "person_group_id")
    assert info.value.parameter == "person_group_id"
    assert isinstance(info.value, ValueError)


def test_uuid_checks() -> None:
    assert v.check_uuid(UUID.upper(), "person_id") == UUID.upper()
    with _refused("person_id"):
        v.check_uuid("not-a-uuid", "person_id")
    assert v.check_uuid_list([UUID] * 3, "face_ids", min_items=1, max_items=10) == [UUID] * 3
    with _refused("face_ids"):
        v.check_uuid_list([UUID] * 11, "face_ids", min_items=1, max_items=10)
    with _refused("face_ids"):
        v.check_uuid_list([], "face_ids", min_items=1, max_items=10)
    with _refused("face_ids"):
        v.check_uuid_list(UUID, "face_ids", min_items=1, max_items=10)  # a str is not a list


def test_name_limits() -> None:
    assert v.check_name("x" * 128) == "x" * 128
    with _refused("name"):
        v.check_name("x" * 129)
    with _refused("name"):
        v.check_name("")
    with _refused("name"):
        v.check_name(None)
    assert v.check_name(None, required=False) is None


def test_user_data_limits() -> None:
    assert v.check_user_data("x" * 1024, v.FACE_USER_DATA_MAX) == "x" * 1024
    with _refused("user_data"):
        v.check_user_data("x" * 1025, v.FACE_USER_DATA_MAX)
    assert v.check_user_data("x" * 16384, v.GROUP_USER_DATA_MAX) is not None
    with _refused("user_data"):
        v.check_user_data("x" * 16385, v.GROUP_USER_DATA_MAX)


def test_ranges() -> None:
    assert v.check_top(1) == 1
    assert v.check_top(1000) == 1000
    for bad in (0, 1001, True, 2.0):
        with _refused("top"):
            v.check_top(bad)
    assert v.check_confidence(0, "confidence_threshold") == 0.0
    assert v.check_confidence(1, "confidence_threshold") == 1.0
    for bad_confidence in (-0.01, 1.01, float("nan"), "0.5"):
        with _refused("confidence_threshold"):
            v.check_confidence(bad_confidence, "confidence_threshold")
    assert v.check_face_id_time_to_live(60) == 60
    for bad_ttl in (59, 86401):
        with _refused("face_id_time_to_live"):
            v.check_face_id_time_to_live(bad_ttl)


def test_models_accept_enum_known_and_future_names() -> None:
    assert v.recognition_model(RecognitionModel.RECOGNITION_04) == "recognition_04"
    assert v.recognition_model("recognition_05") == "recognition_05"  # the service adds models
    assert v.detection_model(DetectionModel.DETECTION_03) == "detection_03"
    with _refused("recognition_model"):
        v.recognition_model("detection_01")
    with _refused("detection_model"):
        v.detection_model("fast")


def test_face_attributes_accept_enum_and_str_once() -> None:
    names = v.check_face_attributes([FaceAttributeType.AGE, "glasses", "age"])
    assert names == ["age", "glasses"]
    with _refused("return_face_attributes"):
        v.check_face_attributes(["beauty"])


def test_face_attributes_in_any_casing_are_sent_as_documented() -> None:
    # The .NET SDK sends "Mask"; the live service accepts it.
    assert v.check_face_attributes(["Mask", "HEADPOSE", "headPose"]) == ["mask", "headPose"]


@pytest.mark.parametrize(
    ("detection", "recognition", "landmarks", "attributes", "refused"),
    [
        ("detection_02", "recognition_04", True, [], "return_face_landmarks"),
        ("detection_02", "recognition_04", False, ["mask"], "return_face_attributes"),
        ("detection_03", "recognition_04", False, ["age"], "return_face_attributes"),
        ("detection_01", "recognition_04", False, ["mask"], "return_face_attributes"),
        ("detection_01", "recognition_01", False, ["qualityForRecognition"],
         "return_face_attributes"),
    ],
)  # fmt: skip
def test_detect_option_combinations_refused(
    detection: str, recognition: str, landmarks: bool, attributes: list[str], refused: str
) -> None:
    with _refused(refused):
        v.check_detect_options(
            detection=detection, recognition=recognition, return_face_landmarks=landmarks,
            attributes=attributes,
        )  # fmt: skip


def test_detect_option_combinations_allowed() -> None:
    v.check_detect_options(
        detection="detection_03", recognition="recognition_04", return_face_landmarks=False,
        attributes=["mask", "qualityForRecognition"],
    )  # fmt: skip
    # detection_03 returns the 27 landmarks (recorded from the live service).
    v.check_detect_options(
        detection="detection_03", recognition="recognition_04", return_face_landmarks=True,
        attributes=["mask"],
    )  # fmt: skip
    v.check_detect_options(
        detection="detection_01", recognition="recognition_01", return_face_landmarks=True,
        attributes=["age", "glasses", "emotion"],
    )  # fmt: skip
    # An unknown future model is the service's to judge.
    v.check_detect_options(
        detection="detection_04", recognition="recognition_05", return_face_landmarks=True,
        attributes=["age"],
    )  # fmt: skip


def test_target_face() -> None:
    rect = FaceRectangle(left=10, top=20, width=30, height=40)
    assert v.target_face(rect) == "10,20,30,40"
    assert v.target_face((0, 0, 1, 1)) == "0,0,1,1"
    for bad in ((-1, 0, 10, 10), (0, 0, 0, 10), (0, 0, 10), (0, 0, 1.5, 1), "1,2,3,4"):
        with _refused("target_face"):
            v.target_face(bad)


def test_exactly_one() -> None:
    assert v.check_exactly_one({"a": None, "b": 1}) == "b"
    with _refused("a"):
        v.check_exactly_one({"a": None, "b": None})
    with _refused("b"):
        v.check_exactly_one({"a": 1, "b": 2})
