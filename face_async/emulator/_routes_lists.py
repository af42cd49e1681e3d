"""FaceList and LargeFaceList operations, with their persisted faces."""

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
from ._state import FaceListRecord, PersistedFaceRecord, new_id


@attrs.frozen
class ListKind:
    """What differs between FaceList and LargeFaceList."""

    large: bool
    id_key: str
    prefix: str
    label: str


FACE_LIST = ListKind(False, "faceListId", "FaceList", "Face list")
LARGE_FACE_LIST = ListKind(True, "largeFaceListId", "LargeFaceList", "Large face list")


def list_or_404(ctx: Context, kind: ListKind, list_id: str) -> FaceListRecord:
    """The face list, or 404 (Large)FaceListNotFound for a malformed or unknown id."""
    if not ID_RE.match(list_id):
        raise ApiError(
            404,
            f"{kind.prefix}NotFound",
            f"{kind.label} ID is invalid. Valid format should be a string composed by numbers, "
            "English letters in lower case, '-', '_', and no longer than 64 characters.",
        )
    face_list = ctx.state.lists(kind.large).get(list_id)
    if face_list is None:
        raise ApiError(404, f"{kind.prefix}NotFound", f"{kind.label} '{list_id}' is not found.")
    return face_list


def face_or_404(face_list: FaceListRecord, face_id: str) -> PersistedFaceRecord:
    face_id = check_uuid(face_id, "PersistedFaceNotFound", "Persisted face ID is invalid.")
    face = face_list.faces.get(face_id)
    if face is None:
        raise ApiError(404, "PersistedFaceNotFound", f"Persisted face '{face_id}' is not found.")
    return face


def face_json(face: PersistedFaceRecord) -> dict[str, Any]:
    return {"persistedFaceId": face.persisted_face_id, "userData": face.user_data}


def list_json(kind: ListKind, face_list: FaceListRecord, with_model: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        kind.id_key: face_list.face_list_id,
        "name": face_list.name,
        "userData": face_list.user_data,
    }
    if with_model:
        body["recognitionModel"] = face_list.recognition_model
    return body


