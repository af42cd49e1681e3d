"""Every model through the production path (``structure`` / ``structure_list``).

The production converter builds models with generated code (``_converter._fast``: a
private builder subclass filled by plain stores, then switched to the model class).
These tests check, for every model class, that what it builds is indistinguishable from
what cattrs' plain ``make_dict_structure_fn`` path (the strict converter) and the model's own
``__init__`` give,
and that every wrong shape becomes a ConversionError. Sample data is derived from the attrs
field types, so a new model or field is covered without editing this file.
"""

from __future__ import annotations

import copy
import enum
import functools
import pickle
import types
import typing
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import attrs
import pytest

from face_async import _converter, _models
from face_async._converter import ConversionError

MODELS: list[type[Any]] = [
    cls for name in _models.__all__ if attrs.has(cls := getattr(_models, name))
]
IDS = [cls.__name__ for cls in MODELS]
STRICT = _converter.make_strict_converter()
PRIMITIVES = (str, int, float, bool, datetime)

Path = tuple[str | int, ...]


# --- types -------------------------------------------------------------------------------------


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    """(type without None, whether None was allowed)."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(tp)
        if type(None) in args:
            rest = tuple(a for a in args if a is not type(None))
            return (rest[0] if len(rest) == 1 else typing.Union[rest]), True  # noqa: UP007
    return tp, False


def _enum_of(tp: Any) -> type[enum.Enum] | None:
    """E for ``E | str``."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(tp)
        enums = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
        if str in args and len(enums) == 1:
            return enums[0]
    return None


def _fields(cls: type[Any]) -> Iterator[tuple[attrs.Attribute[Any], str, Any, bool]]:
    """(field, JSON key, type without None, required) for each field of ``cls``."""
    hints = typing.get_type_hints(cls)
    for field in attrs.fields(cls):
        tp, _ = _strip_optional(hints[field.name])
        yield field, _converter.camel_case(field.name), tp, field.default is attrs.NOTHING


# --- sample data -------------------------------------------------------------------------------

# Variants of the generated JSON. Values differ per field, so a value stored in the wrong
# field (or dropped) shows in the comparison.
VARIANTS = ["full", "required_only", "nulls", "unknown_enums", "integral_floats", "empty_lists"]


