"""The operation declarations match the spec: every operationId once, right method and path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from face_async._http._operations import ALL_OPERATIONS

SPEC = json.loads((Path(__file__).parents[1] / "fixtures" / "Face.json").read_text("utf-8"))
NON_IDEMPOTENT = {
    "Snapshot_Take",
    "Snapshot_Apply",
    "PersonGroupPerson_Create",
    "LargePersonGroupPerson_Create",
}


def _spec_operations() -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for paths in (SPEC["paths"], SPEC["x-ms-paths"]):
        for path, item in paths.items():
            for method, op in item.items():
                found[op["operationId"]] = (method.upper(), path.split("?")[0])
    return found


def test_every_spec_operation_is_declared_once() -> None:
    ids = [op.operation_id for op in ALL_OPERATIONS]
    assert len(ids) == len(set(ids)) == 69
    assert set(ids) == set(_spec_operations())


@pytest.mark.parametrize("op", ALL_OPERATIONS, ids=lambda op: op.operation_id)
def test_method_path_and_idempotency_match_the_spec(op: object) -> None:
    from face_async._http._operations import Operation

    assert isinstance(op, Operation)
    assert (op.method, op.path) == _spec_operations()[op.operation_id]
    writes_once = "AddFace" in op.operation_id or op.operation_id in NON_IDEMPOTENT
    assert op.idempotent is not writes_once


# That every operation is called by a resource method, with a 2xx and with an error, is
# checked over HTTP in test_every_operation.py (by what the emulator saw, not by the source).


SURFACE = {
    "face": "detect identify verify_face_to_face verify_face_to_person find_similar group",
    "person_groups": "create get update delete list iter train get_training_status "
    "wait_for_training",
    "person_group_persons": "create get update delete list iter add_face get_face update_face "
    "delete_face",
    "face_lists": "create get update delete list add_face delete_face",
    "large_face_lists": "create get update delete list iter train get_training_status "
    "wait_for_training add_face get_face update_face delete_face list_faces iter_faces",
    "snapshots": "take list get update delete apply get_operation_status",
}
SURFACE["large_person_groups"] = SURFACE["person_groups"]
SURFACE["large_person_group_persons"] = SURFACE["person_group_persons"]


@pytest.mark.parametrize("attr", sorted(SURFACE))
async def test_client_surface_and_per_call_timeout(client: object, attr: str) -> None:
    import inspect

    resource = getattr(client, attr)
    for name in SURFACE[attr].split():
        method = getattr(resource, name)
        parameters = inspect.signature(method).parameters
        assert "timeout" in parameters, f"{attr}.{name}"
        assert parameters["timeout"].kind is inspect.Parameter.KEYWORD_ONLY
        assert method.__doc__, f"{attr}.{name} has no docstring"
