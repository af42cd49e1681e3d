"""Exit codes of ``face-async`` (one meaning each) and the message and hint for an error."""

from __future__ import annotations

import sqlite3

import attrs

from face_async._enroll import JournalBusy
from face_async._errors import (
    APIError,
    AuthenticationError,
    BadRequest,
    ClientClosedError,
    FaceError,
    FaceValidationError,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    TrainingFailed,
)

__all__ = [
    "EXIT_CODES",
    "EXIT_FAILURES",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PERMANENT",
    "EXIT_RETRYABLE",
    "EXIT_USAGE",
    "Outcome",
    "Refused",
    "UsageError",
    "exit_codes_text",
    "outcome_of",
]

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_USAGE = 2
EXIT_RETRYABLE = 3
EXIT_PERMANENT = 4
EXIT_INTERRUPTED = 130

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success"),
    (EXIT_FAILURES, "the run completed; some images cannot be enrolled (see --report)"),
    (EXIT_USAGE, "usage or configuration error: bad arguments, no key or endpoint, missing file"),
    (
        EXIT_RETRYABLE,
        "service or network trouble, rate limit, timeout, journal busy, or "
        "images whose outcome a rerun settles: rerun",
    ),
    (EXIT_PERMANENT, "the service refused in a way a rerun cannot fix (wrong key, no group...)"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C); rerun the same command to continue"),
)


def exit_codes_text() -> str:
    """The exit-code table for ``--help``."""
    return "exit codes:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES)


class UsageError(Exception):
    """A usage or configuration problem found after parsing; ``hint`` says what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class Refused(Exception):
    """The service refused in a way a rerun cannot fix, with what to do instead (exit 4)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@attrs.frozen
class Outcome:
    """How an error ends the command: the exit code, the message and an optional hint."""

    code: int
    message: str
    hint: str | None = None


def _api_text(exc: APIError) -> str:
    return str(exc)


def outcome_of(exc: BaseException, *, key_env: str = "FACE_APIKEY") -> Outcome:
    """The exit code, message and hint for an exception that ended a command.

    Messages come from the library's exceptions, which never carry the key.
    """
    if isinstance(exc, UsageError):
        return Outcome(EXIT_USAGE, str(exc), exc.hint)
    if isinstance(exc, Refused):
        return Outcome(EXIT_PERMANENT, str(exc), exc.hint)
    if isinstance(exc, FaceValidationError):
        if "plain http://" in str(exc):
            return Outcome(
                EXIT_USAGE,
                str(exc).split(";")[0],
                "use an https:// endpoint, or add --allow-insecure-http on a trusted network",
            )
        return Outcome(EXIT_USAGE, str(exc))
    if isinstance(exc, FileNotFoundError):
        return Outcome(EXIT_USAGE, f"no such file: {exc.filename}")
    if isinstance(exc, JournalBusy):
        return Outcome(
            EXIT_RETRYABLE, str(exc), "wait for the other run to finish, or pass another --journal"
        )
    if isinstance(exc, sqlite3.DatabaseError):
        return Outcome(
            EXIT_USAGE, f"the journal cannot be used: {exc}", "pass another --journal FILE"
        )
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return Outcome(EXIT_USAGE, f"{exc.strerror or exc}{where}")
    if isinstance(exc, AuthenticationError):
        return Outcome(
            EXIT_PERMANENT,
            _api_text(exc),
            f"check {key_env}: the key must belong to the Face resource of this endpoint",
        )
    if isinstance(exc, QuotaExceeded):
        return Outcome(EXIT_PERMANENT, _api_text(exc), "the subscription's call quota is spent")
    if isinstance(exc, PermissionDenied):
        return Outcome(EXIT_PERMANENT, _api_text(exc))
    if isinstance(exc, NotFound):
        return Outcome(EXIT_PERMANENT, _api_text(exc))
    if isinstance(exc, BadRequest):
        text = exc.message.lower()
        hint = None
        if (exc.code or "").endswith("NotTrained"):
            hint = "train the group: run `face-async enroll` for it (it trains at the end)"
        elif "recognition model" in text:
            hint = "the images and the group use different recognition models"
        return Outcome(EXIT_PERMANENT, _api_text(exc), hint)
    if isinstance(exc, APIError):
        if exc.status in (408, 409, 429) or exc.status >= 500:
            return Outcome(EXIT_RETRYABLE, _api_text(exc), "rerun the same command to continue")
        return Outcome(EXIT_PERMANENT, _api_text(exc))
    if isinstance(exc, TrainingFailed):
        return Outcome(EXIT_PERMANENT, f"training failed: {exc.message}")
    if isinstance(exc, ClientClosedError):
        return Outcome(EXIT_RETRYABLE, str(exc))
    if isinstance(exc, FaceError):
        # Transport failures, unknown outcomes, malformed responses, training timeouts.
        return Outcome(EXIT_RETRYABLE, f"{type(exc).__name__}: {exc}", "rerun the same command")
    raise exc
