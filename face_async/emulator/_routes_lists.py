"""FaceList and LargeFaceList operations, with their persisted faces."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import _routes_containers as shared
from ._routes_common import (
    Context,
    check_user_data,
    empty_response,
    json_response,
    page,
    paging,
    query_bool,
    queue_training,
    read_json,
)
from ._state import EmulatorState, FaceListRecord

ListKind = shared.Kind[FaceListRecord]

FACE_LIST = ListKind(False, "faceListId", "FaceList", "Face list", EmulatorState.lists)
LARGE_FACE_LIST = ListKind(
    True, "largeFaceListId", "LargeFaceList", "Large face list", EmulatorState.lists
)


def list_json(kind: ListKind, face_list: FaceListRecord, with_model: bool) -> dict[str, Any]:
    return shared.container_json(kind, face_list.face_list_id, face_list, with_model=with_model)


def handlers(kind: ListKind) -> dict[str, Any]:
    """The handlers of one face-list kind, keyed by the operation name after the prefix."""

    def make(list_id: str, name: str, user_data: str | None, model: str) -> FaceListRecord:
        return FaceListRecord(
            face_list_id=list_id,
            name=name,
            large=kind.large,
            user_data=user_data,
            recognition_model=model,
        )

    async def create(request: web.Request, ctx: Context) -> web.StreamResponse:
        limit = ctx.limits.max_large_face_lists if kind.large else ctx.limits.max_face_lists
        return await shared.create_container(request, ctx, kind, limit, make)

    async def get(request: web.Request, ctx: Context) -> web.StreamResponse:
        face_list = shared.container_or_404(ctx, kind, request)
        body = list_json(kind, face_list, query_bool(request, "returnRecognitionModel", False))
        if not kind.large:
            body["persistedFaces"] = [shared.face_json(f) for f in face_list.faces.values()]
        return json_response(body)

    async def update(request: web.Request, ctx: Context) -> web.StreamResponse:
        body = await read_json(request)
        return shared.update_name_and_user_data(
            body, ctx, shared.container_or_404(ctx, kind, request)
        )

    async def delete(request: web.Request, ctx: Context) -> web.StreamResponse:
        face_list = shared.container_or_404(ctx, kind, request)
        del kind.table(ctx)[face_list.face_list_id]
        return empty_response()

    async def list_lists(request: web.Request, ctx: Context) -> web.StreamResponse:
        with_model = query_bool(request, "returnRecognitionModel", False)
        table = kind.table(ctx)
        start, top = paging(request, ctx.limits) if kind.large else (None, len(table))
        lists = page(table, start, top)
        return json_response([list_json(kind, f, with_model) for f in lists])

    async def train(request: web.Request, ctx: Context) -> web.StreamResponse:
        face_list = shared.container_or_404(ctx, kind, request)
        model: dict[str, list[str]] = {}
        for face in face_list.faces.values():
            model.setdefault(face.identity, []).append(face.persisted_face_id)
        failure = None if face_list.faces else "There is no face in the large face list."
        face_list.training = queue_training(face_list.training, model, failure, ctx)
        return shared.training_accepted(request, kind, face_list.face_list_id)

    async def training(request: web.Request, ctx: Context) -> web.StreamResponse:
        face_list = shared.container_or_404(ctx, kind, request)
        return shared.training_response(
            request, ctx, kind, face_list.face_list_id, face_list.training
        )

    async def add_face(request: web.Request, ctx: Context) -> web.StreamResponse:
        shared.container_or_404(ctx, kind, request)
        upload = await shared.read_face_upload(request, ctx)
        # Other requests ran while the image was read: the list may be gone by now.
        face_list = shared.container_or_404(ctx, kind, request)
        limit = (
            ctx.limits.max_faces_per_large_face_list
            if kind.large
            else ctx.limits.max_faces_per_face_list
        )
        return shared.store_face(face_list.faces, upload, limit)

    async def face_get(request: web.Request, ctx: Context) -> web.StreamResponse:
        face_list = shared.container_or_404(ctx, kind, request)
        return json_response(shared.face_json(shared.face_or_404(face_list.faces, request)))

    async def face_update(request: web.Request, ctx: Context) -> web.StreamResponse:
        body = await read_json(request)
        face_list = shared.container_or_404(ctx, kind, request)
        face = shared.face_or_404(face_list.faces, request)
        face.user_data = check_user_data(body, ctx.limits.max_face_user_data)
        return empty_response()

    async def face_delete(request: web.Request, ctx: Context) -> web.StreamResponse:
        face_list = shared.container_or_404(ctx, kind, request)
        face = shared.face_or_404(face_list.faces, request)
        del face_list.faces[face.persisted_face_id]
        return empty_response()

    async def face_list_all(request: web.Request, ctx: Context) -> web.StreamResponse:
        face_list = shared.container_or_404(ctx, kind, request)
        start, top = paging(request, ctx.limits)
        faces = page(face_list.faces, start, top)
        return json_response([shared.face_json(f) for f in faces])

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
