"""PersonGroup and LargePersonGroup operations, with their persons and persisted faces."""

from __future__ import annotations

from typing import Any

import attrs
from aiohttp import web

from ._routes_common import (
    ID_RE,
    ApiError,
    Context,
    bad_argument,
    check_name,
    check_user_data,
    check_uuid,
    detection_model_param,
    empty_response,
    face_to_add,
    face_user_data,
    is_v12,
    json_response,
    match,
    page,
    paging,
    query_bool,
    queue_training,
    read_image,
    read_json,
    recognition_model_param,
    target_face,
    training_json,
)
from ._state import (
    OperationRecord,
    PersistedFaceRecord,
    PersonGroupRecord,
    PersonRecord,
    new_id,
)


@attrs.frozen
class GroupKind:
    """What differs between PersonGroup and LargePersonGroup: keys, codes, wording, limits."""

    large: bool
    id_key: str
    prefix: str  # error-code prefix: "PersonGroup" / "LargePersonGroup"
    label: str  # "Person group" / "Large person group"


PERSON_GROUP = GroupKind(False, "personGroupId", "PersonGroup", "Person group")
LARGE_PERSON_GROUP = GroupKind(True, "largePersonGroupId", "LargePersonGroup", "Large person group")


def _invalid_id(kind: GroupKind) -> ApiError:
    return ApiError(
        404,
        f"{kind.prefix}NotFound",
        f"{kind.label} ID is invalid. Valid format should be a string composed by numbers, "
        "English letters in lower case, '-', '_', and no longer than 64 characters.",
    )


def group_or_404(ctx: Context, kind: GroupKind, group_id: str) -> PersonGroupRecord:
    """The group, or 404 (Large)PersonGroupNotFound for a malformed or unknown id."""
    if not ID_RE.match(group_id):
        raise _invalid_id(kind)
    group = ctx.state.groups(kind.large).get(group_id)
    if group is None:
        raise ApiError(404, f"{kind.prefix}NotFound", f"{kind.label} '{group_id}' is not found.")
    return group


def person_or_404(group: PersonGroupRecord, person_id: str) -> PersonRecord:
    person_id = check_uuid(person_id, "PersonNotFound", "Person ID is invalid.")
    person = group.persons.get(person_id)
    if person is None:
        raise ApiError(404, "PersonNotFound", f"Person '{person_id}' is not found.")
    return person


def face_or_404(person: PersonRecord, face_id: str) -> PersistedFaceRecord:
    face_id = check_uuid(face_id, "PersistedFaceNotFound", "Persisted face ID is invalid.")
    face = person.faces.get(face_id)
    if face is None:
        raise ApiError(404, "PersistedFaceNotFound", f"Persisted face '{face_id}' is not found.")
    return face


def _refuse_while_training(ctx: Context, kind: GroupKind, group: PersonGroupRecord) -> None:
    # Only PersonGroup documents 409 for writes during training; LargePersonGroup accepts them.
    if not kind.large and group.is_training(ctx.clock.now()):
        raise ApiError(
            409,
            "PersonGroupTrainingNotFinished",
            f"Person group '{group.group_id}' is under training.",
        )


