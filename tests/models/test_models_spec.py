"""The models against the spec: every definition, property, enum value and example."""

from __future__ import annotations

import enum
import json
import types
import typing
from pathlib import Path
from typing import Any

import attrs
import pytest

from face_async import _converter, _models

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SPEC: dict[str, Any] = json.loads((FIXTURES / "Face.json").read_text(encoding="utf-8"))
DEFINITIONS: dict[str, Any] = SPEC["definitions"]

# Spec definitions whose class name differs (APIError would clash with the exception class).
CLASS_NAMES = {"APIError": "APIErrorResponse", "Error": "APIErrorDetail"}
# Scalar definitions: enums become enum classes, numbers stay float.
SCALAR_DEFINITIONS = {"Confidence", "Level", "RecognitionModel", "QualityForRecognition"}
# Models that are not spec definitions (the URL body is a shared parameter in the spec).
EXTRA_MODELS = {"ImageUrl"}

# operationId -> the type its 200/202 body structures into (None: empty body).
RESPONSE_TYPES: dict[str, Any] = {
    "Face_DetectWithUrl": list[_models.DetectedFace],
    "Face_DetectWithStream": list[_models.DetectedFace],
    "Face_FindSimilar": list[_models.SimilarFace],
    "Face_Group": _models.GroupResult,
    "Face_Identify": list[_models.IdentifyResult],
    "Face_VerifyFaceToFace": _models.VerifyResult,
    "Face_VerifyFaceToPerson": _models.VerifyResult,
    "PersonGroup_Create": None,
    "PersonGroup_Delete": None,
    "PersonGroup_Get": _models.PersonGroup,
    "PersonGroup_Update": None,
    "PersonGroup_GetTrainingStatus": _models.TrainingStatus,
    "PersonGroup_List": list[_models.PersonGroup],
    "PersonGroup_Train": None,
    "PersonGroupPerson_Create": _models.Person,
    "PersonGroupPerson_List": list[_models.Person],
    "PersonGroupPerson_Delete": None,
    "PersonGroupPerson_Get": _models.Person,
    "PersonGroupPerson_Update": None,
    "PersonGroupPerson_DeleteFace": None,
    "PersonGroupPerson_GetFace": _models.PersistedFace,
    "PersonGroupPerson_UpdateFace": None,
    "PersonGroupPerson_AddFaceFromUrl": _models.PersistedFace,
    "PersonGroupPerson_AddFaceFromStream": _models.PersistedFace,
    "LargePersonGroup_Create": None,
    "LargePersonGroup_Delete": None,
    "LargePersonGroup_Get": _models.LargePersonGroup,
    "LargePersonGroup_Update": None,
    "LargePersonGroup_GetTrainingStatus": _models.TrainingStatus,
    "LargePersonGroup_List": list[_models.LargePersonGroup],
    "LargePersonGroup_Train": None,
    "LargePersonGroupPerson_Create": _models.Person,
    "LargePersonGroupPerson_List": list[_models.Person],
    "LargePersonGroupPerson_Delete": None,
    "LargePersonGroupPerson_Get": _models.Person,
    "LargePersonGroupPerson_Update": None,
    "LargePersonGroupPerson_DeleteFace": None,
    "LargePersonGroupPerson_GetFace": _models.PersistedFace,
    "LargePersonGroupPerson_UpdateFace": None,
    "LargePersonGroupPerson_AddFaceFromUrl": _models.PersistedFace,
    "LargePersonGroupPerson_AddFaceFromStream": _models.PersistedFace,
    "FaceList_Create": None,
    "FaceList_Get": _models.FaceList,
    "FaceList_Update": None,
    "FaceList_Delete": None,
    "FaceList_List": list[_models.FaceList],
    "FaceList_DeleteFace": None,
    "FaceList_AddFaceFromUrl": _models.PersistedFace,
    "FaceList_AddFaceFromStream": _models.PersistedFace,
    "LargeFaceList_Create": None,
    "LargeFaceList_Get": _models.LargeFaceList,
    "LargeFaceList_Update": None,
    "LargeFaceList_Delete": None,
    "LargeFaceList_GetTrainingStatus": _models.TrainingStatus,
    "LargeFaceList_List": list[_models.LargeFaceList],
    "LargeFaceList_Train": None,
    "LargeFaceList_DeleteFace": None,
    "LargeFaceList_GetFace": _models.PersistedFace,
    "LargeFaceList_UpdateFace": None,
    "LargeFaceList_AddFaceFromUrl": _models.PersistedFace,
    "LargeFaceList_AddFaceFromStream": _models.PersistedFace,
    "LargeFaceList_ListFaces": list[_models.PersistedFace],
    "Snapshot_Take": None,
    "Snapshot_List": list[_models.Snapshot],
    "Snapshot_Get": _models.Snapshot,
    "Snapshot_Update": None,
    "Snapshot_Delete": None,
    "Snapshot_Apply": None,
    "Snapshot_GetOperationStatus": _models.OperationStatus,
}


