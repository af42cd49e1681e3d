"""Snapshots: take, track, list, get, update, apply, delete against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

import face_async
from face_async.emulator import Emulator, make_face_image

SCOPE = ["35230f59-aa9c-45e0-ab5e-c859bf1a5429"]
OTHER_SCOPE = ["64084e07-9b7f-4a98-bea4-9986d3a1edeb"]
MISSING = "00000000-0000-4000-8000-000000000000"


async def _finished(client: Any, emulator: Emulator, operation_id: str) -> Any:
    emulator.clock.advance(5)  # the operation's emulated duration passes at once
    status = await client.snapshots.get_operation_status(operation_id)
    assert status.status == face_async.OperationStatusType.SUCCEEDED
    return status


async def test_take_track_and_apply_a_person_group(client: Any, emulator: Emulator) -> None:
    await client.person_groups.create("source", name="Source")
    alice = await client.person_group_persons.create("source", name="Alice")
    await client.person_group_persons.add_face("source", alice.person_id, make_face_image("a"))

    operation_id = await client.snapshots.take(
        face_async.SnapshotObjectType.PERSON_GROUP, "source", SCOPE, user_data="backup"
    )
    assert operation_id in emulator.state.operations
    status = await _finished(client, emulator, operation_id)
    assert isinstance(status, face_async.OperationStatus)
    snapshot_id = status.resource_location.rsplit("/", 1)[-1]

    snapshot = await client.snapshots.get(snapshot_id)
    assert isinstance(snapshot, face_async.Snapshot)
    assert (snapshot.id, snapshot.type, snapshot.apply_scope, snapshot.user_data) == (
        snapshot_id, face_async.SnapshotObjectType.PERSON_GROUP, SCOPE, "backup",
    )  # fmt: skip
    assert [s.id for s in await client.snapshots.list(type="PersonGroup")] == [snapshot_id]
    assert await client.snapshots.list(type="FaceList") == []
    assert await client.snapshots.list(apply_scope=OTHER_SCOPE) == []

    await client.snapshots.update(snapshot_id, apply_scope=OTHER_SCOPE, user_data="moved")
    record = emulator.state.snapshots[snapshot_id]
    assert (record.apply_scope, record.user_data) == (OTHER_SCOPE, "moved")

    apply_id = await client.snapshots.apply(snapshot_id, "restored")
    status = await _finished(client, emulator, apply_id)
    assert status.resource_location.endswith("/restored")
    restored = emulator.state.groups(False)["restored"]
    assert [p.name for p in restored.persons.values()] == ["Alice"]

    await client.snapshots.delete(snapshot_id)
    assert snapshot_id not in emulator.state.snapshots
    with pytest.raises(face_async.SnapshotNotFound) as info:
        await client.snapshots.get(snapshot_id)
    assert (info.value.status, info.value.code) == (404, "SnapshotNotFound")


async def test_documented_errors(client: Any, emulator: Emulator) -> None:
    with pytest.raises(face_async.FaceListNotFound):
        await client.snapshots.take("FaceList", "ghost", SCOPE)
    for call in (
        client.snapshots.apply(MISSING, "x"),
        client.snapshots.update(MISSING, user_data="x"),
        client.snapshots.delete(MISSING),
    ):
        with pytest.raises(face_async.SnapshotNotFound):
            await call
    with pytest.raises(face_async.OperationNotFound):
        await client.snapshots.get_operation_status(MISSING)


async def test_invalid_input_sends_nothing(client: Any, emulator: Emulator) -> None:
    cases: list[tuple[Any, str]] = [
        (lambda: client.snapshots.take("Folder", "src", SCOPE), "type"),
        (lambda: client.snapshots.take("FaceList", "Src", SCOPE), "object_id"),
        (lambda: client.snapshots.take("FaceList", "src", []), "apply_scope"),
        (lambda: client.snapshots.take("FaceList", "src", ["me"]), "apply_scope"),
        (lambda: client.snapshots.take("FaceList", "src", SCOPE, user_data="u" * 16385),
         "user_data"),
        (lambda: client.snapshots.get("snap"), "snapshot_id"),
        (lambda: client.snapshots.apply(MISSING, "Target"), "object_id"),
        (lambda: client.snapshots.apply(MISSING, "target", mode="Overwrite"), "mode"),
        (lambda: client.snapshots.list(type="Everything"), "type"),
        (lambda: client.snapshots.get_operation_status("op"), "operation_id"),
    ]  # fmt: skip
    for make_call, parameter in cases:
        with pytest.raises(face_async.FaceValidationError) as info:
            await make_call()
        assert info.value.parameter == parameter
    assert emulator.stats.total_requests == 0
