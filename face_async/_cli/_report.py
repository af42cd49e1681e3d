"""The enrollment summary (text) and the ``--report FILE`` JSON-lines completion report.

The report has one line per image (and per file left out), written as each completes, then one
summary line: ``{"summary": {...}}``, like azcopy's job log and S3 Batch Operations' completion
report. Each line is flushed, so a report cut by ``kill -9`` still holds whole lines.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, TextIO

from face_async._enroll import EnrollEvent, EnrollReport, FaceAdded, FaceFailed, FaceSkipped

__all__ = ["JsonReport", "relative", "summary_table"]

_CODE = re.compile(r"^(\d{3}) ([A-Za-z][\w.]*):")
_REQUEST_ID = re.compile(r"request id ([^\s),;]+)")


def relative(source: str, root: Path | None) -> str:
    """``source`` relative to the photos folder when it is inside it."""
    if root is None:
        return source
    prefix = os.fspath(root) + os.sep
    return source[len(prefix) :] if source.startswith(prefix) else source


def _error_fields(event: FaceFailed) -> tuple[str | None, str | None]:
    """The service's error code and request id of a failure, when the service answered."""
    code = getattr(event, "error_code", None) or getattr(event, "code", None)
    request_id = getattr(event, "request_id", None)
    if code is None and (match := _CODE.match(event.detail)):
        code = match.group(2)
    if request_id is None and (match := _REQUEST_ID.search(event.detail)):
        request_id = match.group(1)
    return code, request_id


class JsonReport:
    """Writes the JSON-lines report of one enrollment to an open text file."""

    def __init__(self, file: TextIO, root: Path | None) -> None:
        self.file = file
        self.root = root

    def _line(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.file.flush()

    def left_out(self, path: str, why: str) -> None:
        """A file or folder of PHOTOS_DIR that is not enrolled."""
        self._line({"person": None, "source": path, "status": "skipped", "reason": why})

    def event(self, event: EnrollEvent) -> None:
        """Record an image's completion (other events are ignored)."""
        if isinstance(event, FaceAdded):
            self._line({
                "person": event.person, "source": relative(event.source, self.root),
                "status": "added", "persisted_face_id": event.persisted_face_id,
            })  # fmt: skip
        elif isinstance(event, FaceSkipped):
            self._line({
                "person": event.person, "source": relative(event.source, self.root),
                "status": "already_enrolled", "reason": event.reason,
            })  # fmt: skip
        elif isinstance(event, FaceFailed):
            code, request_id = _error_fields(event)
            self._line({
                "person": event.person, "source": relative(event.source, self.root),
                "status": "failed", "reason": event.reason, "error_code": code,
                "request_id": request_id, "detail": event.detail,
            })  # fmt: skip

    def summary(self, summary: dict[str, Any]) -> None:
        """The last line."""
        self._line({"summary": summary})


def summary_counts(report: EnrollReport, left_out: int) -> dict[str, Any]:
    """The exact counts of a finished enrollment (the report's summary line)."""
    return {
        "group": report.group_id,
        "large": report.large,
        "images": report.faces_added + report.faces_skipped + report.faces_failed,
        "added": report.faces_added,
        "already_enrolled": report.faces_skipped,
        "failed": report.faces_failed,
        "files_skipped": left_out,
        "persons_created": report.persons_created,
        "persons_reused": report.persons_reused,
        "reconciled": report.reconciled,
        "duplicates_removed": report.duplicates_removed,
        "retries": report.retries,
        "rate_limited": report.rate_limited,
        "training": report.training_status or "not run",
        "elapsed_seconds": round(report.elapsed, 3),
        "calls": report.calls,
    }


def summary_table(report: EnrollReport, root: Path | None = None, *, left_out: int = 0) -> str:
    """The final summary of an enrollment as a small text table, failures listed with why."""
    rows = [
        ("group", f"{report.group_id}{' (large)' if report.large else ''}"),
        ("persons created", str(report.persons_created)),
        ("persons reused", str(report.persons_reused)),
        ("faces added", str(report.faces_added)),
        ("already enrolled", str(report.faces_skipped)),
        ("faces failed", str(report.faces_failed)),
        ("files skipped", str(left_out)),
        ("ambiguous writes reconciled", str(report.reconciled)),
        ("retries / 429s", f"{report.retries} / {report.rate_limited}"),
        ("training", report.training_status or "not run"),
        ("elapsed", f"{report.elapsed:.2f} s"),
        ("calls per second", f"{report.calls_per_second:.1f} ({report.calls} calls)"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"  {name:<{width}}  {value}" for name, value in rows]
    rule = "  " + "-" * (width + 2 + max(len(value) for _, value in rows))
    out = [rule, *lines, rule]
    if report.failures:
        out.append("  failed images:")
        for f in report.failures:
            out.append(f"    {relative(f.source, root)}  {f.reason}: {f.detail}")
    return "\n".join(out)