def handlers(kind: ListKind) -> dict[str, Any]:
    """The handlers of one face-list kind, keyed by the operation name after the prefix."""
    key = kind.id_key

    async def create(request: web.Request, ctx: Context) -> web.StreamResponse:
        list_id = match(request, key)
        if not ID_RE.match(list_id):
            raise bad_argument(f"Invalid argument {key}.")
        body = await read_json(request)
        name = check_name(body, ctx.limits, required=True)
        user_data = check_user_data(body, ctx.limits.max_user_data)
        model = recognition_model_param(body.get("recognitionModel"))
        table = ctx.state.lists(kind.large)
        if list_id in table:
            raise ApiError(409, f"{kind.prefix}Exists", f"{kind.label} already exists.")
        limit = ctx.limits.max_large_face_lists if kind.large else ctx.limits.max_face_lists
        if len(table) >= limit:
            raise ApiError(403, "QuotaExceeded", f"{kind.label} number reached limit.")
        table[list_id] = FaceListRecord(
            face_list_id=list_id,
            name=name or "",
            large=kind.large,
            user_data=user_data,
            recognition_model=model,
        )
        return empty_response()

    async def get(request: web.Request, ctx: Context) -> web.StreamResponse:
        face_list = list_or_404(ctx, kind, match(request, key))
        body = list_json(kind, face_list, query_bool(request, "returnRecognitionModel", False))
        if not kind.large:
            body["persistedFaces"] = [face_json(f) for f in face_list.faces.values()]
        return json_response(body)

    async def update(request: web.Request, ctx: Context) -> web.StreamResponse:
        body = await read_json(request)
        face_list = list_or_404(ctx, kind, match(request, key))
        name = check_name(body, ctx.limits, required=False)
        user_data = check_user_data(body, ctx.limits.max_user_data)
        if name is not None:
            face_list.name = name
        if "userData" in body:
            face_list.user_data = user_data
        return empty_response()

    async def delete(request: web.Request, ctx: Context) -> web.StreamResponse:
        face_list = list_or_404(ctx, kind, match(request, key))
        del ctx.state.lists(kind.large)[face_list.face_list_id]
        return empty_response()

    async def list_lists(request: web.Request, ctx: Context) -> web.StreamResponse:
        with_model = query_bool(request, "returnRecognitionModel", False)
        lists = sorted(ctx.state.lists(kind.large).values(), key=lambda f: f.face_list_id)
        if kind.large:
            start, top = paging(request, ctx.limits)
            lists = page(lists, lambda f: f.face_list_id, start, top)
        return json_response([list_json(kind, f, with_model) for f in lists])

    async def train(request: web.Request, ctx: Context) -> web.StreamResponse:
        face_list = list_or_404(ctx, kind, match(request, key))
        model: dict[str, list[str]] = {}
        for face in face_list.faces.values():
            model.setdefault(face.identity, []).append(face.persisted_face_id)
        failure = None if face_list.faces else "There is no face in the large face list."
        face_list.training = queue_training(face_list.training, model, failure, ctx)
        return empty_response(202)

    async def training(request: web.Request, ctx: Context) -> web.StreamResponse:
        face_list = list_or_404(ctx, kind, match(request, key))
        if face_list.training is None:
            raise ApiError(
                404,
                f"{kind.prefix}NotTrained",
                f"{kind.label} '{face_list.face_list_id}' not trained.",
            )
        return json_response(training_json(face_list.training, ctx))

    async def add_face(request: web.Request, ctx: Context) -> web.StreamResponse:
        face_list = list_or_404(ctx, kind, match(request, key))
        user_data = face_user_data(request, ctx.limits)
        target = target_face(request)
        detection_model = detection_model_param(request)
        _, parsed = await read_image(request, ctx)
        # Other requests ran while the image was read: the list may be gone by now.
        face_list = list_or_404(ctx, kind, match(request, key))
        face = face_to_add(parsed, target)
        limit = (
            ctx.limits.max_faces_per_large_face_list
            if kind.large
            else ctx.limits.max_faces_per_face_list
        )
        if len(face_list.faces) >= limit:
            raise ApiError(403, "QuotaExceeded", "Persisted face number reached limit.")
        record = PersistedFaceRecord(
            persisted_face_id=new_id(),
            identity=face.identity,
            fingerprint=parsed.fingerprint,
            rect=face.rect,
            user_data=user_data,
            detection_model=detection_model,
        )
        face_list.faces[record.persisted_face_id] = record
        return json_response({"persistedFaceId": record.persisted_face_id})

    async def face_get(request: web.Request, ctx: Context) -> web.StreamResponse:
        face_list = list_or_404(ctx, kind, match(request, key))
        return json_response(face_json(face_or_404(face_list, match(request, "persistedFaceId"))))

    async def face_update(request: web.Request, ctx: Context) -> web.StreamResponse:
        body = await read_json(request)
        face_list = list_or_404(ctx, kind, match(request, key))
        face = face_or_404(face_list, match(request, "persistedFaceId"))
        face.user_data = check_user_data(body, ctx.limits.max_face_user_data)
        return empty_response()

    async def face_delete(request: web.Request, ctx: Context) -> web.StreamResponse:
        face_list = list_or_404(ctx, kind, match(request, key))
        face = face_or_404(face_list, match(request, "persistedFaceId"))
        del face_list.faces[face.persisted_face_id]
        return empty_response()

    async def face_list_all(request: web.Request, ctx: Context) -> web.StreamResponse:
        face_list = list_or_404(ctx, kind, match(request, key))
        start, top = paging(request, ctx.limits)
        faces = page(list(face_list.faces.values()), lambda f: f.persisted_face_id, start, top)
        return json_response([face_json(f) for f in faces])

    return {
        "create": create,
        "get": get,
        "update": update,
        "delete": delete,
        "list": list_lists,
        "train": train,
        "training": training,
        "add_face": add_face,
        "face_get": face_get,
        "face_update": face_update,
        "face_delete": face_delete,
        "face_list": face_list_all,
    }
