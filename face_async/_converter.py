"""The one cattrs converter: service JSON (camelCase) <-> models (snake_case); JSON bytes.

Hooks are generated once per class (cattrs caches them after the first use) and the
camelCase renames are derived from the field names, so nothing is reflected per call.

- ``make_strict_converter()`` (tests): cattrs' ``make_dict_structure_fn`` with
  ``override(rename=...)``, ``forbid_extra_keys`` and detailed validation; primitives checked.
- ``converter`` (production): unknown keys ignored; structure hooks come from
  ``_FastStructureGen`` (same renames; one generated function per model with its nested
  models built inline, without the frozen ``__init__``), falling back to
  ``make_dict_structure_fn`` for any class it does not support.
- Both: ``Enum | str`` via a dict lookup, in any casing (unknown values stay strings), aware
  datetimes, list fields that reject a JSON object or string (cattrs would iterate it), and
  unstructuring with camelCase keys and None fields omitted.
"""

import enum
import json
import re
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is an optional extra
    orjson = None  # type: ignore[assignment]

__all__ = [
    "ConversionError",
    "camel_case",
    "converter",
    "dumps",
    "format_datetime",
    "loads",
    "make_strict_converter",
    "parse_datetime",
    "structure",
    "structure_list",
    "unstructure",
]

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


_BUILDERS: dict[type, type] = {}


def _builder_repr(self: object) -> str:
    return f"<{type(self).__name__} being built>"


def _builder(cls: type) -> type:
    """A private subclass of the slotted model ``cls`` in which generated hooks fill new instances.

    It adds no slot and puts back object's ``__init__``, ``__setattr__`` and ``__delattr__``
    (both of the last two, or CPython keeps routing stores through the frozen ``__setattr__``).
    A generated hook allocates ``B()``, fills the fields with plain attribute stores (slot
    writes, no call each; the frozen class needs a descriptor call per field) and ends with
    ``inst.__class__ = cls``: from then on it is an ordinary ``cls`` instance, the same as one
    made by ``cls(...)`` (same type, slots, equality, hash, repr, immutability). The builder
    never escapes. CPython allows the class switch because the layouts are identical
    (``supports`` checks it once). Built once per model.
    """
    builder = _BUILDERS.get(cls)
    if builder is None:
        namespace = {
            "__slots__": (),
            "__init__": object.__init__,
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
            # A half-built instance can sit in a frame's locals when a field fails: its repr
            # must not read the fields (tracebacks with capture_locals=True repr every local).
            "__repr__": _builder_repr,
            "__module__": __name__,
        }
        builder = type(f"_{cls.__name__}Builder", (cls,), namespace)
        _BUILDERS[cls] = builder
    return builder


