"""The one cattrs converter: service JSON (camelCase) <-> models (snake_case); JSON bytes.

Hooks are generated once per class (cattrs caches them after the first use) and the
camelCase renames are derived from the field names, so nothing is reflected per call.

- ``make_strict_converter()`` (tests): cattrs' ``make_dict_structure_fn`` with
  ``override(rename=...)``, ``forbid_extra_keys`` and detailed validation; primitives checked.
- ``converter`` (production): unknown keys ignored; structure hooks come from
  ``_fast.FastStructureGen`` (same renames; one generated function per model with its nested
  models built inline, without the frozen ``__init__``), falling back to
  ``make_dict_structure_fn`` for any class it does not support. The switch: set
  ``FACE_ASYNC_FAST_CONVERTER=0`` in the environment (read at import) or build one with
  ``make_converter(fast=False)`` to use cattrs' own generated hooks only; both are tested.
- Both: ``Enum | str`` via a dict lookup, in any casing (unknown values stay strings), aware
  datetimes, list fields that reject a JSON object or string (cattrs would iterate it), and
  unstructuring with camelCase keys and None fields omitted.
"""

import json
import os
import typing
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is an optional extra
    orjson = None  # type: ignore[assignment]

from ._fast import FastStructureGen
from ._hooks import (
    ConversionError,
    _enum_or_str_hook,
    _is_enum_or_str,
    _is_list,
    _is_plain_optional,
    _list_hook,
    _optional_hook_factory,
    _structure_bool,
    _structure_datetime,
    _structure_float,
    _structure_int,
    _structure_str,
    _union_args,
    camel_case,
    format_datetime,
    parse_datetime,
)

__all__ = [
    "ConversionError",
    "camel_case",
    "converter",
    "dumps",
    "format_datetime",
    "loads",
    "make_converter",
    "make_strict_converter",
    "parse_datetime",
    "structure",
    "structure_list",
    "unstructure",
]

T = TypeVar("T")


def _build(*, strict: bool, fast: bool = True) -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=strict, detailed_validation=strict)
    # Primitive hooks first: the generated class hooks capture them when they are built.
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    if strict:
        conv.register_structure_hook(float, _structure_float)
    # else cattrs' default for float inlines float(...) into the generated hooks (no Python
    # call per number); it also accepts numeric strings, which is harmless leniency.
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_unstructure_hook(datetime, format_datetime)
    conv.register_structure_hook_factory(_is_enum_or_str, _enum_or_str_hook)
    conv.register_structure_hook_factory(_is_plain_optional, _optional_hook_factory(conv))
    conv.register_structure_hook_factory(_is_list, _list_hook)

    def structure_factory(cls: Any, c: cattrs.Converter) -> Any:
        if fast and not strict:
            generated = FastStructureGen(c).build(cls)
            if generated is not None:
                return generated
        renames: dict[str, Any] = {
            a.name: override(rename=camel_case(a.name)) for a in attrs.fields(cls)
        }
        return make_dict_structure_fn(cls, c, **renames)

    def unstructure_factory(cls: Any, c: cattrs.Converter) -> Any:
        renames: dict[str, Any] = {
            a.name: override(rename=camel_case(a.name)) for a in attrs.fields(cls)
        }
        # Optional fields default to None, so omitting defaults drops the unset ones.
        return make_dict_unstructure_fn(cls, c, _cattrs_omit_if_default=True, **renames)

    conv.register_structure_hook_factory(attrs.has, structure_factory)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return conv


def make_converter(*, fast: bool = True) -> cattrs.Converter:
    """A production converter: unknown keys ignored; ``fast=False``: cattrs' hooks only."""
    return _build(strict=False, fast=fast)


converter: cattrs.Converter = make_converter(
    fast=os.environ.get("FACE_ASYNC_FAST_CONVERTER", "1").strip().lower()
    not in ("0", "false", "no")
)
"""The production converter: unknown keys ignored, fast generated hooks (unless switched off)."""


def make_strict_converter() -> cattrs.Converter:
    """A converter with the same hooks that rejects unknown keys and validates in detail."""
    return _build(strict=True)


# --- public functions --------------------------------------------------------------------------


# OverflowError: a float field given an integer beyond float range (the stdlib decoder keeps
# 10**400 exact); RecursionError: nesting deeper than the interpreter's stack.
_STRUCTURE_ERRORS = (
    cattrs.BaseValidationError,
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    OverflowError,
    RecursionError,
)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing key {exc.args[0]!r}" if exc.args else "missing key"
    if isinstance(exc, cattrs.BaseValidationError):
        text = "; ".join(cattrs.transform_error(exc))
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:297] + "..."


def _type_name(cls: Any) -> str:
    args = typing.get_args(cls)
    if args:
        inner = ", ".join(_type_name(a) for a in args)
        return f"{getattr(typing.get_origin(cls), '__name__', 'type')}[{inner}]"
    return getattr(cls, "__name__", repr(cls))


_WIRE_KEYS: dict[type, dict[str, tuple[str, Any]]] = {}


