"""Snapshot operations and the operation-status resource they (and v1.2 training) report to."""

from __future__ import annotations

from typing import Any, Literal, cast

from aiohttp import web

from ._routes_common import (
    ID_RE,
    UUID_RE,
    ApiError,
    Context,
    bad_argument,
    check_user_data,
    empty_response,
    is_v12,
    json_response,
    match,
    not_found,
    query_str,
    read_json,
)
from ._state import (
    FaceListRecord,
    OperationRecord,
    PersonGroupRecord,
    SnapshotRecord,
    SnapshotType,
    new_id,
)

# snapshot type -> (large?, is a person group?, error-code prefix, label, resourceLocation
# segment: singular, as the live service reports an applied object, e.g. /persongroup/<id>)
_TYPES: dict[str, tuple[bool, bool, str, str, str]] = {
    "PersonGroup": (False, True, "PersonGroup", "Person group", "persongroup"),
    "LargePersonGroup": (True, True, "LargePersonGroup", "Large person group", "largepersongroup"),
    "FaceList": (False, False, "FaceList", "Face list", "facelist"),
    "LargeFaceList": (True, False, "LargeFaceList", "Large face list", "largefacelist"),
}


def _apply_scope(value: object, *, required: bool) -> list[str] | None:
    if value is None and not required:
        return None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and UUID_RE.match(v) for v in value)
    ):
        raise bad_argument("Invalid argument applyScope.")
    return list(value)


def _snapshot_or_404(ctx: Context, snapshot_id: str) -> SnapshotRecord:
    ctx.state.settle()
    snapshot = ctx.state.snapshots.get(snapshot_id.lower())
    if snapshot is None or snapshot.expires <= ctx.clock.now():
        raise not_found("SnapshotNotFound", "Snapshot", "snapshotId")
    return snapshot


def _snapshot_json(ctx: Context, snapshot: SnapshotRecord) -> dict[str, Any]:
    return {
        "id": snapshot.snapshot_id,
        "account": ctx.state.account,
        "type": snapshot.type,
        "applyScope": snapshot.apply_scope,
        "userData": snapshot.user_data,
        "createdTime": ctx.clock.isoformat(snapshot.created),
        "lastUpdateTime": ctx.clock.isoformat(snapshot.last_update),
    }


def _start_operation(
    ctx: Context,
    kind: Literal["take", "apply"],
    resource_location: str,
    *,
    snapshot: SnapshotRecord | None = None,
    apply_target: PersonGroupRecord | FaceListRecord | None = None,
) -> web.StreamResponse:
    """Queue a take/apply operation ending in ``snapshot_seconds``; 202 with its location.

    It is notStarted for the first fifth of that time, then running (as the live one goes).
    """
    now = ctx.clock.now()
    span = ctx.limits.snapshot_seconds
    op = OperationRecord(
        operation_id=new_id(),
        kind=kind,
        created=now,
        started=now + span * 0.2,
        ends=now + span,
        resource_location=resource_location,
        snapshot=snapshot,
        apply_target=apply_target,
    )
    ctx.state.operations[op.operation_id] = op
    response = empty_response(202)
    response.headers["Operation-Location"] = f"/operations/{op.operation_id}"
    return response


async def take(request: web.Request, ctx: Context) -> web.StreamResponse:
    """Snapshot_Take: copies the object now; the snapshot appears when the operation ends."""
    body = await read_json(request)
    kind = body.get("type")
    if not isinstance(kind, str) or kind not in _TYPES:
        raise bad_argument("Invalid argument type.")
    object_id = body.get("objectId")
    if not isinstance(object_id, str) or not ID_RE.match(object_id):
        raise bad_argument("Invalid argument objectId.")
    scope = _apply_scope(body.get("applyScope"), required=True)
    user_data = check_user_data(body, ctx.limits.max_user_data)
    large, is_group, prefix, label, _ = _TYPES[kind]
    source: PersonGroupRecord | FaceListRecord | None = (
        ctx.state.groups(large).get(object_id)
        if is_group
        else ctx.state.lists(large).get(object_id)
    )
    if source is None:
        raise not_found(f"{prefix}NotFound", label, "objectId")
    if not ctx.state.spend_daily_quota(ctx.state.snapshot_takes, ctx.limits.snapshot_takes_per_day):
        raise ApiError(403, "QuotaExceeded", "Snapshot take operation number reached limit.")
    now = ctx.clock.now()
    snapshot = SnapshotRecord(
        snapshot_id=new_id(),
        type=cast(SnapshotType, kind),
        object_id=object_id,
        apply_scope=scope or [],
        user_data=user_data,
        created=now,
        last_update=now,
        expires=now + ctx.limits.snapshot_ttl_seconds,
        payload=ctx.state.copy_object(source),
    )
    return _start_operation(ctx, "take", f"/snapshots/{snapshot.snapshot_id}", snapshot=snapshot)


