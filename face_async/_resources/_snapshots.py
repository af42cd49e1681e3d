"""Snapshots: copy a group or list to other subscriptions (take, apply, track the operation)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

import face_async._validation as v
from face_async._http import _operations as o
from face_async._models import (
    ApplySnapshotRequest,
    OperationStatus,
    Snapshot,
    SnapshotApplyMode,
    SnapshotObjectType,
    TakeSnapshotRequest,
    UpdateSnapshotRequest,
)
from face_async._resources._base import Resource, Timeout

__all__ = ["SnapshotOperations"]

_OBJECT_TYPES = frozenset(kind.value for kind in SnapshotObjectType)
_APPLY_MODES = frozenset(mode.value for mode in SnapshotApplyMode)


def _choice(value: object, parameter: str, choices: frozenset[str]) -> str:
    name = v.enum_value(value, parameter)
    if name not in choices:
        raise v.invalid(parameter, f"{name!r} is not one of {', '.join(sorted(choices))}")
    return name


def _scope(apply_scope: object) -> builtins.list[str]:
    return v.check_uuid_list(apply_scope, "apply_scope", min_items=1, max_items=None)


class SnapshotOperations(Resource):
    """Snapshots of face lists and (large) person groups: ``client.snapshots``."""

    __slots__ = ()

    async def take(
        self,
        type: SnapshotObjectType | str,
        object_id: str,
        apply_scope: Sequence[str],
        /,
        *,
        user_data: str | None = None,
        timeout: Timeout | None = None,
    ) -> str:
        """Start taking a snapshot of a FaceList, LargeFaceList, PersonGroup or
        LargePersonGroup that the subscriptions in ``apply_scope`` may apply.

        Returns the operation id; poll get_operation_status() for the snapshot id (its
        ``resource_location``). Not retried after an ambiguous failure. Raises
        FaceValidationError on bad input, the source kind's NotFound subclass, and
        QuotaExceeded past the take quota.
        """
        body = TakeSnapshotRequest(
            type=_choice(type, "type", _OBJECT_TYPES),
            object_id=v.check_id(object_id, "object_id"),
            apply_scope=_scope(apply_scope),
            user_data=v.check_user_data(user_data, v.GROUP_USER_DATA_MAX),
        )
        return await self._call_for_operation_location(
            o.SNAPSHOT_TAKE, (), json=body, timeout=timeout
        )

    async def list(
        self,
        *,
        type: SnapshotObjectType | str | None = None,
        apply_scope: Sequence[str] | None = None,
        timeout: Timeout | None = None,
    ) -> builtins.list[Snapshot]:
        """The subscription's snapshots, optionally only of one ``type`` or ``apply_scope``."""
        query: dict[str, str] = {}
        if type is not None:
            query["type"] = _choice(type, "type", _OBJECT_TYPES)
        if apply_scope is not None:
            query["applyScope"] = ",".join(_scope(apply_scope))
        return await self._call_list(Snapshot, o.SNAPSHOT_LIST, query=query, timeout=timeout)

    async def get(self, snapshot_id: str, /, *, timeout: Timeout | None = None) -> Snapshot:
        """A snapshot's type, apply scope, userData and times. Raises SnapshotNotFound."""
        snapshot_id = v.check_uuid(snapshot_id, "snapshot_id")
        return await self._call_model(Snapshot, o.SNAPSHOT_GET, (snapshot_id,), timeout=timeout)

    async def update(
        self,
        snapshot_id: str,
        /,
        *,
        apply_scope: Sequence[str] | None = None,
        user_data: str | None = None,
        timeout: Timeout | None = None,
    ) -> None:
        """Change a snapshot's apply scope and/or userData. Raises SnapshotNotFound."""
        snapshot_id = v.check_uuid(snapshot_id, "snapshot_id")
        body = UpdateSnapshotRequest(
            apply_scope=None if apply_scope is None else _scope(apply_scope),
            user_data=v.check_user_data(user_data, v.GROUP_USER_DATA_MAX),
        )
        await self._call(o.SNAPSHOT_UPDATE, (snapshot_id,), json=body, timeout=timeout)

    async def delete(self, snapshot_id: str, /, *, timeout: Timeout | None = None) -> None:
        """Delete a snapshot. Raises SnapshotNotFound."""
        snapshot_id = v.check_uuid(snapshot_id, "snapshot_id")
        await self._call(o.SNAPSHOT_DELETE, (snapshot_id,), timeout=timeout)

    async def apply(
        self,
        snapshot_id: str,
        object_id: str,
        /,
        *,
        mode: SnapshotApplyMode | str = SnapshotApplyMode.CREATE_NEW,
        timeout: Timeout | None = None,
    ) -> str:
        """Start creating ``object_id`` (of the snapshot's type) from a snapshot.

        Returns the operation id; poll get_operation_status(). Not retried after an ambiguous
        failure. Raises SnapshotNotFound, and Conflict when ``object_id`` already exists.
        """
        snapshot_id = v.check_uuid(snapshot_id, "snapshot_id")
        body = ApplySnapshotRequest(
            object_id=v.check_id(object_id, "object_id"), mode=_choice(mode, "mode", _APPLY_MODES)
        )
        return await self._call_for_operation_location(
            o.SNAPSHOT_APPLY, (snapshot_id,), json=body, timeout=timeout
        )

    async def get_operation_status(
        self, operation_id: str, /, *, timeout: Timeout | None = None
    ) -> OperationStatus:
        """Status of a take/apply operation; on success ``resource_location`` names the result.

        Raises OperationNotFound.
        """
        operation_id = v.check_uuid(operation_id, "operation_id")
        return await self._call_model(
            OperationStatus, o.SNAPSHOT_GET_OPERATION_STATUS, (operation_id,), timeout=timeout
        )
