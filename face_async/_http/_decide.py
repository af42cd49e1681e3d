"""The one decision of the request path: what an answer (or its absence) means.

:func:`decide` is pure (sans-I/O, like gidgethub's ``decipher_response``): given the
operation, what happened on one attempt -- an :class:`Answer` (status, headers, body) or a
:class:`NoAnswer` (the transport failure, and whether the request had been sent) -- the
attempt number and the policy, it answers one of

- :class:`Done` -- the call's result (the body read into ``model``);
- :class:`Retry` -- send again after ``delay`` seconds (``pause``: hold the whole gate);
- :class:`Unknown` -- a non-idempotent write may or may not have been applied;
- :class:`Fail` -- raise this error.

The transport and the enrollment both act on it; nothing else decides. The rows, in order:

====================================  ====================  ========================
what happened                         idempotent op         non-idempotent op
====================================  ====================  ========================
2xx, body fits ``model``              Done                  Done
2xx, body unreadable                  Fail(ResponseError)   Unknown (it was applied)
DELETE 404 after an ambiguous try     Done (it is gone)     --
PUT 409 after an ambiguous try        Unknown (may be ours) --
train 409 after an ambiguous try      Done (it is training) --
429                                   Retry, pause the gate (server's delay, else computed);
                                      Fail(RateLimited) when that delay is over the cap
409 ConcurrentOperationConflict       Retry                 Retry (not processed)
not sent (connect failed)             Retry                 Retry
certificate rejected                  Fail                  Fail
408, 5xx, timeout or reset after send Retry                 Unknown
any other status                      Fail(APIError)        Fail(APIError)
====================================  ====================  ========================

A Retry becomes Fail (or Unknown for an ambiguous write) once ``policy.max_tries`` attempts
were made.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from face_async._converter import ConversionError, loads, structure, structure_list
from face_async._errors import (
    APIError,
    ConcurrentOperationConflict,
    Conflict,
    FaceError,
    NotFound,
    OutcomeUnknownError,
    ResponseError,
    TrainingNotFinished,
    TransportError,
    error_from_response,
    excerpt,
)

from ._operations import Operation
from ._policy import RetryPolicy

__all__ = [
    "OPERATION_LOCATION",
    "Answer",
    "Decision",
    "Done",
    "Fail",
    "NoAnswer",
    "Retry",
    "Unknown",
    "decide",
    "read_success",
]


class _OperationLocation:
    """``model=`` marker: the result is the operation id from the Operation-Location header."""

    def __repr__(self) -> str:
        return "OPERATION_LOCATION"


OPERATION_LOCATION: Any = _OperationLocation()
_LIST_MODEL = types.GenericAlias  # model=list[X]


class Answer:
    """The service answered: status, headers and the whole body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"Answer({self.status}, {len(self.body)} bytes)"


class NoAnswer:
    """No response: ``error`` says why, ``error.request_sent`` whether the request left."""

    __slots__ = ("error",)

    def __init__(self, error: TransportError) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"NoAnswer({type(self.error).__name__}, sent={self.error.request_sent})"


