"""What both converters share: names, datetimes, and the hooks for primitives, ``Enum | str``,
optionals and lists (built once per type, no reflection per call)."""

import enum
import re
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import cattrs
from cattrs.cols import list_structure_factory

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is an optional extra
    orjson = None  # type: ignore[assignment]

__all__ = ["ConversionError", "camel_case", "format_datetime", "parse_datetime"]

T = TypeVar("T")

# Field names whose JSON key is not the plain camelCase of the snake_case name.
_RENAMES: dict[str, str] = {}


class ConversionError(ValueError):
    """Data that does not fit the target model (or bytes that are not JSON)."""

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"cannot convert to {target}: {reason}")
        self.target = target
        self.reason = reason


def camel_case(name: str) -> str:
    """``persisted_face_ids`` -> ``persistedFaceIds`` (``face_id1`` -> ``faceId1``)."""
    special = _RENAMES.get(name)
    if special is not None:
        return special
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# --- datetimes ---------------------------------------------------------------------------------

_DATETIME_RE = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}(?::\d{2})?)(?:[.,](\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)


def parse_datetime(value: object) -> datetime:
    """Parse the service's ISO 8601 timestamps into an aware datetime (naive means UTC).

    Handles "Z" and fractional seconds of any length (the service sends 7 digits), which
    ``datetime.fromisoformat`` on Python 3.10 does not.
    """
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 string, got {type(value).__name__}")
    match = _DATETIME_RE.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not an ISO 8601 datetime: {value[:40]!r}")
    date, time, fraction, _zulu, sign, tz_hours, tz_minutes = match.groups()
    text = f"{date}T{time}"
    if fraction:
        text += "." + fraction[:6].ljust(6, "0")
    parsed = datetime.fromisoformat(text)
    if sign is None:
        return parsed.replace(tzinfo=timezone.utc)
    offset = timedelta(hours=int(tz_hours), minutes=int(tz_minutes))
    return parsed.replace(tzinfo=timezone(-offset if sign == "-" else offset))


def format_datetime(value: datetime) -> str:
    """ISO 8601 with "Z" for UTC (naive datetimes are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# --- hooks -------------------------------------------------------------------------------------


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return typing.get_args(tp)
    return None


def _enum_or_str(tp: Any) -> tuple[type[enum.Enum], bool] | None:
    """For ``E | str`` or ``E | str | None``: (E, whether None is allowed)."""
    args = _union_args(tp)
    if args is None or str not in args:
        return None
    rest = [a for a in args if a is not str and a is not type(None)]
    if len(rest) != 1 or not (isinstance(rest[0], type) and issubclass(rest[0], enum.Enum)):
        return None
    return rest[0], type(None) in args


def _enum_lookup(enum_cls: type[enum.Enum]) -> dict[object, object]:
    """Exact value -> member (built once, no cost per call); other casings: ``_enum_fold``."""
    return {member.value: member for member in enum_cls}


def _enum_fold(enum_cls: type[enum.Enum], exact: dict[object, object]) -> Callable[[str], object]:
    """The member whose value equals ``value`` ignoring case, else ``value`` itself.

    The live service spells values in other casings than the spec ("notStarted",
    "goodExposure", "NoGlasses", "low"): every casing of a known value becomes the member.
    Called only when the ``exact`` lookup misses; a casing found once is added to ``exact``
    (up to a few per value), so the next occurrence costs one dict lookup.
    """
    folded: dict[str, object] = {}
    for member in enum_cls:
        if isinstance(member.value, str):
            folded.setdefault(member.value.casefold(), member)
    limit = 4 * len(folded) + 16  # bounds the cache whatever casings a server sends

    def fold(value: str) -> object:
        member = folded.get(value.casefold())
        if member is None:
            return value
        if len(exact) < limit:
            exact[value] = member
        return member

    return fold


def _is_enum_or_str(tp: Any) -> bool:
    return _enum_or_str(tp) is not None


def _enum_or_str_hook(tp: Any) -> Callable[[Any, Any], Any]:
    found = _enum_or_str(tp)
    if found is None:  # pragma: no cover - registered with _is_enum_or_str as predicate
        raise TypeError(f"not an Enum | str union: {tp!r}")
    enum_cls, nullable = found
    # A dict lookup instead of cattrs' union dispatch: known value -> member, else the string.
    members = _enum_lookup(enum_cls)
    fold = _enum_fold(enum_cls, members)
    name = enum_cls.__name__

    def hook(value: Any, _: Any) -> Any:
        if value.__class__ is str:
            return members.get(value) or fold(value)
        if value is None and nullable:
            return None
        if isinstance(value, str):  # a str subclass, e.g. an enum member: its plain value
            plain = str.__str__(value)
            return members.get(plain) or fold(plain)
        raise TypeError(f"expected a {name} string, got {type(value).__name__}")

    return hook


def _is_plain_optional(tp: Any) -> bool:
    args = _union_args(tp)
    return args is not None and len(args) == 2 and type(None) in args


def _optional_hook_factory(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    def factory(tp: Any) -> Callable[[Any, Any], Any]:
        args = typing.get_args(tp)
        inner_type = args[0] if args[1] is type(None) else args[1]
        # Resolved once here; cattrs' own Optional hook dispatches on every call.
        inner = conv.get_structure_hook(inner_type)
        if inner_type in (str, int, float, bool):
            # One call instead of two on the hot path: the exact type passes through.
            def primitive_hook(value: Any, _: Any) -> Any:
                if value.__class__ is inner_type or value is None:
                    return value
                return inner(value, inner_type)

            return primitive_hook

        def hook(value: Any, _: Any) -> Any:
            return None if value is None else inner(value, inner_type)

        return hook

    return factory


def _structure_str(value: Any, _: Any) -> str:
    if value.__class__ is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)  # str() of a str-mixin enum member would be "Cls.MEMBER"
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _structure_int(value: Any, _: Any) -> int:
    if value.__class__ is int:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    raise TypeError(f"expected an integer, got {type(value).__name__}")


def _structure_float(value: Any, _: Any) -> float:
    if value.__class__ is float:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _structure_bool(value: Any, _: Any) -> bool:
    if value is True or value is False:
        return value
    raise TypeError(f"expected a boolean, got {type(value).__name__}")


def _structure_datetime(value: Any, _: Any) -> datetime:
    return parse_datetime(value)


def _not_a_list(value: Any) -> Any:
    """``value`` (not a list) if it may stand for a JSON array; TypeError for an object or string.

    cattrs' list hook takes any iterable: a JSON object would become the list of its keys
    (``{}`` an empty list) and a string the list of its characters, silently. Other iterables
    (a tuple from Python code) still pass; numbers and null fail when iterated.
    """
    if isinstance(value, (str, bytes, Mapping)):
        raise TypeError(f"expected an array, got {type(value).__name__}")
    return value


def _is_list(tp: Any) -> bool:
    return typing.get_origin(tp) is list


def _list_hook(tp: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    base = list_structure_factory(tp, conv)

    def hook(value: Any, tp: Any) -> Any:
        return base(value if value.__class__ is list else _not_a_list(value), tp)

    return hook