def _operations() -> list[tuple[str, dict[str, Any]]]:
    ops = []
    for section in ("paths", "x-ms-paths"):
        for methods in SPEC[section].values():
            for op in methods.values():
                if isinstance(op, dict) and "operationId" in op:
                    ops.append((op["operationId"], op))
    return ops


OPERATIONS = dict(_operations())


def _model_for(definition: str) -> type[Any]:
    cls = getattr(_models, CLASS_NAMES.get(definition, definition))
    assert attrs.has(cls), definition
    return cls


def _object_definitions() -> list[str]:
    return sorted(
        name
        for name, schema in DEFINITIONS.items()
        if schema.get("type") == "object" and name not in SCALAR_DEFINITIONS
    )


def _properties(definition: str) -> tuple[dict[str, Any], set[str]]:
    """Properties and required names, following allOf."""
    schema = DEFINITIONS[definition]
    props = dict(schema.get("properties", {}))
    required = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        sub_props, sub_required = _properties(part["$ref"].rsplit("/", 1)[1])
        props.update(sub_props)
        required |= sub_required
    return props, required


def _enum_in(annotation: Any) -> type[enum.Enum] | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        for arg in typing.get_args(annotation):
            found = _enum_in(arg)
            if found is not None:
                return found
        return None
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return annotation
    return None


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return DEFINITIONS[ref.rsplit("/", 1)[1]] if ref else schema


def test_operation_table_covers_the_spec() -> None:
    assert set(RESPONSE_TYPES) == set(OPERATIONS)


@pytest.mark.parametrize("operation_id", sorted(RESPONSE_TYPES))
def test_operation_table_matches_response_schema(operation_id: str) -> None:
    responses = OPERATIONS[operation_id]["responses"]
    schema = next(r.get("schema") for code, r in responses.items() if code in ("200", "202"))
    expected = RESPONSE_TYPES[operation_id]
    if schema is None:
        assert expected is None
        return
    definition = schema["$ref"].rsplit("/", 1)[1]
    if DEFINITIONS[definition].get("type") == "array":
        item = DEFINITIONS[definition]["items"]["$ref"].rsplit("/", 1)[1]
        assert expected == types.GenericAlias(list, (_model_for(item),))
    else:
        assert expected is _model_for(definition)


# Fields the live service sends that the spec lacks (recorded: tests/fixtures/recordings).
LIVE_ONLY_FIELDS = {
    "OperationStatus": {"finishedTime"},
    "TrainingStatus": {"lastSuccessfulTrainingId"},
}


@pytest.mark.parametrize("definition", _object_definitions())
def test_every_property_is_a_field(definition: str) -> None:
    cls = _model_for(definition)
    props, required = _properties(definition)
    live_only = LIVE_ONLY_FIELDS.get(definition, set())
    fields = {_converter.camel_case(f.name): f for f in attrs.fields(cls)}
    assert set(fields) == set(props) | live_only, definition
    for key in live_only:
        assert fields[key].default is None, f"{definition}.{key} must be optional"
    fields = {key: field for key, field in fields.items() if key not in live_only}
    for key, field in fields.items():
        has_default = field.default is not attrs.NOTHING
        assert has_default == (key not in required), f"{definition}.{key} required-ness"
        assert field.kw_only


@pytest.mark.parametrize("definition", _object_definitions())
def test_enum_properties_use_enums_with_the_spec_values(definition: str) -> None:
    cls = _model_for(definition)
    props, _ = _properties(definition)
    hints = typing.get_type_hints(cls)
    for f in attrs.fields(cls):
        if _converter.camel_case(f.name) in LIVE_ONLY_FIELDS.get(definition, set()):
            continue
        prop = _resolve(props[_converter.camel_case(f.name)])
        enum_cls = _enum_in(hints[f.name])
        if "enum" not in prop:
            assert enum_cls is None, f"{definition}.{f.name}"
            continue
        assert enum_cls is not None, f"{definition}.{f.name} should be an enum"
        assert set(prop["enum"]) <= {m.value for m in enum_cls}
        assert prop.get("x-ms-enum", {}).get("name", enum_cls.__name__) == enum_cls.__name__
        # Extensible: an unknown value must stay representable as a plain string.
        assert str in typing.get_args(hints[f.name])