def _wire_keys(cls: type) -> dict[str, tuple[str, Any]]:
    """casefolded JSON key -> (JSON key, field type) of a model (built once per model)."""
    keys = _WIRE_KEYS.get(cls)
    if keys is None:
        hints = typing.get_type_hints(cls)
        keys = {
            camel_case(f.name).casefold(): (camel_case(f.name), hints[f.name])
            for f in attrs.fields(cls)
        }
        _WIRE_KEYS[cls] = keys
    return keys


def _recase(value: Any, tp: Any) -> Any:
    """``value`` with the JSON keys of the models in ``tp`` respelled as the models spell them.

    The live service has answered in other key casings than the spec ("Status", "CreatedTime"
    in snapshot operation statuses): a key that matches a field's key ignoring case is read
    as that field. Used only after a structuring failure, so the common path pays nothing.
    """
    args = _union_args(tp)
    if args is not None:
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            return value
        tp = inner[0]
    if isinstance(value, list) and typing.get_origin(tp) is list:
        (item_tp,) = typing.get_args(tp) or (Any,)
        return [_recase(item, item_tp) for item in value]
    if isinstance(value, dict) and isinstance(tp, type) and attrs.has(tp):
        keys = _wire_keys(tp)
        out: dict[Any, Any] = {}
        for key, item in value.items():
            found = keys.get(key.casefold()) if isinstance(key, str) else None
            if found is None:
                out.setdefault(key, item)
            else:
                out[found[0]] = _recase(item, found[1])
        return out
    return value


def _structure_recased(
    hook: Callable[[Any, Any], Any], data: Any, cls: Any, error: BaseException
) -> Any:
    """Retry a failed structuring with the keys respelled; raise ``error`` if none changes."""
    recased = _recase(data, cls)
    if recased == data:
        raise error
    return hook(recased, cls)


def structure(data: object, cls: type[T]) -> T:
    """Structure decoded JSON into ``cls``; raises ConversionError when it does not fit.

    JSON keys are matched exactly, then (only if that fails) ignoring case.
    """
    if not isinstance(data, dict) and attrs.has(cls):
        name = cls.__name__
        raise ConversionError(name, f"expected a JSON object, got {type(data).__name__}")
    try:
        try:
            return converter.structure(data, cls)
        except _STRUCTURE_ERRORS as first:
            result: T = _structure_recased(converter.structure, data, cls, first)
            return result
    except _STRUCTURE_ERRORS as exc:
        raise ConversionError(_type_name(cls), _reason(exc)) from exc


def _structure_item(hook: Callable[[Any, Any], Any], item: Any, cls: Any) -> Any:
    try:
        return hook(item, cls)
    except _STRUCTURE_ERRORS as first:
        return _structure_recased(hook, item, cls, first)


def structure_list(data: object, cls: type[T], *, consume: bool = False) -> list[T]:
    """Structure a decoded JSON array into ``list[cls]``; raises ConversionError.

    ``consume=True`` is for a caller that owns ``data`` and drops it afterwards (the transport,
    with a body it just decoded): each item is released from ``data`` once structured.
    JSON keys are matched exactly, then (only for an item that fails) ignoring case.
    """
    name = _type_name(cls)
    if not isinstance(data, list):
        raise ConversionError(f"list[{name}]", f"expected a JSON array, got {type(data).__name__}")
    hook = converter.get_structure_hook(cls)
    if consume:
        # Releasing each decoded item as soon as its model exists frees its dicts while the
        # models are allocated, so the count of live tracked objects stays flat and the cyclic
        # garbage collector hardly runs: about a third of the time of a 100-face detect.
        out: list[T] = []
        append = out.append
        index = 0
        try:
            for index in range(len(data)):
                try:
                    append(hook(data[index], cls))
                except _STRUCTURE_ERRORS as first:
                    append(_structure_recased(hook, data[index], cls, first))
                data[index] = None
        except _STRUCTURE_ERRORS as exc:
            raise ConversionError(f"list[{name}]", f"item {index}: {_reason(exc)}") from exc
        return out
    try:
        return [hook(item, cls) for item in data]
    except _STRUCTURE_ERRORS:
        pass
    # Other key casings, or an error: item by item, to say which item failed.
    items: list[T] = []
    for index, item in enumerate(data):
        try:
            items.append(_structure_item(hook, item, cls))
        except _STRUCTURE_ERRORS as exc:
            raise ConversionError(f"list[{name}]", f"item {index}: {_reason(exc)}") from exc
    return items


def unstructure(obj: object) -> object:
    """Models (or lists of them) -> JSON-ready dicts: camelCase keys, None fields omitted."""
    return converter.unstructure(obj)


def loads(raw: bytes) -> object:
    """Decode JSON bytes (orjson when installed); empty input -> None; ConversionError if bad."""
    if not raw or raw.isspace():
        return None
    try:
        if orjson is not None:
            return orjson.loads(raw)
        return json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ConversionError("JSON", str(exc)[:300]) from exc
    except RecursionError:  # the stdlib decoder on a deeply nested body (orjson caps depth)
        raise ConversionError("JSON", "nested too deeply") from None


def dumps(obj: object) -> bytes:
    """Encode to compact JSON bytes; models (also nested in lists/dicts) are unstructured."""
    obj = converter.unstructure(obj)
    if orjson is not None:
        return orjson.dumps(obj)
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
