"""EmulatorConfig: conversion and validation of knobs set from Python, text and JSON."""

from __future__ import annotations

import pytest

from face_async.emulator import EmulatorConfig, Fault, Latency, RateLimit, ServiceLimits
from face_async.emulator._config import apply_json, glob_match
from face_async.emulator._knobs import write_key


def test_defaults() -> None:
    config = EmulatorConfig()
    assert config.latency == {}
    assert config.rate_limit is None
    assert config.rate_limit_form == "mix"  # the gateway's 429 form is in the default mix
    assert config.faults == []
    assert config.conflict_mode == "conflict"
    assert config.seed == 0
    assert isinstance(config.limits, ServiceLimits)


def test_assignments_are_converted_and_validated() -> None:
    config = EmulatorConfig()
    config.latency = {"*": 0.1, "Face_*": "uniform:0.1:0.2"}  # type: ignore[dict-item]
    assert config.latency == {"*": Latency.fixed(0.1), "Face_*": Latency.uniform(0.1, 0.2)}
    config.rate_limit = "5:2"  # type: ignore[assignment]
    assert config.rate_limit == RateLimit(5, 2)
    config.faults = ["500:0.25:*AddFace*:3"]  # type: ignore[list-item]
    assert config.faults[0].to_text() == "500:0.25:*AddFace*:3"
    with pytest.raises(ValueError, match="conflict_mode"):
        config.conflict_mode = "maybe"
    with pytest.raises(ValueError, match="rate_limit_form"):
        config.rate_limit_form = "retry"
    with pytest.raises(ValueError, match="slow_seconds"):
        config.slow_seconds = -1
    with pytest.raises(ValueError, match="'kind' must be in"):
        config.faults = [Fault("418")]
    with pytest.raises(ValueError, match="probability"):
        Fault("500", probability=1.5)
    assert config.conflict_mode == "conflict"
    assert config.slow_seconds == 30.0


def test_fault_parse() -> None:
    fault = Fault.parse("reset_after_commit:0.1")
    assert (fault.kind, fault.probability, fault.operations, fault.count) == (
        "reset_after_commit",
        0.1,
        "*",
        None,
    )
    assert Fault.parse("slow:1:Face_Detect*:2").count == 2
    for bad, why in [
        ("500", "KIND:PROB"),
        ("500:x", "float"),
        ("nope:1", "'kind' must be in"),
        ("500:1:*:x", "int"),
        ("500:1:*:1:extra", "KIND:PROB"),
    ]:
        with pytest.raises(ValueError, match=why):
            Fault.parse(bad)


def test_equal_fault_rules_are_distinct_rules() -> None:
    first, second = Fault("500"), Fault("500")
    assert first != second
    assert len({first, second}) == 2


def test_apply_json_is_all_or_nothing() -> None:
    config = EmulatorConfig()
    apply_json(config, {"rate_limit": {"tps": 3}, "latency": {"*": {"distribution": "fixed"}}})
    assert config.rate_limit == RateLimit(3)
    assert config.latency == {"*": Latency.fixed(0.0)}
    with pytest.raises(ValueError, match="conflict_mode"):
        apply_json(config, {"seed": 5, "conflict_mode": "sometimes"})
    assert config.seed == 0
    with pytest.raises(TypeError):
        apply_json(config, ["seed"])
    apply_json(config, {"rate_limit": None, "rate_limit_form": "gateway"})
    assert (config.rate_limit, config.rate_limit_form) == (None, "gateway")
    copy = EmulatorConfig()
    apply_json(copy, config.to_json())
    assert copy == config


def test_apply_json_changes_limits_in_place() -> None:
    config = EmulatorConfig()
    limits = config.limits
    apply_json(config, {"limits": {"training_seconds": 2, "max_persons_per_person_group": 3}})
    assert config.limits is limits
    assert (limits.training_seconds, limits.max_persons_per_person_group) == (2.0, 3)
    for bad, error in [
        ({"nope": 1}, ValueError),
        ({"max_faces_per_person": 1.5}, ValueError),
        ({"max_faces_per_person": -1}, ValueError),
        ({"training_seconds": "fast"}, TypeError),
        ([1], TypeError),
    ]:
        with pytest.raises(error, match="limit"):
            apply_json(config, {"seed": 4, "limits": bad})
    assert config.seed == 0
    assert limits.max_faces_per_person == 248


def test_glob_match_is_case_sensitive_and_cached() -> None:
    assert glob_match("*AddFace*", "PersonGroupPerson_AddFaceFromStream")
    assert not glob_match("*addface*", "PersonGroupPerson_AddFaceFromStream")
    before = glob_match.cache_info().hits
    glob_match("*AddFace*", "PersonGroupPerson_AddFaceFromStream")
    assert glob_match.cache_info().hits == before + 1


@pytest.mark.parametrize(
    ("operation", "params", "key"),
    [
        (
            "PersonGroupPerson_AddFaceFromUrl",
            {"personGroupId": "G1", "personId": "P"},
            "persongroups/g1/persons/p",
        ),
        (
            "LargePersonGroupPerson_DeleteFace",
            {"largePersonGroupId": "l", "personId": "p", "persistedFaceId": "f"},
            "largepersongroups/l/persons/p",
        ),
        ("FaceList_AddFaceFromStream", {"faceListId": "fl"}, "facelists/fl"),
        (
            "LargeFaceList_DeleteFace",
            {"largeFaceListId": "x", "persistedFaceId": "f"},
            "largefacelists/x",
        ),
        ("PersonGroupPerson_UpdateFace", {"personGroupId": "g", "personId": "p"}, None),
        ("PersonGroupPerson_Create", {"personGroupId": "g"}, None),
        ("Face_DetectWithStream", {}, None),
    ],
)
def test_write_key(operation: str, params: dict[str, str], key: str | None) -> None:
    assert write_key(operation, params) == key
