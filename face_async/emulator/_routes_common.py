"""Shared pieces of the emulator's handlers: errors, request parsing, validation, routing."""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import attrs
from aiohttp import web

from ._clock import Clock
from ._dispatch import Endpoint, matched
from ._images import FaceRect, ImageFace, NotAnImage, ParsedImage, parse_image
from ._limits import ServiceLimits
from ._state import EmulatorState, IdTable, TrainingRecord

ID_RE = re.compile(r"^[a-z0-9\-_]{1,64}$")
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
RECOGNITION_MODELS = ("recognition_01", "recognition_02", "recognition_03", "recognition_04")
DETECTION_MODELS = ("detection_01", "detection_02", "detection_03")

_R = TypeVar("_R")


class ApiError(Exception):
    """An error answer: ``{"error": {"code": ..., "message": ...}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> web.Response:
        return json_response({"error": {"code": self.code, "message": self.message}}, self.status)


def bad_argument(message: str) -> ApiError:
    return ApiError(400, "BadArgument", message)


def not_found(code: str, label: str, parameter: str) -> ApiError:
    """A 404 ``code`` worded as the live service words it (.NET's ArgumentException text).

    E.g. ``Person group is not found.\r\nParameter name: personGroupId``.
    """
    return ApiError(404, code, f"{label} is not found.\r\nParameter name: {parameter}")


def json_response(body: object, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


def empty_response(status: int = 200) -> web.Response:
    return web.Response(status=status)


@attrs.frozen
class Context:
    """What every handler needs besides the request."""

    state: EmulatorState
    limits: ServiceLimits
    clock: Clock


Handler = Callable[[web.Request, Context], Awaitable[web.StreamResponse]]


# ---------------------------------------------------------------------------- request parsing


async def read_json(request: web.Request) -> dict[str, Any]:
    """The JSON object body; 415 unless Content-Type is application/json, 400 if malformed."""
    raw = await request.read()
    if request.content_type != "application/json":
        raise ApiError(415, "BadArgument", "Invalid Media Type.")
    try:
        body = json.loads(raw)
    except ValueError:
        raise bad_argument("JSON parsing error. Bad or unrecognizable request JSON body.") from None
    if not isinstance(body, dict):
        raise bad_argument("Request body is invalid.")
    return body


async def read_image(request: web.Request, ctx: Context) -> tuple[bytes, ParsedImage]:
    """The image of a detect/add-face call: octet-stream bytes or a JSON ``{"url": ...}``."""
    ctype = request.content_type
    if ctype == "application/octet-stream":
        try:
            data = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(400, "InvalidImageSize", _TOO_BIG) from None
    elif ctype == "application/json":
        body = await read_json(request)
        url = body.get("url")
        if not isinstance(url, str) or not url:
            raise bad_argument("Request body is invalid.")
        if not url.startswith(("http://", "https://", "data:")):
            raise ApiError(400, "InvalidURL", "Invalid image URL.")
        fetched = ctx.state.fetch_url_image(url)
        if fetched is None:
            raise ApiError(
                400,
                "InvalidURL",
                "Failed to download from target server. Remote server error returned.",
            )
        data = fetched
    else:
        raise ApiError(415, "BadArgument", "Invalid Media Type.")
    if len(data) < ctx.limits.min_image_bytes:
        raise ApiError(
            400,
            "InvalidImageSize",
            "Image size is too small. "
            "The valid image file size should be larger than or equal to 1KB.",
        )
    if len(data) > ctx.limits.max_image_bytes:
        raise ApiError(400, "InvalidImageSize", _TOO_BIG)
    try:
        return data, parse_image(data)
    except NotAnImage:
        raise ApiError(400, "InvalidImage", "Decoding error, image format unsupported.") from None


_TOO_BIG = "Image size is too big. The valid image file size should be no larger than 6MB."


def query_bool(request: web.Request, name: str, default: bool) -> bool:
    """A boolean query parameter; clients send true/false in any case."""
    raw = _query_get(request.query, name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise bad_argument(f"Invalid argument {name}.")


def _query_get(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in query.items():
        if key.lower() == lowered:
            return candidate
    return None


def query_str(request: web.Request, name: str) -> str | None:
    return _query_get(request.query, name)


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = _query_get(request.query, name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_argument(f"Invalid argument {name}.") from None
    if not low <= value <= high:
        raise bad_argument(f"Invalid argument {name}: must be between {low} and {high}.")
    return value


def paging(request: web.Request, limits: ServiceLimits) -> tuple[str | None, int]:
    """``start`` (exclusive id) and ``top`` (1-1000, default 1000) of a list call."""
    start = query_str(request, "start")
    top = query_int(request, "top", limits.list_max_top, 1, limits.list_max_top)
    return (start or None), top


def page(table: IdTable[_R], start: str | None, top: int) -> list[_R]:
    """Records sorted by id, those after ``start``, at most ``top``: a bisect, not a scan."""
    ids = table.ordered()
    first = 0 if start is None else bisect.bisect_right(ids, start)
    return [table[i] for i in ids[first : first + top]]


def recognition_model_param(value: object) -> str:
    if value is None:
        return "recognition_01"
    if not isinstance(value, str) or value not in RECOGNITION_MODELS:
        raise bad_argument("'recognitionModel' is invalid.")
    return value


def detection_model_param(request: web.Request) -> str:
    value = query_str(request, "detectionModel")
    if value is None or value == "":
        return "detection_01"
    if value not in DETECTION_MODELS:
        raise bad_argument("'detectionModel' is invalid.")
    return value


def check_name(body: Mapping[str, Any], limits: ServiceLimits, *, required: bool) -> str | None:
    name = body.get("name")
    if name is None:
        if required:
            raise bad_argument("Name is required.")
        return None
    if not isinstance(name, str) or (required and not name):
        raise bad_argument("Invalid argument name.")
    if len(name) > limits.max_name_length:
        raise bad_argument("Name is too long, maximum length is 128.")
    return name


def check_user_data(body: Mapping[str, Any], limit: int) -> str | None:
    value = body.get("userData")
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_argument("Invalid argument userData.")
    if len(value) > limit:
        raise bad_argument("'userData' is too long.")
    return value


def check_uuid(value: object, code: str, message: str, status: int = 404) -> str:
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise ApiError(status, code, message)
    return value.lower()


# ---------------------------------------------------------------------------- routing


async def is_stream(request: web.Request) -> bool:
    return request.content_type == "application/octet-stream"


async def is_face_to_person(request: web.Request) -> bool:
    # Verify's two operations share POST /verify; only the body tells them apart.
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        return False
    return isinstance(body, dict) and ("personId" in body or "faceId" in body)


def bind(ctx: Context, handler: Handler) -> Endpoint:
    """``handler`` as an endpoint of the dispatch table; a raised ApiError becomes its answer."""

    async def endpoint(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request, ctx)
        except ApiError as error:
            return error.response()

    return endpoint


def match(request: web.Request, key: str) -> str:
    """The decoded path parameter ``key`` (e.g. ``personGroupId``) of the request's operation."""
    return matched(request).params[key]


# ---------------------------------------------------------------------------- faces to store


def target_face(request: web.Request) -> FaceRect | None:
    """The ``targetFace=left,top,width,height`` query parameter, validated."""
    raw = query_str(request, "targetFace")
    if raw is None or raw == "":
        return None
    try:
        left, top, width, height = (int(part) for part in raw.split(","))
    except ValueError:
        raise bad_argument(_BAD_TARGET) from None
    if left < 0 or top < 0 or width <= 0 or height <= 0:
        raise bad_argument(_BAD_TARGET)
    return FaceRect(left=left, top=top, width=width, height=height)


_BAD_TARGET = (
    "Invalid argument targetFace. Caused by invalid string format or invalid "
    "left/top/height/width value."
)


def face_to_add(parsed: ParsedImage, target: FaceRect | None) -> ImageFace:
    """The one face an add-face call stores; 400 when the image or area holds 0 or >1 faces."""
    faces = list(parsed.faces)
    if target is not None:
        whole = FaceRect(left=0, top=0, width=parsed.width, height=parsed.height)
        if not whole.intersects(target):
            raise bad_argument(
                "Argument targetFace out of range, targetFace is valid but it's intersection "
                "with the entire image is empty."
            )
        faces = [face for face in faces if face.rect.intersects(target)]
    if not faces:
        raise ApiError(
            400,
            "InvalidImage",
            "No face detected in the image or in the specified targetFace area.",
        )
    if len(faces) > 1:
        raise ApiError(
            400,
            "InvalidImage",
            "There is more than 1 face in the image or in the specified targetFace area.",
        )
    return faces[0]


def face_user_data(request: web.Request, limits: ServiceLimits) -> str | None:
    value = query_str(request, "userData")
    if value is not None and len(value) > limits.max_face_user_data:
        raise bad_argument("'userData' is too long.")
    return value


# ---------------------------------------------------------------------------- training


def queue_training(
    old: TrainingRecord | None,
    model: dict[str, list[str]],
    failure: str | None,
    ctx: Context,
) -> TrainingRecord:
    """A new training over ``model``; the last successful model stays usable meanwhile."""
    now = ctx.clock.now()
    span = ctx.limits.training_seconds
    return TrainingRecord(
        created=now,
        started=now + span * 0.2,
        ends=now + span,
        model=model,
        failure=failure,
        last_success=old.successful_at(now) if old is not None else None,
        last_success_id=old.successful_id_at(now) if old is not None else None,
        previous_model=old.usable_model(now) if old is not None else None,
    )


def training_json(
    training: TrainingRecord, ctx: Context, *, camel: bool = False, with_id: bool = False
) -> dict[str, Any]:
    """The TrainingStatus body; ``camel`` spells ``notStarted`` as v1.2 does.

    v1.0 answers as the live service does: the keys in its order, ``lastSuccessfulTraining*``
    only once a training has succeeded, and its id only for person groups (``with_id``).
    """
    now = ctx.clock.now()
    status = training.status(now)
    success = training.successful_at(now)
    message = training.failure if status == "failed" else None
    if camel:
        return {
            "status": "notStarted" if status == "notstarted" else status,
            "createdDateTime": ctx.clock.isoformat(training.created),
            "lastActionDateTime": ctx.clock.isoformat(training.last_action(now)),
            "lastSuccessfulTrainingDateTime": (
                None if success is None else ctx.clock.isoformat(success)
            ),
            "message": message,
        }
    body: dict[str, Any] = {
        "status": status,
        "createdDateTime": ctx.clock.isoformat(training.created),
        "lastActionDateTime": ctx.clock.isoformat(training.last_action(now)),
        "message": message,
    }
    if success is not None:
        if with_id:
            body["lastSuccessfulTrainingId"] = training.successful_id_at(now)
        body["lastSuccessfulTrainingDateTime"] = ctx.clock.isoformat(success)
    return body


def is_v12(request: web.Request) -> bool:
    return request.path.lower().startswith("/face/v1.2")
