"""Checks of user input against the documented Face API v1.0 limits, before anything is sent.

Every check is a pure function that returns the value in the form the request needs (a str for
a query parameter, a list for a JSON body) or raises ``FaceValidationError`` (a ``ValueError``)
whose ``parameter`` names the offending argument. Nothing here does I/O.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import NoReturn

from face_async._errors import FaceValidationError
from face_async._models import DetectionModel, FaceRectangle, RecognitionModel

__all__ = [
    "FACE_USER_DATA_MAX",
    "GROUP_USER_DATA_MAX",
    "MAX_TOP",
    "NAME_MAX",
    "TargetFace",
    "bool_param",
    "check_confidence",
    "check_detect_options",
    "check_exactly_one",
    "check_face_attributes",
    "check_face_id_time_to_live",
    "check_id",
    "check_int_range",
    "check_name",
    "check_start",
    "check_top",
    "check_user_data",
    "check_uuid",
    "check_uuid_list",
    "detection_model",
    "enum_value",
    "invalid",
    "recognition_model",
    "target_face",
]

NAME_MAX = 128
FACE_USER_DATA_MAX = 1024  # userData of a persisted face: 1 KB
GROUP_USER_DATA_MAX = 16384  # userData of a group, list, person or snapshot: 16 KB
MAX_TOP = 1000

_ID = re.compile(r"[a-z0-9\-_]{1,64}").fullmatch
_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
).fullmatch
# The service keeps adding models; accept any name shaped like the documented ones.
_RECOGNITION_MODEL = re.compile(r"recognition_[0-9]{2,}").fullmatch
_DETECTION_MODEL = re.compile(r"detection_[0-9]{2,}").fullmatch
# The documented models by wire value: a member of these str enums hashes and compares as its
# value, so one dict lookup takes a member or its string to the wire string.
_KNOWN_DETECTION_MODELS = {member.value: member.value for member in DetectionModel}
_KNOWN_RECOGNITION_MODELS = {member.value: member.value for member in RecognitionModel}

FACE_ATTRIBUTES = (
    "age", "gender", "headPose", "smile", "facialHair", "glasses", "emotion", "hair", "makeup",
    "occlusion", "accessories", "blur", "exposure", "noise", "mask", "qualityForRecognition",
)  # fmt: skip
# From the returnFaceAttributes documentation: which attributes each detection model supports.
_ATTRIBUTES_BY_DETECTION_MODEL: dict[str, frozenset[str]] = {
    "detection_01": frozenset(FACE_ATTRIBUTES) - {"mask"},
    "detection_02": frozenset(),
    # The "specify a face detection model" page and azure-ai-vision-face list headPose and
    # blur for detection_03 too; the v1.0 reference page lists only the first two.
    "detection_03": frozenset({"mask", "qualityForRecognition", "headPose", "blur"}),
}
_NO_QUALITY_RECOGNITION_MODELS = frozenset({"recognition_01", "recognition_02"})
# detection_03 returns the 27 landmarks (the live service and the "specify a detection model"
# page agree; the Detect reference page says otherwise).
_NO_LANDMARKS_DETECTION_MODELS = frozenset({"detection_02"})
# The service reads attribute names in any casing (the .NET SDK sends "Mask").
_ATTRIBUTE_BY_FOLDED = {name.casefold(): name for name in FACE_ATTRIBUTES}

TargetFace = FaceRectangle | tuple[int, int, int, int]


def invalid(parameter: str, message: str) -> FaceValidationError:
    """The error for a rejected argument: ``parameter`` and a message naming it."""
    return FaceValidationError(f"{parameter}: {message}", parameter=parameter)


def _fail(parameter: str, message: str) -> NoReturn:
    raise invalid(parameter, message)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 70 else text[:67] + "..."


def enum_value(value: object, parameter: str) -> str:
    """The wire string of an Enum member or a str; anything else raises FaceValidationError."""
    if isinstance(value, enum.Enum):
        value = value.value
    if not isinstance(value, str):
        _fail(parameter, f"expected a str or an Enum member, got {type(value).__name__}")
    return value


def bool_param(value: bool) -> str:
    """A bool as the service spells it in a query string."""
    return "true" if value else "false"


def check_id(value: object, parameter: str) -> str:
    """A user-specified id (group, list): 1-64 of lower-case letters, digits, '-' and '_'."""
    if not isinstance(value, str) or _ID(value) is None:
        _fail(
            parameter,
            f"{_show(value)} is not a valid id: use 1-64 characters of lower-case letters, digits, "
            "'-' and '_'",
        )
    return value


def check_uuid(value: object, parameter: str) -> str:
    """A service-generated id (faceId, personId, persistedFaceId, snapshotId...): a UUID."""
    if not isinstance(value, str) or _UUID(value) is None:
        _fail(parameter, f"{_show(value)} is not a UUID")
    return value


def check_uuid_list(
    values: object, parameter: str, *, min_items: int, max_items: int | None
) -> list[str]:
    """A list of UUIDs whose length is within [min_items, max_items]."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        _fail(parameter, "expected a list of ids")
    items = list(values)
    if len(items) < min_items or (max_items is not None and len(items) > max_items):
        limit = f"{min_items} to {max_items}" if max_items is not None else f"at least {min_items}"
        _fail(parameter, f"expected {limit} ids, got {len(items)}")
    return [check_uuid(item, parameter) for item in items]


def check_name(value: object, parameter: str = "name", *, required: bool = True) -> str | None:
    """A display name: at most 128 characters, non-empty when the service requires it."""
    if value is None:
        if required:
            _fail(parameter, "is required")
        return None
    if not isinstance(value, str):
        _fail(parameter, f"expected a str, got {type(value).__name__}")
    if required and not value:
        _fail(parameter, "must not be empty")
    if len(value) > NAME_MAX:
        _fail(parameter, f"is {len(value)} characters long; the limit is {NAME_MAX}")
    return value