class Done:
    """The call succeeded; ``value`` is its result."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Done({type(self.value).__name__})"


class Retry:
    """Send again after ``delay`` seconds; ``pause``: every caller of the gate waits too.

    ``ambiguous``: the failed attempt may have been applied (an idempotent op only).
    """

    __slots__ = ("ambiguous", "delay", "error", "pause")

    def __init__(self, delay: float, error: FaceError, *, pause: bool, ambiguous: bool) -> None:
        self.delay = delay
        self.error = error
        self.pause = pause
        self.ambiguous = ambiguous

    def __repr__(self) -> str:
        return (
            f"Retry(delay={self.delay:.3f}, {type(self.error).__name__}, pause={self.pause}, "
            f"ambiguous={self.ambiguous})"
        )


class Unknown:
    """A write may or may not have been applied; never re-sent."""

    __slots__ = ("error",)

    def __init__(self, error: OutcomeUnknownError) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"Unknown({self.error.operation_id}, status={self.error.status})"


class Fail:
    """The call failed for good: raise ``error``."""

    __slots__ = ("error",)

    def __init__(self, error: FaceError) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"Fail({type(self.error).__name__})"


Decision = Done | Retry | Unknown | Fail


def _same(value: Any) -> Any:
    return value


def read_success(body: bytes, headers: Mapping[str, str], model: Any) -> Any:
    """The result of a 2xx answer: decoded JSON, ``model``, ``list[X]`` or an operation id.

    Raises ConversionError when the body (or the Operation-Location header) does not fit.
    """
    if model is OPERATION_LOCATION:
        location = headers.get("Operation-Location")
        operation_id = location.rstrip("/").rsplit("/", 1)[-1] if location else ""
        if not operation_id:
            raise ConversionError("an operation id", "no Operation-Location header with an id")
        return operation_id
    data = loads(body) if body else None
    if model is None:
        return data
    if model.__class__ is _LIST_MODEL:
        # The decoded body is ours alone: let the converter release it as it goes.
        return structure_list(data, model.__args__[0], consume=True)
    return structure(data, model)


def decide(
    op: Operation,
    happened: Answer | NoAnswer,
    attempt: int,
    policy: RetryPolicy,
    *,
    model: Any = None,
    jitter: float = 0.5,
    ambiguous_before: bool = False,
    redact: Callable[[bytes], bytes] = _same,
    redact_text: Callable[[str], str] = _same,
) -> Decision:
    """Decide what one attempt of ``op`` means (see the module's table).

    ``attempt`` is 1-based; ``jitter`` in [0, 1) scales computed delays; ``ambiguous_before``
    says an earlier attempt of this call may have been applied; ``redact`` / ``redact_text``
    blank secrets in anything an error carries.
    """
    if isinstance(happened, Answer):
        status = happened.status
        if 200 <= status < 300:
            try:
                return Done(read_success(happened.body, happened.headers, model))
            except ConversionError as exc:
                return _unreadable(op, happened, exc, redact, redact_text)
        return _error_answer(op, happened, attempt, policy, jitter, ambiguous_before, redact)
    return _no_answer(op, happened.error, attempt, policy, jitter)


def _unreadable(
    op: Operation,
    answer: Answer,
    exc: ConversionError,
    redact: Callable[[bytes], bytes],
    redact_text: Callable[[str], str],
) -> Decision:
    request_id = answer.headers.get("apim-request-id")
    reason = "response body is not JSON" if exc.target == "JSON" else str(exc)
    error = ResponseError(
        answer.status,
        excerpt(redact(answer.body)),
        request_id=request_id,
        reason=redact_text(f"{op.operation_id}: {reason}"),
    )
    if op.idempotent:
        return Fail(error)
    # The service applied the write; what it made cannot be read, so the caller must look.
    return Unknown(
        OutcomeUnknownError(op.operation_id, error, status=answer.status, request_id=request_id)
    )


def _error_answer(
    op: Operation,
    answer: Answer,
    attempt: int,
    policy: RetryPolicy,
    jitter: float,
    ambiguous_before: bool,
    redact: Callable[[bytes], bytes],
) -> Decision:
    status = answer.status
    error = error_from_response(status, answer.headers, redact(answer.body))
    if ambiguous_before:
        settled = _after_ambiguous(op, error)
        if settled is not None:
            return settled
    if status == 429:
        server = error.retry_after
        if server is not None and server > policy.max_server_delay:
            return Fail(error)
        if attempt >= policy.max_tries:
            return Fail(error)
        delay = server if server is not None else policy.computed_delay(attempt, jitter)
        return Retry(delay, error, pause=True, ambiguous=False)
    if isinstance(error, ConcurrentOperationConflict):
        return _again(error, attempt, policy, jitter, ambiguous=False)
    if status == 408 or status >= 500:
        if not op.idempotent:
            return Unknown(_unknown(op, error, status))
        return _again(error, attempt, policy, jitter, ambiguous=True)
    return Fail(error)


def _after_ambiguous(op: Operation, error: APIError | ResponseError) -> Decision | None:
    # An earlier attempt may have been applied, so this answer may describe our own write.
    if op.method == "DELETE" and isinstance(error, NotFound):
        return Done(None)  # what the call asked for holds: the resource is gone
    if (
        op.method == "POST"
        and op.path.endswith("/train")
        and isinstance(error, TrainingNotFinished)
    ):
        return Done(None)  # the earlier request is training the group
    if (
        op.method == "PUT"
        and isinstance(error, Conflict)
        and not isinstance(error, ConcurrentOperationConflict)
    ):
        return Unknown(_unknown(op, error, error.status))  # it exists; maybe made by us
    return None


def _no_answer(
    op: Operation, error: TransportError, attempt: int, policy: RetryPolicy, jitter: float
) -> Decision:
    if isinstance(error.__cause__, aiohttp.ClientSSLError):
        return Fail(error)  # a certificate that fails verification fails the same way again
    if not error.request_sent:
        return _again(error, attempt, policy, jitter, ambiguous=False)
    if not op.idempotent:
        return Unknown(_unknown(op, error, None))
    return _again(error, attempt, policy, jitter, ambiguous=True)


def _again(
    error: FaceError, attempt: int, policy: RetryPolicy, jitter: float, *, ambiguous: bool
) -> Decision:
    if attempt >= policy.max_tries:
        return Fail(error)
    # A 503's Retry-After is honoured like a 429's, without pausing others; past the cap,
    # the computed delay applies (the status, not the delay, says it is transient).
    server = getattr(error, "retry_after", None)
    if server is not None and server <= policy.max_server_delay:
        delay = server
    else:
        delay = policy.computed_delay(attempt, jitter)
    return Retry(delay, error, pause=False, ambiguous=ambiguous)


def _unknown(op: Operation, error: FaceError, status: int | None) -> OutcomeUnknownError:
    unknown = OutcomeUnknownError(
        op.operation_id, error, status=status, request_id=getattr(error, "request_id", None)
    )
    unknown.__cause__ = error
    return unknown