class _FastStructureGen:
    """Generates, once per model, one structure hook with its nested models built inline.

    The attrs ``__init__`` of a frozen class sets each slot through ``object.__setattr__``
    after a keyword call; for a 100-face Detect response (about 5,000 objects, 15,000 fields)
    that dominated the time. Models have no validators, converters or init hooks, so building
    the instance directly gives an identical object (the spec tests compare them with the
    cattrs-built ones):

    - each instance is a ``_builder(cls)`` filled by plain attribute stores, then switched to
      ``cls`` (one class assignment instead of one descriptor call per field);
    - nested models, and lists of them, are built inline in the parent's function (no call
      per object); fields of other types call their cattrs hook;
    - primitives: the exact type passes with one comparison; ``Enum | str``: a dict lookup;
    - nothing is checked twice: a wrong shape fails in the subscript, ``.get``, iteration or
      hook it reaches (KeyError, TypeError, AttributeError, ValueError), which ``structure``
      and ``structure_list`` turn into ConversionError.

    ``build`` returns None for a class this does not apply to (cattrs'
    ``make_dict_structure_fn`` is used instead).
    """

    def __init__(self, conv: cattrs.Converter) -> None:
        self.conv = conv
        self.namespace: dict[str, Any] = {}
        self.bound: dict[int, str] = {}
        self.count = 0

    def _bind(self, prefix: str, value: object) -> str:
        """The local name of ``value`` in the generated function (one name per object)."""
        name = self.bound.get(id(value))
        if name is None:
            self.count += 1
            name = self.bound[id(value)] = f"__{prefix}{self.count}"
            self.namespace[name] = value  # also keeps value alive, so its id stays unique
        return name

    def _local(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    @staticmethod
    def supports(cls: Any) -> bool:
        if not attrs.has(cls) or hasattr(cls, "__attrs_post_init__"):
            return False
        if hasattr(cls, "__attrs_pre_init__"):
            return False
        fields = attrs.fields(cls)
        for field in fields:
            if field.validator is not None or field.converter is not None or not field.init:
                return False
            if not isinstance(cls.__dict__.get(field.name), types.MemberDescriptorType):
                return False
            if field.default is not attrs.NOTHING and field.default is not None:
                return False
        # Every slot is a field: no cached hash or other hidden state for __init__ to set.
        slots = {s for k in cls.__mro__[:-1] for s in k.__dict__.get("__slots__", ())}
        if slots - {"__weakref__"} != {f.name for f in fields}:
            return False
        try:  # CPython accepts the class switch (same layout); checked once per class
            _builder(cls)().__class__ = cls
        except TypeError:
            return False
        return True

    def _nested(self, tp: Any, stack: tuple[Any, ...]) -> tuple[bool, Any] | None:
        """(is_list, model) when ``tp`` is a model, or a list of one, that can be inlined."""
        is_list = typing.get_origin(tp) is list
        if is_list:
            args = typing.get_args(tp)
            if len(args) != 1:
                return None
            tp = args[0]
        if isinstance(tp, type) and tp not in stack and self.supports(tp):
            return is_list, tp
        return None

    def _value(self, tp: Any, v: str, optional: bool) -> str:
        """The expression structuring the variable ``v`` as ``tp`` (None allowed if optional)."""
        hook = self._bind("h", self.conv.get_structure_hook(tp))
        type_name = self._bind("t", tp)
        found = _enum_or_str(tp)
        if found is not None:
            # A plain string: known value -> member (other casings via the fold, only on a
            # miss), unknown stays the string; anything else (None, a str subclass, a wrong
            # type) goes to the hook.
            exact = _enum_lookup(found[0])
            members = self._bind("m", exact)
            fold = self._bind("f", _enum_fold(found[0], exact))
            return (
                f"({members}.get({v}) or {fold}({v})) if {v}.__class__ is str "
                f"else {hook}({v}, {type_name})"
            )
        if tp in (str, int, float, bool):
            # The exact type first: the common case costs one comparison.
            fallback = f"{hook}({v}, {type_name})"
            if optional:
                fallback = f"(None if {v} is None else {fallback})"
            return f"{v} if {v}.__class__ is {type_name} else {fallback}"
        expr = f"{hook}({v}, {type_name})"
        return f"None if {v} is None else {expr}" if optional else expr

    def _object(
        self, cls: Any, src: str, lines: list[str], ind: str, stack: tuple[Any, ...]
    ) -> str:
        """Append statements building a ``cls`` from the dict named ``src``; the result's name."""
        hints = typing.get_type_hints(cls)
        fields = attrs.fields(cls)
        inst = self._local("i")
        lines.append(f"{ind}{inst} = {self._bind('b', _builder(cls))}()")
        get = f"{src}.get"
        if sum(f.default is not attrs.NOTHING for f in fields) > 2:
            get = self._local("get")
            lines.append(f"{ind}{get} = {src}.get")
        stack = (*stack, cls)
        for field in fields:
            key = camel_case(field.name)
            target = f"{inst}.{field.name}"
            tp = hints[field.name]
            required = field.default is attrs.NOTHING
            optional = False
            if not required:
                args = _union_args(tp)
                if args is not None and len(args) == 2 and type(None) in args:
                    tp = args[0] if args[1] is type(None) else args[1]
                    optional = True
            v = self._local("v")
            lines.append(f"{ind}{v} = {src}[{key!r}]" if required else f"{ind}{v} = {get}({key!r})")
            nested = self._nested(tp, stack)
            if nested is None:
                lines.append(f"{ind}{target} = {self._value(tp, v, optional)}")
                continue
            is_list, model = nested
            inner = ind
            if optional:
                lines += [f"{ind}if {v} is None:", f"{ind}    {target} = None", f"{ind}else:"]
                inner = ind + "    "
            if is_list:  # a list or other iterable, not a JSON object or string (_list_hook)
                items, item = self._local("l"), self._local("e")
                check = self._bind("n", _not_a_list)
                lines += [
                    f"{inner}if {v}.__class__ is not list:",
                    f"{inner}    {v} = {check}({v})",
                    f"{inner}{items} = []",
                    f"{inner}for {item} in {v}:",
                ]
                child = self._object(model, item, lines, inner + "    ", stack)
                lines += [f"{inner}    {items}.append({child})", f"{inner}{target} = {items}"]
            else:
                child = self._object(model, v, lines, inner, stack)
                lines.append(f"{inner}{target} = {child}")
        lines.append(f"{ind}{inst}.__class__ = {self._bind('c', cls)}")
        return inst

    def build(self, cls: Any) -> Callable[..., Any] | None:
        if not self.supports(cls):
            return None
        body: list[str] = []
        result = self._object(cls, "o", body, "", ())
        body.append(f"return {result}")
        names = list(self.namespace)
        # Everything the body uses is bound as a default argument: local lookups, not globals.
        source = "\n".join(
            [
                f"def make({', '.join(names)}):",
                f"  def structure(o, _=None, {', '.join(f'{n}={n}' for n in names)}):",
                *("    " + line for line in body),
                "  return structure",
            ]
        )
        scope: dict[str, Any] = {}
        exec(compile(source, f"<face_async structure {cls.__qualname__}>", "exec"), scope)
        hook: Callable[..., Any] = scope["make"](**self.namespace)
        return hook


def _build(*, strict: bool) -> cattrs.Converter:
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
        if not strict:
            fast = _FastStructureGen(c).build(cls)
            if fast is not None:
                return fast
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


converter: cattrs.Converter = _build(strict=False)
"""The production converter: unknown keys ignored, fast generated hooks."""


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
