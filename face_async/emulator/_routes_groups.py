"""PersonGroup and LargePersonGroup operations, with their persons and persisted faces."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import _routes_containers as shared
from ._routes_common import (
    ApiError,
    Context,
    check_name,
    check_user_data,
    check_uuid,
    empty_response,
    is_v12,
    json_response,
    match,
    not_found,
    page,
    paging,
    query_bool,
    queue_training,
    read_json,
)
from ._state import EmulatorState, OperationRecord, PersonGroupRecord, PersonRecord, new_id

GroupKind = shared.Kind[PersonGroupRecord]

PERSON_GROUP = GroupKind(
    False, "personGroupId", "PersonGroup", "Person group", EmulatorState.groups
)
LARGE_PERSON_GROUP = GroupKind(
    True, "largePersonGroupId", "LargePersonGroup", "Large person group", EmulatorState.groups
)


def person_or_404(group: PersonGroupRecord, request: web.Request) -> PersonRecord:
    person_id = check_uuid(match(request, "personId"), "PersonNotFound", "Person ID is invalid.")
    person = group.persons.get(person_id)
    if person is None:
        raise not_found("PersonNotFound", "Person", "personId")
    return person


def _refuse_while_training(ctx: Context, kind: GroupKind, group: PersonGroupRecord) -> None:
    # Only PersonGroup documents 409 for writes during training; LargePersonGroup accepts them.
    if not kind.large and group.is_training(ctx.clock.now()):
        raise ApiError(
            409,
            "PersonGroupTrainingNotFinished",
            f"Person group '{group.group_id}' is under training.",
        )


def group_json(kind: GroupKind, group: PersonGroupRecord, with_model: bool) -> dict[str, Any]:
    return shared.container_json(kind, group.group_id, group, with_model=with_model)


def person_json(person: PersonRecord) -> dict[str, Any]:
    return {
        "personId": person.person_id,
        "name": person.name,
        "userData": person.user_data,
        "persistedFaceIds": list(person.faces),
    }


# ---------------------------------------------------------------------------- groups


def handlers(kind: GroupKind) -> dict[str, Any]:
    """The handlers of one group kind, keyed by the operation name after the prefix."""

    def make(group_id: str, name: str, user_data: str | None, model: str) -> PersonGroupRecord:
        return PersonGroupRecord(
            group_id=group_id,
            name=name,
            large=kind.large,
            user_data=user_data,
            recognition_model=model,
        )

    async def create(request: web.Request, ctx: Context) -> web.StreamResponse:
        return await shared.create_container(request, ctx, kind, ctx.limits.max_person_groups, make)

    async def get(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = shared.container_or_404(ctx, kind, request)
        with_model = query_bool(request, "returnRecognitionModel", False)
        return json_response(group_json(kind, group, with_model))

    async def update(request: web.Request, ctx: Context) -> web.StreamResponse:
        body = await read_json(request)
        return shared.update_name_and_user_data(
            body, ctx, shared.container_or_404(ctx, kind, request)
        )

    async def delete(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = shared.container_or_404(ctx, kind, request)
        del kind.table(ctx)[group.group_id]
        return empty_response()

    async def list_groups(request: web.Request, ctx: Context) -> web.StreamResponse:
        start, top = paging(request, ctx.limits)
        with_model = query_bool(request, "returnRecognitionModel", False)
        groups = page(kind.table(ctx), start, top)
        return json_response([group_json(kind, g, with_model) for g in groups])

    async def train(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = shared.container_or_404(ctx, kind, request)
        _refuse_while_training(ctx, kind, group)
        now = ctx.clock.now()
        model: dict[str, list[str]] = {}
        for person in group.persons.values():
            for identity in {face.identity for face in person.faces.values()}:
                model.setdefault(identity, []).append(person.person_id)
        failure = None if group.persons else f"There is no person in the {kind.label.lower()}."
        group.training = queue_training(group.training, model, failure, ctx)
        if not is_v12(request):
            return shared.training_accepted(request, kind, group.group_id)
        # v1.2 clients poll the training as a long-running operation.
        op = OperationRecord(
            operation_id=new_id(),
            kind="train",
            created=now,
            ends=group.training.ends,
            failure=failure,
        )
        ctx.state.operations[op.operation_id] = op
        location = request.url.with_path(
            f"/face/v1.2-preview.1/operations/{op.operation_id}"
        ).with_query(None)
        response = empty_response(202)
        response.headers["operation-Location"] = str(location)
        return response

    async def training(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = shared.container_or_404(ctx, kind, request)
        return shared.training_response(request, ctx, kind, group.group_id, group.training)

    # ------------------------------------------------------------------------ persons

    async def person_create(request: web.Request, ctx: Context) -> web.StreamResponse:
        body = await read_json(request)
        group = shared.container_or_404(ctx, kind, request)
        name = check_name(body, ctx.limits, required=False)
        user_data = check_user_data(body, ctx.limits.max_user_data)
        _refuse_while_training(ctx, kind, group)
        limit = (
            ctx.limits.max_persons_per_large_person_group
            if kind.large
            else ctx.limits.max_persons_per_person_group
        )
        if len(group.persons) >= limit:
            raise ApiError(403, "QuotaExceeded", "Person number reached limit.")
        person = PersonRecord(person_id=new_id(), name=name, user_data=user_data)
        group.persons[person.person_id] = person
        return json_response({"personId": person.person_id})

    async def person_list(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = shared.container_or_404(ctx, kind, request)
        start, top = paging(request, ctx.limits)
        persons = page(group.persons, start, top)
        return json_response([person_json(p) for p in persons])

    async def person_get(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = shared.container_or_404(ctx, kind, request)
        return json_response(person_json(person_or_404(group, request)))

    async def person_update(request: web.Request, ctx: Context) -> web.StreamResponse:
        body = await read_json(request)
        group = shared.container_or_404(ctx, kind, request)
        return shared.update_name_and_user_data(body, ctx, person_or_404(group, request))

    async def person_delete(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = shared.container_or_404(ctx, kind, request)
        person = person_or_404(group, request)
        del group.persons[person.person_id]
        return empty_response()

    # ------------------------------------------------------------------------ faces

    async def add_face(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = shared.container_or_404(ctx, kind, request)
        person = person_or_404(group, request)
        _refuse_while_training(ctx, kind, group)
        upload = await shared.read_face_upload(request, ctx)
        # Other requests ran while the image was read: the person may be gone by now.
        group = shared.container_or_404(ctx, kind, request)
        person = person_or_404(group, request)
        _refuse_while_training(ctx, kind, group)
        return shared.store_face(person.faces, upload, ctx.limits.max_faces_per_person)

    async def face_get(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = shared.container_or_404(ctx, kind, request)
        face = shared.face_or_404(person_or_404(group, request).faces, request)
        return json_response(shared.face_json(face))

    async def face_update(request: web.Request, ctx: Context) -> web.StreamResponse:
        body = await read_json(request)
        group = shared.container_or_404(ctx, kind, request)
        face = shared.face_or_404(person_or_404(group, request).faces, request)
        face.user_data = check_user_data(body, ctx.limits.max_face_user_data)
        return empty_response()

    async def face_delete(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = shared.container_or_404(ctx, kind, request)
        person = person_or_404(group, request)
        face = shared.face_or_404(person.faces, request)
        del person.faces[face.persisted_face_id]
        return empty_response()

    return {
        "create": create,
        "get": get,
        "update": update,
        "delete": delete,
        "list": list_groups,
        "train": train,
        "training": training,
        "person_create": person_create,
        "person_list": person_list,
        "person_get": person_get,
        "person_update": person_update,
        "person_delete": person_delete,
        "add_face": add_face,
        "face_get": face_get,
        "face_update": face_update,
        "face_delete": face_delete,
    }