class _Sample:
    def __init__(self, variant: str) -> None:
        self.variant = variant
        self.counter = 0

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def value(self, tp: Any, name: str) -> Any:
        n = self._next()
        enum_cls = _enum_of(tp)
        if enum_cls is not None:
            members = list(enum_cls)
            member = members[n % len(members)]
            if self.variant == "unknown_enums":
                # Alternate: an unknown value (stays a str) and a case variant (a member).
                return f"{name}-unknown-{n}" if n % 2 else member.value.upper()
            return member.value
        if tp is str:
            return f"{name}-{n}"
        if tp is bool:
            return n % 2 == 0
        if tp is int:
            return 100 + n
        if tp is float:
            return n if self.variant == "integral_floats" else n + 0.25
        if tp is datetime:
            if self.variant == "unknown_enums":
                return f"2021-03-{n % 28 + 1:02d}T10:20:30.1234567+05:30"
            return f"2020-01-{n % 28 + 1:02d}T01:02:{n % 60:02d}.2331413Z"
        if typing.get_origin(tp) is list:
            (item,) = typing.get_args(tp)
            count = 0 if self.variant == "empty_lists" else 2
            return [self.value(item, name) for _ in range(count)]
        if attrs.has(tp):
            return self.obj(tp)
        raise AssertionError(f"no sample for {tp!r} ({name})")  # a new kind of field type

    def obj(self, cls: type[Any]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for field, key, tp, required in _fields(cls):
            if required:
                data[key] = self.value(tp, field.name)
            elif self.variant == "nulls":
                data[key] = None
            elif self.variant != "required_only":
                data[key] = self.value(tp, field.name)
        return data


def sample(cls: type[Any], variant: str = "full") -> dict[str, Any]:
    return _Sample(variant).obj(cls)


def _walk(obj: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every value of a structured model, depth first, with its attribute/index path."""
    yield path, obj
    if attrs.has(type(obj)):
        for field in attrs.fields(type(obj)):
            yield from _walk(getattr(obj, field.name), (*path, field.name))
    elif isinstance(obj, list):
        for index, item in enumerate(obj):
            yield from _walk(item, (*path, index))


def _shape(obj: Any) -> list[tuple[Path, type[Any], str]]:
    """Path, exact type and repr of every value (equality alone would hide 1 == 1.0 == True)."""
    return [(path, type(value), repr(value)) for path, value in _walk(obj)]


def _models_in(obj: Any) -> list[Any]:
    return [value for _, value in _walk(obj) if attrs.has(type(value))]


def _constructed(obj: Any) -> Any:
    """The same value built by the model's own ``__init__`` (recursively)."""
    if isinstance(obj, list):
        return [_constructed(item) for item in obj]
    if attrs.has(type(obj)):
        cls = type(obj)
        return cls(**{f.name: _constructed(getattr(obj, f.name)) for f in attrs.fields(cls)})
    return obj


# --- the valid path ----------------------------------------------------------------------------


def _check_built_like_cattrs(cls: type[Any], variant: str) -> None:
    data = sample(cls, variant)
    reference = STRICT.structure(data, cls)
    built = _converter.structure(data, cls)
    assert type(built) is cls
    assert built == reference
    assert reference == built
    assert _shape(built) == _shape(reference)
    assert repr(built) == repr(reference)
    assert _converter.unstructure(built) == _converter.unstructure(reference)
    for path, value in _walk(built):
        if attrs.has(type(value)):  # each nested model is exactly its class: no builder escapes
            assert type(value) in MODELS, (path, type(value))
        elif isinstance(value, enum.Enum):  # Enum | str: a member of a model enum ...
            assert type(value).__module__ == _models.__name__, path
        elif isinstance(value, str):  # ... or a plain string, never a str subclass
            assert type(value) is str, path
        elif isinstance(value, datetime):
            assert value.tzinfo is not None, path
    if variant in ("required_only", "nulls"):
        for field, _, _, required in _fields(cls):
            assert required or getattr(built, field.name) is None, field.name
    if variant == "full":  # the sample fills every field, known enum values become members
        for value in _models_in(built):
            for field, _, tp, _ in _fields(type(value)):
                field_value = getattr(value, field.name)
                assert field_value is not None, (type(value), field.name)
                enum_cls = _enum_of(tp)
                if enum_cls is not None:
                    assert isinstance(field_value, enum_cls), (type(value), field.name)


@pytest.mark.parametrize("cls", MODELS, ids=IDS)
def test_production_path_builds_what_cattrs_builds(cls: type[Any]) -> None:
    # The generated hook is in use (not the make_dict_structure_fn fallback) ...
    hook = _converter.converter.get_structure_hook(cls)
    assert hook.__code__.co_filename == f"<face_async structure {cls.__qualname__}>"
    # ... and gives what cattrs' plain path gives, for every variant of the sample data.
    for variant in VARIANTS:
        _check_built_like_cattrs(cls, variant)


class _Different:
    @staticmethod
    def of(value: Any) -> Any:
        return ["something else"] if not isinstance(value, list) else [*value, "extra"]


def _check_like_constructed(cls: type[Any], built: Any) -> None:
    constructed = _constructed(built)
    assert type(constructed) is cls
    assert repr(built) == repr(constructed)
    assert repr(built) == repr(cls(**{f.name: getattr(built, f.name) for f in attrs.fields(cls)}))
    assert built == constructed
    assert constructed == built
    assert (built != constructed) is False  # __ne__ too
    try:
        expected: int | None = hash(constructed)
    except TypeError:  # a list field: unhashable, whichever way the instance was made
        expected = None
    if expected is None:
        with pytest.raises(TypeError):
            hash(built)
    else:
        assert hash(built) == expected
        assert {built: 1}[constructed] == 1
    # A different value compares unequal (eq really looks at the fields).
    first = attrs.fields(cls)[0]
    other = attrs.evolve(built, **{first.name: _Different.of(getattr(built, first.name))})
    assert type(other) is cls
    assert other != built


def _check_frozen(built: Any) -> None:
    for value in _models_in(built):
        before = repr(value)
        for field in attrs.fields(type(value)):
            with pytest.raises(attrs.exceptions.FrozenInstanceError):
                setattr(value, field.name, None)
            with pytest.raises(attrs.exceptions.FrozenInstanceError):
                delattr(value, field.name)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            value.not_a_field = 1
        assert not hasattr(value, "__dict__")  # still slotted: no room for extra state
        assert repr(value) == before


def _check_pickle_and_copy(cls: type[Any], built: Any) -> None:
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps(built, protocol=protocol))
        assert type(again) is cls
        assert again == built
        assert _shape(again) == _shape(built)
    for copied in (copy.copy(built), copy.deepcopy(built)):
        assert type(copied) is cls
        assert _shape(copied) == _shape(built)


@pytest.mark.parametrize("cls", MODELS, ids=IDS)
def test_built_instances_behave_like_constructed_ones(cls: type[Any]) -> None:
    for variant in ("full", "required_only", "unknown_enums"):
        built = _converter.structure(sample(cls, variant), cls)
        _check_like_constructed(cls, built)
        _check_frozen(built)
        _check_pickle_and_copy(cls, built)


@pytest.mark.parametrize("cls", MODELS, ids=IDS)
def test_structure_list_matches_structure(cls: type[Any]) -> None:
    items = [sample(cls, v) for v in VARIANTS]
    built = _converter.structure_list(items, cls)
    assert [type(x) for x in built] == [cls] * len(items)
    assert built == [STRICT.structure(item, cls) for item in items]
    assert [_shape(x) for x in built] == [_shape(_converter.structure(i, cls)) for i in items]
    assert _converter.structure_list([], cls) == []
    for item in built:
        _check_frozen(item)


# --- wrong shapes ------------------------------------------------------------------------------


def _set(data: Any, path: Path, value: Any) -> Any:
    data = copy.deepcopy(data)
    target = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return data


def _delete(data: Any, path: Path) -> Any:
    data = copy.deepcopy(data)
    target = data
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return data


def _json_fields(cls: type[Any], data: Any, path: Path = ()) -> Iterator[tuple[Path, Any, bool]]:
    """(JSON path, type, required) of every field in the sample ``data`` of ``cls``."""
    for _, key, tp, required in _fields(cls):
        if key not in data:
            continue
        here = (*path, key)
        yield here, tp, required
        if attrs.has(tp):
            yield from _json_fields(tp, data[key], here)
        elif typing.get_origin(tp) is list:
            (item,) = typing.get_args(tp)
            if attrs.has(item) and data[key]:
                yield from _json_fields(item, data[key][0], (*here, 0))


# Wrong values for a field of each primitive type (None: only for required fields).
WRONG: dict[Any, list[Any]] = {
    str: [5, 1.5, True, [], {}, ["s"], {"s": "s"}],
    int: ["5", "x", 1.5, True, [], {}, [1]],
    float: ["x", [], {}, [1.5], {"x": 1.5}],
    bool: ["true", 1, 0, 1.0, [], {}],
    datetime: [5, 1.5, "not a date", "2020-13-45T99:00:00Z", [], {}],
    "enum": [5, 1.5, True, [], {}, ["recognition_01"]],
}


def _cases(cls: type[Any]) -> dict[str, list[tuple[str, Any]]]:
    """Wrong inputs for ``cls`` by kind: (description, data)."""
    full = sample(cls)
    cases: dict[str, list[tuple[str, Any]]] = {
        "list_for_object": [("[object]", [full]), ("[]", [])],
        "string_for_object": [("string", "x"), ("empty string", "")],
        "scalar_for_object": [("number", 5), ("null", None), ("true", True)],
        "missing_required_key": [],
        "wrong_primitive": [],
        "list_field_given_dict": [],
        "list_field_given_scalar": [],
        "nested_model_given_number": [],
        "nested_model_given_other": [],
    }
    for path, tp, required in _json_fields(cls, full):
        where = ".".join(map(str, path))
        if required:
            cases["missing_required_key"].append((f"without {where}", _delete(full, path)))
        kind: Any = "enum" if _enum_of(tp) is not None else tp
        if kind in WRONG:
            for bad in WRONG[kind] + ([None] if required else []):
                cases["wrong_primitive"].append((f"{where}={bad!r}", _set(full, path, bad)))
        elif typing.get_origin(tp) is list:
            (item,) = typing.get_args(tp)
            for bad in ({"a": 1}, {"a": sample(item) if attrs.has(item) else "a"}, {}):
                cases["list_field_given_dict"].append((f"{where}={bad!r}", _set(full, path, bad)))
            for bad in [5, 1.5, True, "abc", ""] + ([None] if required else []):
                cases["list_field_given_scalar"].append((f"{where}={bad!r}", _set(full, path, bad)))
            if not attrs.has(item):  # a wrong item in a list of primitives
                items = typing.get_args(item)[0] if typing.get_origin(item) is list else item
                for bad in [*WRONG.get(items, [])[:2], None]:
                    wrong_item = bad if item is items else [bad]
                    cases["wrong_primitive"].append(
                        (f"{where}[1]={wrong_item!r}", _set(full, (*path, 1), wrong_item))
                    )
            else:
                for bad in (5, "x", None, []):
                    cases["nested_model_given_other"].append(
                        (f"{where}[1]={bad!r}", _set(full, (*path, 1), bad))
                    )
        elif attrs.has(tp):
            for bad in (5, 1.5, 0, True):
                cases["nested_model_given_number"].append(
                    (f"{where}={bad!r}", _set(full, path, bad))
                )
            for bad in ("x", "", [], [sample(tp)]) + ((None,) if required else ()):
                cases["nested_model_given_other"].append(
                    (f"{where}={bad!r}", _set(full, path, bad))
                )
        else:  # pragma: no cover - a new kind of field type
            raise AssertionError(f"no wrong values for {tp!r}")
    return {kind: found for kind, found in cases.items() if found}


KINDS = [
    "list_for_object",
    "string_for_object",
    "scalar_for_object",
    "missing_required_key",
    "wrong_primitive",
    "list_field_given_dict",
    "list_field_given_scalar",
    "nested_model_given_number",
    "nested_model_given_other",
]


def _raises_conversion_error(call: Callable[[], Any]) -> ConversionError | str:
    """The ConversionError, or a description of what happened instead."""
    try:
        result = call()
    except ConversionError as exc:
        if not exc.reason:
            return "ConversionError without a reason"
        return exc
    except Exception as exc:  # the point is which exception escapes
        return f"{type(exc).__name__} escaped: {exc}"
    return f"accepted: {result!r}"[:300]


@pytest.mark.parametrize("cls", MODELS, ids=IDS)
def test_wrong_shapes_raise_conversion_error(cls: type[Any]) -> None:
    full = sample(cls)
    failures = []
    for kind, found in _cases(cls).items():
        for description, data in found:
            where = f"{kind}, {description}"
            outcome = _raises_conversion_error(functools.partial(_converter.structure, data, cls))
            if not isinstance(outcome, ConversionError):
                failures.append(f"structure, {where}: {outcome}")
            elif outcome.target != cls.__name__:
                failures.append(f"structure, {where}: target {outcome.target}")
            outcome = _raises_conversion_error(
                functools.partial(_converter.structure_list, [full, data], cls)
            )
            if not isinstance(outcome, ConversionError):
                failures.append(f"structure_list, {where}: {outcome}")
            elif "item 1" not in outcome.reason:
                failures.append(f"structure_list, {where}: reason {outcome.reason}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("cls", MODELS, ids=IDS)
def test_strict_converter_rejects_the_same_shapes(cls: type[Any]) -> None:
    accepted = []
    for kind, found in _cases(cls).items():
        for description, data in found:
            try:
                STRICT.structure(data, cls)
            except Exception:  # any rejection will do here
                continue
            accepted.append(f"{kind}, {description}")
    assert not accepted, accepted


def test_every_kind_of_wrong_shape_is_exercised() -> None:
    by_model = {cls: _cases(cls) for cls in MODELS}
    assert {kind for cases in by_model.values() for kind in cases} == set(KINDS)
    for cls, cases in by_model.items():
        assert {"list_for_object", "string_for_object", "scalar_for_object"} <= set(cases)
        if any(required for *_, required in _fields(cls)):
            assert "missing_required_key" in cases, cls
    total = sum(len(found) for cases in by_model.values() for found in cases.values())
    assert total > 1000


def test_all_models_are_covered() -> None:
    assert len(MODELS) == len(
        [n for n in _models.__all__ if not isinstance(getattr(_models, n), enum.EnumMeta)]
    )
    assert _models.DetectedFace in MODELS
    assert _models.FaceLandmarks in MODELS


# --- the switch: cattrs' own generated hooks instead of the fast path --------------------------

PLAIN = _converter.make_converter(fast=False)


def _is_fast(conv: Any, cls: type[Any]) -> bool:
    hook = conv.get_structure_hook(cls)
    return hook.__code__.co_filename.startswith("<face_async structure")


@pytest.mark.parametrize("cls", MODELS, ids=IDS)
def test_the_plain_converter_builds_what_the_fast_path_builds(cls: type[Any]) -> None:
    for variant in ("full", "minimal"):
        data = sample(cls, variant)
        fast = _converter.converter.structure(copy.deepcopy(data), cls)
        plain = PLAIN.structure(copy.deepcopy(data), cls)
        assert plain == fast
        assert type(plain) is type(fast) is cls
        assert _shape(plain) == _shape(fast)


def test_the_switch_selects_the_hooks() -> None:
    assert _is_fast(_converter.converter, _models.DetectedFace)
    assert not _is_fast(PLAIN, _models.DetectedFace)


def test_the_environment_switch_turns_the_fast_path_off() -> None:
    import os
    import subprocess
    import sys

    code = (
        "import face_async._converter as c, face_async._models as m;"
        "h = c.converter.get_structure_hook(m.DetectedFace);"
        "print(h.__code__.co_filename.startswith('<face_async structure'))"
    )
    for value, expected in (("0", "False"), ("1", "True")):
        env = {**os.environ, "FACE_ASYNC_FAST_CONVERTER": value}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == expected