async def list_snapshots(request: web.Request, ctx: Context) -> web.StreamResponse:
    """Snapshot_List, filtered by ``type`` and any of ``applyScope``."""
    ctx.state.settle()
    kind = query_str(request, "type")
    if kind and kind not in _TYPES:
        raise bad_argument("Invalid argument type.")
    scope_raw = query_str(request, "applyScope")
    scope = {s.strip().lower() for s in scope_raw.split(",")} if scope_raw else None
    now = ctx.clock.now()
    found = [
        s
        for s in ctx.state.snapshots.values()
        if s.expires > now
        and (not kind or s.type == kind)
        and (scope is None or scope & {a.lower() for a in s.apply_scope})
    ]
    found.sort(key=lambda s: s.created)
    return json_response([_snapshot_json(ctx, s) for s in found])


async def get(request: web.Request, ctx: Context) -> web.StreamResponse:
    """Snapshot_Get."""
    return json_response(_snapshot_json(ctx, _snapshot_or_404(ctx, match(request, "snapshotId"))))


async def update(request: web.Request, ctx: Context) -> web.StreamResponse:
    """Snapshot_Update: applyScope and userData."""
    body = await read_json(request)
    snapshot = _snapshot_or_404(ctx, match(request, "snapshotId"))
    scope = _apply_scope(body.get("applyScope"), required=False)
    user_data = check_user_data(body, ctx.limits.max_user_data)
    if scope is not None:
        snapshot.apply_scope = scope
    if "userData" in body:
        snapshot.user_data = user_data
    snapshot.last_update = ctx.clock.now()
    return empty_response()


async def delete(request: web.Request, ctx: Context) -> web.StreamResponse:
    """Snapshot_Delete."""
    snapshot = _snapshot_or_404(ctx, match(request, "snapshotId"))
    del ctx.state.snapshots[snapshot.snapshot_id]
    return empty_response()


async def apply(request: web.Request, ctx: Context) -> web.StreamResponse:
    """Snapshot_Apply: the object ``objectId`` appears when the operation ends."""
    body = await read_json(request)
    snapshot = _snapshot_or_404(ctx, match(request, "snapshotId"))
    object_id = body.get("objectId")
    if not isinstance(object_id, str) or not ID_RE.match(object_id):
        raise bad_argument("Invalid argument objectId.")
    if body.get("mode", "CreateNew") != "CreateNew":
        raise bad_argument("Invalid argument mode.")
    large, is_group, prefix, label, segment = _TYPES[snapshot.type]
    table: dict[str, Any] = ctx.state.groups(large) if is_group else ctx.state.lists(large)
    if object_id in table:
        raise ApiError(409, f"{prefix}Exists", f"{label} already exists.")
    if not ctx.state.spend_daily_quota(
        ctx.state.snapshot_applies, ctx.limits.snapshot_applies_per_day
    ):
        raise ApiError(403, "QuotaExceeded", "Snapshot apply operation number reached limit.")
    target = ctx.state.copy_object(snapshot.payload)
    if isinstance(target, PersonGroupRecord):
        target.group_id = object_id
    else:
        target.face_list_id = object_id
    return _start_operation(ctx, "apply", f"/{segment}/{object_id}", apply_target=target)


async def operation_status(request: web.Request, ctx: Context) -> web.StreamResponse:
    """Snapshot_GetOperationStatus (and the v1.2 operation resource that training reports to)."""
    ctx.state.settle()
    operation_id = match(request, "operationId").lower()
    op = ctx.state.operations.get(operation_id)
    if op is None:
        raise ApiError(404, "OperationNotFound", "Operation is not found.")
    now = ctx.clock.now()
    status = op.status(now)
    done = status in ("succeeded", "failed")
    last_action = ctx.clock.isoformat(op.last_action(now))
    if is_v12(request):
        return json_response(
            {
                "operationId": op.operation_id,
                "status": status,
                "createdTime": ctx.clock.isoformat(op.created),
                "lastActionTime": last_action,
                "finishedTime": ctx.clock.isoformat(op.ends) if done else None,
                "message": op.failure if status == "failed" else None,
            }
        )
    # The live service's current form (2021 recordings): finishedTime once done, no message
    # unless it failed, and a take's resourceLocation is "/snapshots/" until the id exists.
    body: dict[str, Any] = {
        "status": status,
        "createdTime": ctx.clock.isoformat(op.created),
        "lastActionTime": last_action,
    }
    if done:
        body["finishedTime"] = ctx.clock.isoformat(op.ends)
    location = op.resource_location
    if op.kind == "take" and status != "succeeded":
        location = "/snapshots/"
    body["resourceLocation"] = location
    if status == "failed":
        body["message"] = op.failure
    return json_response(body)