def test_detection_model_and_attribute_type_match_parameters() -> None:
    params = SPEC["parameters"]
    assert {m.value for m in _models.DetectionModel} == set(params["detectionModel"]["enum"])
    attribute_values = set(params["returnFaceAttributes"]["items"]["enum"])
    assert {m.value for m in _models.FaceAttributeType} == attribute_values


def test_both_not_started_spellings_are_members() -> None:
    for status_enum in (_models.TrainingStatusType, _models.OperationStatusType):
        assert status_enum("nonstarted") is not status_enum("notstarted")


def test_all_is_sorted_and_complete() -> None:
    assert _models.__all__ == sorted(_models.__all__)
    public = {
        name
        for name, value in vars(_models).items()
        if not name.startswith("_")
        and isinstance(value, type)
        and value.__module__ == _models.__name__
    }
    assert set(_models.__all__) == public
    expected = {CLASS_NAMES.get(name, name) for name in _object_definitions()}
    expected |= {"RecognitionModel", "QualityForRecognition"} | EXTRA_MODELS
    assert expected <= public


def _examples() -> list[tuple[str, str, Any, Any]]:
    """(example file, operationId, status, body) for every 200/202 response with a body."""
    by_file = {}
    for operation_id, op in OPERATIONS.items():
        for ref in op.get("x-ms-examples", {}).values():
            by_file[ref["$ref"].rsplit("/", 1)[1]] = operation_id
    out = []
    for path in sorted((FIXTURES / "examples").glob("*.json")):
        example = json.loads(path.read_text(encoding="utf-8"))
        for status, response in example["responses"].items():
            if status in ("200", "202"):
                out.append((path.name, by_file[path.name], response.get("body"), example))
    return out


EXAMPLES = _examples()


def test_every_example_belongs_to_an_operation() -> None:
    assert len({name for name, *_ in EXAMPLES}) == len(list((FIXTURES / "examples").glob("*.json")))


@pytest.mark.parametrize(
    ("name", "operation_id", "body"), [e[:3] for e in EXAMPLES], ids=[e[0] for e in EXAMPLES]
)
def test_strict_converter_structures_example_response(
    name: str, operation_id: str, body: Any
) -> None:
    target = RESPONSE_TYPES[operation_id]
    if target is None:
        assert body in (None, "", {}), name
        return
    strict = _converter.make_strict_converter()
    result = strict.structure(body, target)
    # Lossless: unstructuring gives the example back (nulls in the example are omitted).
    assert _without_nulls(_converter.unstructure(result)) == _without_nulls(
        _normalise_datetimes(body)
    )
    # The production path agrees with the strict one.
    if isinstance(body, list):
        assert _converter.structure_list(body, target.__args__[0]) == result
    else:
        assert _converter.structure(body, target) == result


REQUEST_BODIES = [
    (name, operation_id, example["parameters"]["body"])
    for name, operation_id, _, example in EXAMPLES
    if isinstance(example["parameters"].get("body"), dict)
]


@pytest.mark.parametrize(
    ("name", "operation_id", "body"), REQUEST_BODIES, ids=[r[0] for r in REQUEST_BODIES]
)
def test_request_example_round_trips(name: str, operation_id: str, body: Any) -> None:
    params = OPERATIONS[operation_id]["parameters"]
    ref = next(p["schema"]["$ref"] for p in params if p.get("in") == "body")
    cls = _model_for(ref.rsplit("/", 1)[1])
    request = _converter.make_strict_converter().structure(body, cls)
    assert json.loads(_converter.dumps(request)) == _without_nulls(body), name


def test_there_are_request_examples() -> None:
    assert len(REQUEST_BODIES) >= 10


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _normalise_datetimes(value: Any) -> Any:
    """Re-render timestamps as the converter writes them (microseconds, "Z")."""
    if isinstance(value, dict):
        return {k: _normalise_datetimes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise_datetimes(v) for v in value]
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and value[10] == "T":
        return _converter.format_datetime(_converter.parse_datetime(value))
    return value