def group_json(kind: GroupKind, group: PersonGroupRecord, with_model: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        kind.id_key: group.group_id,
        "name": group.name,
        "userData": group.user_data,
    }
    if with_model:
        body["recognitionModel"] = group.recognition_model
    return body


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
    key = kind.id_key

    async def create(request: web.Request, ctx: Context) -> web.StreamResponse:
        group_id = match(request, key)
        if not ID_RE.match(group_id):
            raise bad_argument(f"Invalid argument {key}.")
        body = await read_json(request)
        name = check_name(body, ctx.limits, required=True)
        user_data = check_user_data(body, ctx.limits.max_user_data)
        model = recognition_model_param(body.get("recognitionModel"))
        table = ctx.state.groups(kind.large)
        if group_id in table:
            raise ApiError(409, f"{kind.prefix}Exists", f"{kind.label} already exists.")
        if len(table) >= ctx.limits.max_person_groups:
            raise ApiError(403, "QuotaExceeded", f"{kind.label} number reached limit.")
        table[group_id] = PersonGroupRecord(
            group_id=group_id,
            name=name or "",
            large=kind.large,
            user_data=user_data,
            recognition_model=model,
        )
        return empty_response()

    async def get(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = group_or_404(ctx, kind, match(request, key))
        with_model = query_bool(request, "returnRecognitionModel", False)
        return json_response(group_json(kind, group, with_model))

    async def update(request: web.Request, ctx: Context) -> web.StreamResponse:
        body = await read_json(request)
        group = group_or_404(ctx, kind, match(request, key))
        name = check_name(body, ctx.limits, required=False)
        user_data = check_user_data(body, ctx.limits.max_user_data)
        if name is not None:
            group.name = name
        if "userData" in body:
            group.user_data = user_data
        return empty_response()

    async def delete(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = group_or_404(ctx, kind, match(request, key))
        del ctx.state.groups(kind.large)[group.group_id]
        return empty_response()

    async def list_groups(request: web.Request, ctx: Context) -> web.StreamResponse:
        start, top = paging(request, ctx.limits)
        with_model = query_bool(request, "returnRecognitionModel", False)
        groups = page(list(ctx.state.groups(kind.large).values()), lambda g: g.group_id, start, top)
        return json_response([group_json(kind, g, with_model) for g in groups])

    async def train(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = group_or_404(ctx, kind, match(request, key))
        now = ctx.clock.now()
        if group.is_training(now) and not kind.large:
            raise ApiError(
                409,
                "PersonGroupTrainingNotFinished",
                f"Person group '{group.group_id}' is under training.",
            )
        model: dict[str, list[str]] = {}
        for person in group.persons.values():
            for identity in {face.identity for face in person.faces.values()}:
                model.setdefault(identity, []).append(person.person_id)
        failure = None if group.persons else f"There is no person in the {kind.label.lower()}."
        group.training = queue_training(group.training, model, failure, ctx)
        response = empty_response(202)
        if is_v12(request):
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
            response.headers["operation-Location"] = str(location)
        return response

    async def training(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = group_or_404(ctx, kind, match(request, key))
        if group.training is None:
            raise ApiError(
                404, f"{kind.prefix}NotTrained", f"{kind.label} '{group.group_id}' not trained."
            )
        return json_response(training_json(group.training, ctx, camel=is_v12(request)))

    # ------------------------------------------------------------------------ persons

    async def person_create(request: web.Request, ctx: Context) -> web.StreamResponse:
        body = await read_json(request)
        group = group_or_404(ctx, kind, match(request, key))
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
        group = group_or_404(ctx, kind, match(request, key))
        start, top = paging(request, ctx.limits)
        persons = page(list(group.persons.values()), lambda p: p.person_id, start, top)
        return json_response([person_json(p) for p in persons])

    async def person_get(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = group_or_404(ctx, kind, match(request, key))
        return json_response(person_json(person_or_404(group, match(request, "personId"))))

    async def person_update(request: web.Request, ctx: Context) -> web.StreamResponse:
        body = await read_json(request)
        group = group_or_404(ctx, kind, match(request, key))
        person = person_or_404(group, match(request, "personId"))
        name = check_name(body, ctx.limits, required=False)
        user_data = check_user_data(body, ctx.limits.max_user_data)
        if name is not None:
            person.name = name
        if "userData" in body:
            person.user_data = user_data
        return empty_response()

    async def person_delete(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = group_or_404(ctx, kind, match(request, key))
        person = person_or_404(group, match(request, "personId"))
        del group.persons[person.person_id]
        return empty_response()

    # ------------------------------------------------------------------------ faces

    async def add_face(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = group_or_404(ctx, kind, match(request, key))
        person = person_or_404(group, match(request, "personId"))
        _refuse_while_training(ctx, kind, group)
        user_data = face_user_data(request, ctx.limits)
        target = target_face(request)
        detection_model = detection_model_param(request)
        _, parsed = await read_image(request, ctx)
        # Other requests ran while the image was read: the person may be gone by now.
        group = group_or_404(ctx, kind, match(request, key))
        person = person_or_404(group, match(request, "personId"))
        _refuse_while_training(ctx, kind, group)
        face = face_to_add(parsed, target)
        if len(person.faces) >= ctx.limits.max_faces_per_person:
            raise ApiError(403, "QuotaExceeded", "Persisted face number reached limit.")
        record = PersistedFaceRecord(
            persisted_face_id=new_id(),
            identity=face.identity,
            fingerprint=parsed.fingerprint,
            rect=face.rect,
            user_data=user_data,
            detection_model=detection_model,
        )
        person.faces[record.persisted_face_id] = record
        return json_response({"persistedFaceId": record.persisted_face_id})

    async def face_get(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = group_or_404(ctx, kind, match(request, key))
        person = person_or_404(group, match(request, "personId"))
        face = face_or_404(person, match(request, "persistedFaceId"))
        return json_response(
            {"persistedFaceId": face.persisted_face_id, "userData": face.user_data}
        )

    async def face_update(request: web.Request, ctx: Context) -> web.StreamResponse:
        body = await read_json(request)
        group = group_or_404(ctx, kind, match(request, key))
        person = person_or_404(group, match(request, "personId"))
        face = face_or_404(person, match(request, "persistedFaceId"))
        face.user_data = check_user_data(body, ctx.limits.max_face_user_data)
        return empty_response()

    async def face_delete(request: web.Request, ctx: Context) -> web.StreamResponse:
        group = group_or_404(ctx, kind, match(request, key))
        person = person_or_404(group, match(request, "personId"))
        face = face_or_404(person, match(request, "persistedFaceId"))
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
