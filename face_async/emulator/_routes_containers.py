"""What the four containers share: (Large)PersonGroup and (Large)FaceList, one kind each.

The group and face-list handlers differ in what a container holds (persons with faces, or
faces); creating, reading, renaming, deleting one, reporting its training and storing or
reading a persisted face are the same code, parametrised by the :class:`Kind`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, Generic, TypeVar

import attrs
from aiohttp import web

from ._images import FaceRect, ParsedImage
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
    not_found,
    read_image,
    read_json,
    recognition_model_param,
    target_face,
    training_json,
)
from ._state import (
    EmulatorState,
    FaceListRecord,
    IdTable,
    PersistedFaceRecord,
    PersonGroupRecord,
    PersonRecord,
    TrainingRecord,
    new_id,
)

_C = TypeVar("_C", PersonGroupRecord, FaceListRecord)


@attrs.frozen
class Kind(Generic[_C]):
    """What differs between the kinds of a container: table, id key, error codes, wording."""

    large: bool
    id_key: str  # "personGroupId", "largeFaceListId", ...
    prefix: str  # error-code prefix: "PersonGroup", "LargeFaceList", ...
    label: str  # "Person group", "Large face list", ...
    tables: Callable[[EmulatorState, bool], IdTable[_C]]  # EmulatorState.groups or .lists

    def table(self, ctx: Context) -> IdTable[_C]:
        return self.tables(ctx.state, self.large)

    def container_id(self, request: web.Request) -> str:
        return match(request, self.id_key)


def container_or_404(ctx: Context, kind: Kind[_C], request: web.Request) -> _C:
    """The container the path names, or 404 <prefix>NotFound for a malformed or unknown id."""
    container_id = kind.container_id(request)
    if not ID_RE.match(container_id):
        raise ApiError(
            404,
            f"{kind.prefix}NotFound",
            f"{kind.label} ID is invalid. Valid format should be a string composed by numbers, "
            "English letters in lower case, '-', '_', and no longer than 64 characters.",
        )
    found = kind.table(ctx).get(container_id)
    if found is None:
        raise not_found(f"{kind.prefix}NotFound", kind.label, kind.id_key)
    return found


def container_json(
    kind: Kind[Any], container_id: str, record: _C, *, with_model: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {
        kind.id_key: container_id,
        "name": record.name,
        "userData": record.user_data,
    }
    if with_model:
        body["recognitionModel"] = record.recognition_model
    return body


async def create_container(
    request: web.Request,
    ctx: Context,
    kind: Kind[_C],
    limit: int,
    make: Callable[[str, str, str | None, str], _C],
) -> web.StreamResponse:
    """PUT a new container: ``make(id, name, userData, recognitionModel)`` builds the record."""
    container_id = kind.container_id(request)
    if not ID_RE.match(container_id):
        raise bad_argument(f"Invalid argument {kind.id_key}.")
    body = await read_json(request)
    name = check_name(body, ctx.limits, required=True)
    user_data = check_user_data(body, ctx.limits.max_user_data)
    model = recognition_model_param(body.get("recognitionModel"))
    table = kind.table(ctx)
    if container_id in table:
        raise ApiError(409, f"{kind.prefix}Exists", f"{kind.label} already exists.")
    if len(table) >= limit:
        raise ApiError(403, "QuotaExceeded", f"{kind.label} number reached limit.")
    table[container_id] = make(container_id, name or "", user_data, model)
    return empty_response()


def update_name_and_user_data(
    body: Mapping[str, Any],
    ctx: Context,
    record: PersonGroupRecord | FaceListRecord | PersonRecord,
) -> web.StreamResponse:
    """PATCH name and userData of a container or a person (only what the body names)."""
    name = check_name(body, ctx.limits, required=False)
    user_data = check_user_data(body, ctx.limits.max_user_data)
    if name is not None:
        record.name = name
    if "userData" in body:
        record.user_data = user_data
    return empty_response()


def training_response(
    request: web.Request,
    ctx: Context,
    kind: Kind[Any],
    container_id: str,
    training: TrainingRecord | None,
) -> web.StreamResponse:
    """GET .../training: the TrainingStatus, or 404 <prefix>NotTrained."""
    if training is None:
        raise ApiError(
            404, f"{kind.prefix}NotTrained", f"{kind.label} '{container_id}' not trained."
        )
    with_id = kind.prefix == "PersonGroup"  # only person groups report the training's id
    return json_response(training_json(training, ctx, camel=is_v12(request), with_id=with_id))


def training_accepted(request: web.Request, kind: Kind[Any], container_id: str) -> web.Response:
    """The 202 of a v1.0 train: no body, ``Operation-Location`` ending in ``/training``.

    The live service names an internal host there; the emulator names its own training-status
    URL, so a client that follows the header gets the status.
    """
    response = empty_response(202)
    path = f"/face/v1.0/{kind.prefix.lower()}s/{container_id}/training"
    response.headers["Operation-Location"] = str(request.url.with_path(path).with_query(None))
    return response


# ---------------------------------------------------------------------------- persisted faces


@attrs.frozen
class FaceUpload:
    """An add-face request read and checked, before anything is stored."""

    parsed: ParsedImage
    target: FaceRect | None
    user_data: str | None
    detection_model: str


async def read_face_upload(request: web.Request, ctx: Context) -> FaceUpload:
    """The query parameters and the image of an add-face call (awaits the body)."""
    user_data = face_user_data(request, ctx.limits)
    target = target_face(request)
    detection_model = detection_model_param(request)
    _, parsed = await read_image(request, ctx)
    return FaceUpload(parsed, target, user_data, detection_model)


def store_face(
    faces: MutableMapping[str, PersistedFaceRecord], upload: FaceUpload, limit: int
) -> web.StreamResponse:
    """Store the one face of ``upload`` in ``faces`` (400 for 0 or >1 faces, 403 when full)."""
    face = face_to_add(upload.parsed, upload.target)
    if len(faces) >= limit:
        raise ApiError(403, "QuotaExceeded", "Persisted face number reached limit.")
    record = PersistedFaceRecord(
        persisted_face_id=new_id(),
        identity=face.identity,
        fingerprint=upload.parsed.fingerprint,
        rect=face.rect,
        user_data=upload.user_data,
        detection_model=upload.detection_model,
    )
    faces[record.persisted_face_id] = record
    return json_response({"persistedFaceId": record.persisted_face_id})


def face_or_404(
    faces: Mapping[str, PersistedFaceRecord], request: web.Request
) -> PersistedFaceRecord:
    """The persisted face the path names, or 404 PersistedFaceNotFound."""
    face_id = match(request, "persistedFaceId")
    face_id = check_uuid(face_id, "PersistedFaceNotFound", "Persisted face ID is invalid.")
    face = faces.get(face_id)
    if face is None:
        raise not_found("PersistedFaceNotFound", "Persisted face", "persistedFaceId")
    return face


def face_json(face: PersistedFaceRecord) -> dict[str, Any]:
    return {"persistedFaceId": face.persisted_face_id, "userData": face.user_data}
