"""Converter behaviour: enums, unknown keys, datetimes, requests, errors, JSON bytes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import cattrs
import pytest

from face_async import _converter, _models
from face_async._converter import ConversionError

RECT = {"width": 10, "height": 20, "left": 1, "top": 2}


def test_known_enum_value_becomes_member() -> None:
    face = _converter.structure(
        {"faceRectangle": RECT, "recognitionModel": "recognition_04"}, _models.DetectedFace
    )
    assert face.recognition_model is _models.RecognitionModel.RECOGNITION_04


def test_unknown_enum_value_stays_a_string() -> None:
    face = _converter.structure(
        {
            "faceRectangle": RECT,
            "recognitionModel": "recognition_09",
            "faceAttributes": {"glasses": "monocle", "qualityForRecognition": "Superb"},
        },
        _models.DetectedFace,
    )
    assert face.recognition_model == "recognition_09"
    assert type(face.recognition_model) is str
    assert face.face_attributes is not None
    assert face.face_attributes.glasses == "monocle"
    assert type(face.face_attributes.quality_for_recognition) is str


@pytest.mark.parametrize(
    ("cls", "spelling"),
    [
        (_models.TrainingStatus, "nonstarted"),
        (_models.TrainingStatus, "notstarted"),
        (_models.OperationStatus, "notstarted"),
        (_models.OperationStatus, "nonstarted"),
    ],
)
def test_not_started_accepted_in_both_spellings(cls: type[Any], spelling: str) -> None:
    key = "createdDateTime" if cls is _models.TrainingStatus else "createdTime"
    status = _converter.structure({"status": spelling, key: "2020-01-01T00:00:00Z"}, cls).status
    assert status.value == spelling  # a member, not a bare string


def test_unknown_keys_ignored_in_production_but_rejected_by_strict() -> None:
    data = {
        "faceRectangle": RECT,
        "brandNewField": {"x": 1},
        "faceAttributes": {"accessories": [{"type": "mask", " confidence": 0.87}]},
    }
    face = _converter.structure(data, _models.DetectedFace)
    assert face.face_attributes is not None
    assert face.face_attributes.accessories == [
        _models.Accessory(type=_models.AccessoryType.MASK, confidence=None)
    ]
    with pytest.raises(cattrs.BaseValidationError):
        _converter.make_strict_converter().structure(data, _models.DetectedFace)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2018-12-25T11:41:02.2331413Z", datetime(2018, 12, 25, 11, 41, 2, 233141, timezone.utc)),
        ("2017-12-21T12:57:27.00Z", datetime(2017, 12, 21, 12, 57, 27, 0, timezone.utc)),
        ("2017-12-21T12:57:27.5Z", datetime(2017, 12, 21, 12, 57, 27, 500000, timezone.utc)),
        ("2017-12-21T12:57:27Z", datetime(2017, 12, 21, 12, 57, 27, 0, timezone.utc)),
        ("2017-12-21T12:57:27", datetime(2017, 12, 21, 12, 57, 27, 0, timezone.utc)),
        (
            "2017-12-21T14:57:27.123+02:00",
            datetime(2017, 12, 21, 12, 57, 27, 123000, timezone.utc),
        ),
        ("2017-12-21T10:57:27-0200", datetime(2017, 12, 21, 12, 57, 27, 0, timezone.utc)),
    ],
)
def test_datetimes_parsed_aware(text: str, expected: datetime) -> None:
    status = _converter.structure(
        {"status": "running", "createdDateTime": text, "lastActionDateTime": text},
        _models.TrainingStatus,
    )
    assert status.created_date_time == expected
    assert status.created_date_time.utcoffset() is not None
    assert status.last_action_date_time == expected


def test_datetime_offset_kept() -> None:
    parsed = _converter.parse_datetime("2017-12-21T14:57:27+05:30")
    assert parsed.utcoffset() == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize("bad", ["yesterday", "2017-13-45T99:00:00Z", 12345, None])
def test_bad_datetime_is_a_conversion_error(bad: object) -> None:
    with pytest.raises(ConversionError) as info:
        _converter.structure({"status": "running", "createdDateTime": bad}, _models.TrainingStatus)
    assert info.value.target == "TrainingStatus"


def test_datetime_unstructures_with_z() -> None:
    snapshot = _models.Snapshot(
        id="s",
        account="a",
        type=_models.SnapshotObjectType.PERSON_GROUP,
        apply_scope=[],
        created_time=datetime(2020, 1, 2, 3, 4, 5, 600000, timezone.utc),
        last_update_time=datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    )
    out = _converter.unstructure(snapshot)
    assert isinstance(out, dict)
    assert out["createdTime"] == "2020-01-02T03:04:05.600000Z"
    assert out["lastUpdateTime"] == "2020-01-02T03:04:05Z"
    assert out["type"] == "PersonGroup"
    assert "userData" not in out


def test_request_unstructure_camel_case_and_omits_none() -> None:
    request = _models.IdentifyRequest(
        face_ids=["f1", "f2"], large_person_group_id="lpg", max_num_of_candidates_returned=3
    )
    assert _converter.unstructure(request) == {
        "faceIds": ["f1", "f2"],
        "largePersonGroupId": "lpg",
        "maxNumOfCandidatesReturned": 3,
    }


def test_special_names() -> None:
    assert _converter.unstructure(_models.VerifyFaceToFaceRequest(face_id1="a", face_id2="b")) == {
        "faceId1": "a",
        "faceId2": "b",
    }
    assert _converter.unstructure(_models.Makeup(eye_makeup=True)) == {"eyeMakeup": True}
    person = _converter.structure(
        {"personId": "p", "persistedFaceIds": ["x"], "name": "n"}, _models.Person
    )
    assert person.persisted_face_ids == ["x"]
    assert _converter.camel_case("face_id_time_to_live") == "faceIdTimeToLive"


def test_enum_and_str_values_serialise_to_strings() -> None:
    body = _converter.dumps(
        _models.FindSimilarRequest(face_id="f", mode=_models.FindSimilarMatchMode.MATCH_FACE)
    )
    assert json.loads(body) == {"faceId": "f", "mode": "matchFace"}
    body = _converter.dumps(_models.MetaDataContract(name="n", recognition_model="recognition_99"))
    assert json.loads(body) == {"name": "n", "recognitionModel": "recognition_99"}


def test_dumps_handles_lists_of_models_and_plain_data() -> None:
    assert json.loads(_converter.dumps([_models.ImageUrl(url="http://x/a.jpg")])) == [
        {"url": "http://x/a.jpg"}
    ]
    assert _converter.dumps({"a": [1, "b"]}) == b'{"a":[1,"b"]}'


def test_loads() -> None:
    assert _converter.loads(b'{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}
    assert _converter.loads(b"") is None
    assert _converter.loads(b"  \n") is None
    with pytest.raises(ConversionError):
        _converter.loads(b"{not json")
    with pytest.raises(ConversionError):
        _converter.loads(b"\xff\xfe")


def test_list_where_object_expected() -> None:
    with pytest.raises(ConversionError) as info:
        _converter.structure([RECT], _models.FaceRectangle)
    assert info.value.target == "FaceRectangle"
    assert "object" in info.value.reason
    assert isinstance(info.value, ValueError)


def test_missing_required_key() -> None:
    with pytest.raises(ConversionError) as info:
        _converter.structure({"width": 1, "height": 2, "left": 3}, _models.FaceRectangle)
    assert "top" in info.value.reason


@pytest.mark.parametrize(
    "data",
    [
        {"faceRectangle": [1, 2, 3, 4]},
        {"faceRectangle": {**RECT, "width": "wide"}},
        {"faceRectangle": {**RECT, "width": 1.5}},
        {"faceRectangle": RECT, "faceId": {"nested": True}},
        {"faceRectangle": RECT, "faceLandmarks": {"noseTip": {"x": 1.0}}},
        {"faceRectangle": RECT, "faceAttributes": {"accessories": {"type": "mask"}}},
        {"faceRectangle": RECT, "faceAttributes": {"makeup": {"eyeMakeup": "yes"}}},
        {"faceRectangle": RECT, "recognitionModel": 4},
        {"faceRectangle": None},
        "face",
        None,
    ],
)
def test_wrong_shapes_raise_conversion_error_only(data: object) -> None:
    with pytest.raises(ConversionError) as info:
        _converter.structure(data, _models.DetectedFace)
    assert info.value.target == "DetectedFace"
    assert info.value.reason


def test_structure_list() -> None:
    faces = _converter.structure_list([{"faceRectangle": RECT}] * 2, _models.DetectedFace)
    assert faces == [_models.DetectedFace(face_rectangle=_models.FaceRectangle(**RECT))] * 2
    assert _converter.structure_list([], _models.DetectedFace) == []
    with pytest.raises(ConversionError) as info:
        _converter.structure_list({"faceRectangle": RECT}, _models.DetectedFace)
    assert info.value.target == "list[DetectedFace]"
    with pytest.raises(ConversionError) as info:
        _converter.structure_list([{"faceRectangle": RECT}, {}], _models.DetectedFace)
    assert "item 1" in info.value.reason


def test_null_optional_fields_become_none() -> None:
    face = _converter.structure(
        {"faceRectangle": RECT, "faceId": None, "faceAttributes": {"age": None, "hair": None}},
        _models.DetectedFace,
    )
    assert face.face_id is None
    assert face.face_attributes == _models.FaceAttributes()


def test_integral_numbers_accepted_where_floats_expected() -> None:
    point = _converter.structure({"x": 3, "y": 4.5}, _models.Coordinate)
    assert point == _models.Coordinate(x=3.0, y=4.5)
    strict = _converter.make_strict_converter().structure({"x": 3, "y": 4.5}, _models.Coordinate)
    assert type(strict.x) is float


def test_strict_converter_rejects_wrong_primitive_types() -> None:
    strict = _converter.make_strict_converter()
    with pytest.raises(cattrs.BaseValidationError):
        strict.structure({"x": "3", "y": 4.5}, _models.Coordinate)
    with pytest.raises(cattrs.BaseValidationError):
        strict.structure({"isIdentical": 1, "confidence": 0.5}, _models.VerifyResult)


def test_models_are_frozen() -> None:
    rect = _models.FaceRectangle(**RECT)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        rect.width = 5  # type: ignore[misc]
    assert hash(rect) == hash(_models.FaceRectangle(**RECT))


def test_models_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        _models.Coordinate(1.0, 2.0)  # type: ignore[call-arg]


def test_hooks_are_built_once() -> None:
    hook = _converter.converter.get_structure_hook(_models.DetectedFace)
    _converter.structure({"faceRectangle": RECT}, _models.DetectedFace)
    assert _converter.converter.get_structure_hook(_models.DetectedFace) is hook


def test_structure_accepts_list_types() -> None:
    faces = _converter.structure([{"faceRectangle": RECT}], list[_models.DetectedFace])
    assert faces == [_models.DetectedFace(face_rectangle=_models.FaceRectangle(**RECT))]
    with pytest.raises(ConversionError) as info:
        _converter.structure([{"faceRectangle": "x"}], list[_models.DetectedFace])
    assert info.value.target == "list[DetectedFace]"


def test_converter_built_instances_behave_like_constructed_ones() -> None:
    data = {"faceRectangle": RECT, "faceAttributes": {"hair": {"hairColor": []}}}
    built = _converter.structure(data, _models.DetectedFace)
    constructed = _models.DetectedFace(
        face_rectangle=_models.FaceRectangle(**RECT),
        face_attributes=_models.FaceAttributes(hair=_models.Hair(hair_color=[])),
    )
    assert built == constructed
    assert repr(built) == repr(constructed)
    assert attrs.evolve(built, face_id="f").face_id == "f"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.face_id = "x"  # type: ignore[misc]
    assert hash(_converter.structure(RECT, _models.FaceRectangle)) == hash(
        _models.FaceRectangle(**RECT)
    )


def test_json_fallback_without_orjson(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_converter, "orjson", None)
    assert _converter.loads(b'{"a": [1, "\\u00e9"]}') == {"a": [1, "\u00e9"]}
    assert _converter.dumps({"name": "\u00e9", "n": 1}) == '{"name":"\u00e9","n":1}'.encode()
    with pytest.raises(ConversionError):
        _converter.loads(b"[1,")


@pytest.mark.parametrize("strict", [False, True])
def test_documented_case_variants_become_members(strict: bool) -> None:
    data = {
        "glasses": "NoGlasses",
        "accessories": [{"type": "headwear"}],
        "exposure": {"exposureLevel": "goodexposure"},
    }
    conv = _converter.make_strict_converter() if strict else _converter.converter
    attributes = conv.structure(data, _models.FaceAttributes)
    assert attributes.glasses is _models.GlassesType.NO_GLASSES
    assert attributes.accessories == [_models.Accessory(type=_models.AccessoryType.HEAD_WEAR)]
    assert attributes.exposure == _models.Exposure(
        exposure_level=_models.ExposureLevel.GOOD_EXPOSURE
    )
    assert _converter.unstructure(attributes)["glasses"] == "noGlasses"  # type: ignore[index]


def test_already_typed_values_restructure_unchanged() -> None:
    face = _models.DetectedFace(
        face_rectangle=_models.FaceRectangle(**RECT),
        face_id="f",
        recognition_model=_models.RecognitionModel.RECOGNITION_03,
    )
    data = {
        "faceRectangle": RECT,
        "faceId": _models.Gender.MALE,  # a str subclass: its plain value is kept
        "recognitionModel": _models.RecognitionModel.RECOGNITION_03,
    }
    again = _converter.structure(data, _models.DetectedFace)
    assert again.recognition_model is _models.RecognitionModel.RECOGNITION_03
    assert again.face_id == "male"
    assert type(again.face_id) is str
    assert _converter.structure(_converter.unstructure(face), _models.DetectedFace) == face


def _detect_body(faces: int) -> list[dict[str, Any]]:
    return [
        {
            "faceId": f"00000000-0000-0000-0000-{index:012d}",
            "faceRectangle": {"left": index, "top": 2, "width": 30, "height": 30},
            "faceAttributes": {"age": 30.0 + index, "glasses": "NoGlasses"},
        }
        for index in range(faces)
    ]


def test_consuming_structure_list_equals_the_plain_one_and_releases_the_items() -> None:
    data: list[Any] = _detect_body(5)
    expected = _converter.structure_list(_detect_body(5), _models.DetectedFace)
    faces = _converter.structure_list(data, _models.DetectedFace, consume=True)
    assert faces == expected
    assert [type(face) for face in faces] == [_models.DetectedFace] * 5
    assert data == [None] * 5


def test_consuming_structure_list_names_the_failing_item() -> None:
    data: list[Any] = _detect_body(3)
    del data[2]["faceRectangle"]
    with pytest.raises(ConversionError, match="item 2"):
        _converter.structure_list(data, _models.DetectedFace, consume=True)
    with pytest.raises(ConversionError, match="expected a JSON array"):
        _converter.structure_list({"faceId": "x"}, _models.DetectedFace, consume=True)