def check_user_data(value: object, limit: int, parameter: str = "user_data") -> str | None:
    """Optional userData: at most ``limit`` characters (1 KB on faces, 16 KB elsewhere)."""
    if value is None:
        return None
    if not isinstance(value, str):
        _fail(parameter, f"expected a str, got {type(value).__name__}")
    if len(value) > limit:
        _fail(parameter, f"is {len(value)} characters long; the limit is {limit}")
    return value


def _check_int(value: object, parameter: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(parameter, f"expected an int, got {type(value).__name__}")
    return value


def check_int_range(value: object, parameter: str, low: int, high: int) -> int:
    """An int within [low, high]."""
    number = _check_int(value, parameter)
    if not low <= number <= high:
        _fail(parameter, f"must be between {low} and {high}, got {number}")
    return number


def check_top(value: object, parameter: str = "top") -> int:
    """A page size (``top``): 1-1000."""
    return check_int_range(value, parameter, 1, MAX_TOP)


def check_start(value: object, parameter: str = "start") -> str:
    """A paging cursor (``start``): the last id of the previous page."""
    if not isinstance(value, str) or len(value) > 64:
        _fail(parameter, "expected an id of at most 64 characters")
    return value


def check_confidence(value: object, parameter: str) -> float:
    """A confidence threshold in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(parameter, f"expected a number, got {type(value).__name__}")
    if math.isnan(value) or not 0 <= value <= 1:
        _fail(parameter, f"must be between 0 and 1, got {value}")
    return float(value)


def check_face_id_time_to_live(value: object, parameter: str = "face_id_time_to_live") -> int:
    """How long detected faceIds are cached, in seconds: 60-86400."""
    return check_int_range(value, parameter, 60, 86400)


def check_exactly_one(parameters: Mapping[str, object]) -> str:
    """The name of the one parameter that is not None; raises unless exactly one is given."""
    given = [name for name, value in parameters.items() if value is not None]
    if len(given) != 1:
        names = ", ".join(parameters)
        _fail(given[1] if len(given) > 1 else next(iter(parameters)),
              f"give exactly one of {names}")  # fmt: skip
    return given[0]


def recognition_model(value: object, parameter: str = "recognition_model") -> str:
    """A recognition model name such as 'recognition_04' (Enum member or str)."""
    if isinstance(value, str):
        known = _KNOWN_RECOGNITION_MODELS.get(value)
        if known is not None:
            return known
    name = enum_value(value, parameter)
    if _RECOGNITION_MODEL(name) is None:
        _fail(parameter, f"{_show(name)} is not a recognition model (e.g. 'recognition_04')")
    return name


def detection_model(value: object, parameter: str = "detection_model") -> str:
    """A detection model name such as 'detection_03' (Enum member or str)."""
    if isinstance(value, str):
        known = _KNOWN_DETECTION_MODELS.get(value)
        if known is not None:
            return known
    name = enum_value(value, parameter)
    if _DETECTION_MODEL(name) is None:
        _fail(parameter, f"{_show(name)} is not a detection model (e.g. 'detection_03')")
    return name


def check_face_attributes(values: object, parameter: str = "return_face_attributes") -> list[str]:
    """Face attribute names (FaceAttributeType members or str, in any casing) spelled as the
    documentation spells them, without duplicates."""
    if isinstance(values, str | enum.Enum):
        values = [values]
    if not isinstance(values, Iterable):
        _fail(parameter, "expected a list of attribute names")
    names: list[str] = []
    for value in values:
        given = enum_value(value, parameter)
        name = _ATTRIBUTE_BY_FOLDED.get(given.casefold())
        if name is None:
            _fail(parameter, f"unknown attribute {given!r}; known: {', '.join(FACE_ATTRIBUTES)}")
        if name not in names:
            names.append(name)
    return names


def check_detect_options(
    *,
    detection: str,
    recognition: str,
    return_face_landmarks: bool,
    attributes: Sequence[str],
) -> None:
    """Refuse the combinations the Detect documentation rules out for a detection model."""
    if return_face_landmarks and detection in _NO_LANDMARKS_DETECTION_MODELS:
        _fail("return_face_landmarks", f"landmarks are not supported by {detection}")
    supported = _ATTRIBUTES_BY_DETECTION_MODEL.get(detection)
    if supported is not None:
        refused = [name for name in attributes if name not in supported]
        if refused:
            _fail(
                "return_face_attributes",
                f"{', '.join(refused)} not supported by {detection}"
                + (f" (it supports {', '.join(sorted(supported))})" if supported else ""),
            )
    if "qualityForRecognition" in attributes and recognition in _NO_QUALITY_RECOGNITION_MODELS:
        _fail(
            "return_face_attributes",
            "qualityForRecognition needs recognition_model recognition_03 or later",
        )


def target_face(value: object, parameter: str = "target_face") -> str:
    """A FaceRectangle or a (left, top, width, height) tuple as the 'l,t,w,h' query value."""
    if isinstance(value, FaceRectangle):
        numbers: tuple[object, ...] = (value.left, value.top, value.width, value.height)
    elif isinstance(value, tuple | list) and len(value) == 4:
        numbers = tuple(value)
    else:
        _fail(parameter, "expected a FaceRectangle or a (left, top, width, height) tuple")
    left, top, width, height = (_check_int(number, parameter) for number in numbers)
    if left < 0 or top < 0:
        _fail(parameter, "left and top must be >= 0")
    if width <= 0 or height <= 0:
        _fail(parameter, "width and height must be > 0")
    return f"{left},{top},{width},{height}"
