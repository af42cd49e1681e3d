"""The fast structuring path: one generated function per model, nested models built inline.

``FastStructureGen(converter).build(cls)`` returns a structure function for an attrs model
(same renames and hooks as cattrs' ``make_dict_structure_fn``) that fills a private builder
subclass with plain attribute stores and switches its class at the end, skipping the frozen
``__init__``; None for a class it does not support (cattrs' own hook is used then).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any

import attrs
import cattrs

from ._hooks import (
    _enum_fold,
    _enum_lookup,
    _enum_or_str,
    _not_a_list,
    _union_args,
    camel_case,
)

__all__ = ["FastStructureGen"]

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


class FastStructureGen:
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
