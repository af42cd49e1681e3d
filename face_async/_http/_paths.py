"""Paths and queries: what a request's URL is (pure functions, cached per path template)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from urllib.parse import quote

from face_async._errors import FaceValidationError

__all__ = ["build_path", "encode_query"]

_PLACEHOLDER = re.compile(r"\{[^}]*\}")
_DOT_SEGMENTS = frozenset((".", ".."))
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]+\Z").match  # ids and UUIDs: nothing to quote
_QUERY_SAFE = re.compile(r"[A-Za-z0-9_.~,-]*\Z").match


@functools.lru_cache(maxsize=512)
def _compile_path(path: str) -> tuple[str, int]:
    # "/persongroups/{personGroupId}/persons" -> ("/persongroups/{}/persons", 1), once per path.
    literals = _PLACEHOLDER.split(path)
    template = "{}".join(part.replace("{", "{{").replace("}", "}}") for part in literals)
    return template, len(literals) - 1


def build_path(path: str, path_args: tuple[str, ...]) -> str:
    """Substitute ``path_args`` in order into the ``{...}`` placeholders, percent-quoted.

    Raises FaceValidationError for an empty, "." or ".." argument.
    """
    return _build_path(path, path_args)


# Bulk work repeats the same (path, ids) pairs (every face of one person): one dict lookup
# instead of two regex matches and a format per call. Small, so memory stays flat however many
# persons a run writes to (a run works on a few dozen at a time).
@functools.lru_cache(maxsize=256)
def _build_path(path: str, path_args: tuple[str, ...]) -> str:
    template, count = _compile_path(path)
    if count != len(path_args):
        raise TypeError(f"{path} takes {count} path arguments, got {len(path_args)}")
    if not count:
        return path
    quoted = []
    for arg in path_args:
        text = arg if type(arg) is str else str(arg)
        if not _UNRESERVED(text):
            if not text:
                raise FaceValidationError("empty path argument", parameter="path_args")
            text = quote(text, safe="")
        elif text in _DOT_SEGMENTS:
            # Dot segments would address another resource once the path is resolved.
            raise FaceValidationError(f"invalid path argument {text!r}", parameter="path_args")
        quoted.append(text)
    return template.format(*quoted)


def encode_query(query: Mapping[str, object]) -> str:
    """``k=v&...`` with values percent-quoted (commas kept); None values are left out."""
    parts = []
    for name, value in query.items():
        if value is None:
            continue
        if value is True:
            text = "true"
        elif value is False:
            text = "false"
        else:
            text = value if type(value) is str else str(value)
            if not _QUERY_SAFE(text):
                text = quote(text, safe=",")
        if not _QUERY_SAFE(name):
            name = quote(name, safe="")
        parts.append(f"{name}={text}")
    return "&".join(parts)
