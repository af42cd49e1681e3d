"""Recorded Face API v1.0 traffic: the loader for tests/fixtures/recordings/.

One JSON file per request/response pair, transcribed from Microsoft's public SDK test
recordings (see tests/fixtures/recordings/README.md for sources, licence and format).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

RECORDINGS_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "recordings"


@attrs.frozen
class Source:
    """Where a pair was transcribed from."""

    repo: str
    path: str
    commit: str | None
    entry: int


@attrs.frozen
class RecordedRequest:
    """The request as recorded: path without host, decoded query, content type, JSON body.

    `body` is the JSON value sent, None for no body, or `{"$binary": "image"}` for an image
    stream (the bytes are not kept).
    """

    method: str
    path: str
    query: Mapping[str, str]
    content_type: str | None
    body: Any

    @property
    def is_binary(self) -> bool:
        """True when the request body was an image stream."""
        return isinstance(self.body, dict) and set(self.body) == {"$binary"}


@attrs.frozen
class RecordedResponse:
    """The response as recorded: status, headers, and the exact body text."""

    status: int
    headers: Mapping[str, str]
    body: str

    def header(self, name: str) -> str | None:
        """The value of a header, looked up case-insensitively."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    def json(self) -> Any:
        """The body parsed as JSON (None when the body is empty)."""
        return json.loads(self.body) if self.body else None


@attrs.frozen
class Recording:
    """One recorded request/response pair of the live Face API v1.0."""

    file: Path
    source: Source
    operation_id: str
    request: RecordedRequest
    response: RecordedResponse

    @property
    def slug(self) -> str:
        """The source folder name, e.g. "python-vision-face"."""
        return self.file.parent.name

    @property
    def name(self) -> str:
        """A stable test id: "<slug>/<file stem>"."""
        return f"{self.slug}/{self.file.stem}"


def load_recording(file: Path) -> Recording:
    """Read one recording file; raises ValueError when it does not have the format."""
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
        src, req, resp = raw["source"], raw["request"], raw["response"]
        return Recording(
            file=file,
            source=Source(
                repo=src["repo"], path=src["path"], commit=src["commit"], entry=int(src["entry"])
            ),
            operation_id=raw["operation_id"],
            request=RecordedRequest(
                method=req["method"].upper(),
                path=req["path"],
                query=dict(req["query"]),
                content_type=req["content_type"],
                body=req["body"],
            ),
            response=RecordedResponse(
                status=int(resp["status"]), headers=dict(resp["headers"]), body=resp["body"]
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{file}: not a recording ({exc!r})") from exc


def load_recordings(directory: Path = RECORDINGS_DIR) -> list[Recording]:
    """Every recording under `directory`, sorted by source folder then file name."""
    return [load_recording(f) for f in sorted(directory.glob("*/*.json"))]


def ids(recordings: Sequence[Recording]) -> list[str]:
    """Test ids for `pytest.mark.parametrize(..., ids=ids(recs))`."""
    return [r.name for r in recordings]
