"""The face-async exception tree and the pure mapping of an HTTP error response to it.

::

    FaceError
    ├── FaceValidationError(FaceError, ValueError)  .parameter        bad input, nothing sent
    ├── ClientClosedError(FaceError, RuntimeError)                    use after close()
    ├── TransportError  .request_sent                                 no HTTP response
    │   ├── FaceConnectionError
    │   └── FaceTimeoutError(TransportError, TimeoutError)
    ├── OutcomeUnknownError  .operation_id .cause .status .request_id
    │                                     a non-idempotent write may or may not have applied
    ├── APIError  .status .code .message .request_id .retry_after
    │   ├── BadRequest (400) ── InvalidImage, InvalidImageSize, InvalidURL
    │   ├── AuthenticationError (401)
    │   ├── PermissionDenied (403) ── QuotaExceeded, UnsupportedFeature
    │   ├── NotFound (404) ── PersonGroupNotFound, PersonNotFound, PersistedFaceNotFound,
    │   │                     FaceNotFound, LargePersonGroupNotFound, FaceListNotFound,
    │   │                     LargeFaceListNotFound, SnapshotNotFound, OperationNotFound
    │   ├── OperationTimeout (408)
    │   ├── Conflict (409) ── ConcurrentOperationConflict, TrainingNotFinished
    │   ├── UnsupportedMediaType (415)
    │   ├── RateLimited (429)
    │   └── ServerError (5xx)
    ├── ResponseError  .status .body_excerpt .request_id .retry_after malformed response
    ├── TrainingFailed  .message                                      training ended in "failed"
    └── TrainingTimeout(FaceError, TimeoutError)

``error_from_response(status, headers, body)`` is sans-I/O: it turns a recorded non-2xx
response into one of the classes above and never raises itself.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequest",
    "ClientClosedError",
    "ConcurrentOperationConflict",
    "Conflict",
    "FaceConnectionError",
    "FaceError",
    "FaceListNotFound",
    "FaceNotFound",
    "FaceTimeoutError",
    "FaceValidationError",
    "InvalidImage",
    "InvalidImageSize",
    "InvalidURL",
    "LargeFaceListNotFound",
    "LargePersonGroupNotFound",
    "NotFound",
    "OperationNotFound",
    "OperationTimeout",
    "OutcomeUnknownError",
    "PermissionDenied",
    "PersistedFaceNotFound",
    "PersonGroupNotFound",
    "PersonNotFound",
    "QuotaExceeded",
    "RateLimited",
    "ResponseError",
    "ServerError",
    "SnapshotNotFound",
    "TrainingFailed",
    "TrainingNotFinished",
    "TrainingTimeout",
    "TransportError",
    "UnsupportedFeature",
    "UnsupportedMediaType",
    "error_from_response",
    "excerpt",
    "parse_retry_after",
    "retry_after_from_message",
]

EXCERPT_LIMIT = 200


def _restore(cls: type[FaceError], args: tuple[object, ...], state: dict[str, object]) -> FaceError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class FaceError(Exception):
    """Base class of every error raised by face-async."""

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses take keyword arguments Exception's default pickling cannot replay.
        return (_restore, (type(self), self.args, self.__dict__))


class FaceValidationError(FaceError, ValueError):
    """An argument was rejected before anything was sent; ``parameter`` names it."""

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class ClientClosedError(FaceError, RuntimeError):
    """The client (or the view's parent client) was closed."""


class TransportError(FaceError):
    """No HTTP response was received.

    ``request_sent`` is False only when the failure happened before the request left the
    client (connection refused, DNS, connect timeout), so re-sending it is always safe.
    """

    def __init__(self, message: str, *, request_sent: bool = True) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class FaceConnectionError(TransportError):
    """The connection could not be made, or broke before a response arrived."""


class FaceTimeoutError(TransportError, TimeoutError):
    """The request timed out (connect, read or total timeout)."""


class OutcomeUnknownError(FaceError):
    """A non-idempotent write failed ambiguously; it may or may not have been applied.

    Raised instead of re-sending (for example after a 500, a 408, a timeout or a reset after
    the request was sent). ``cause`` is the underlying error (also ``__cause__``); ``status``
    is the HTTP status when there was a response.
    """

    def __init__(
        self,
        operation_id: str,
        cause: BaseException,
        *,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        detail = f"HTTP {status}" if status is not None else type(cause).__name__
        super().__init__(
            f"{operation_id}: outcome unknown after {detail}; the write was not retried "
            "and may or may not have been applied"
        )
        self.operation_id = operation_id
        self.cause = cause
        self.status = status
        self.request_id = request_id


class APIError(FaceError):
    """The service answered with an error status; carries what the service said."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        text = f"{status} {code or 'error'}: {message}"
        if request_id:
            text += f" (request id {request_id})"
        super().__init__(text)
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after


class BadRequest(APIError):
    """400: the request was rejected (BadArgument and friends)."""


class InvalidImage(BadRequest):
    """400 InvalidImage: undecodable image, no face, or more than one face."""


class InvalidImageSize(BadRequest):
    """400 InvalidImageSize: the image is too small or too big."""


class InvalidURL(BadRequest):
    """400 InvalidURL: the image URL is invalid or could not be downloaded."""


class AuthenticationError(APIError):
    """401: invalid subscription key or token."""


class PermissionDenied(APIError):
    """403: the call is not allowed for this subscription."""


class QuotaExceeded(PermissionDenied):
    """403 QuotaExceeded: a capacity or call-volume quota is used up."""


class UnsupportedFeature(PermissionDenied):
    """403 UnsupportedFeature: the feature is not available for this resource."""


class NotFound(APIError):
    """404: the addressed resource does not exist."""


class PersonGroupNotFound(NotFound):
    """404 PersonGroupNotFound."""


class PersonNotFound(NotFound):
    """404 PersonNotFound."""


class PersistedFaceNotFound(NotFound):
    """404 PersistedFaceNotFound."""


class FaceNotFound(NotFound):
    """404 FaceNotFound (a faceId that expired or never existed)."""


class LargePersonGroupNotFound(NotFound):
    """404 LargePersonGroupNotFound."""


class FaceListNotFound(NotFound):
    """404 FaceListNotFound."""


class LargeFaceListNotFound(NotFound):
    """404 LargeFaceListNotFound."""


class SnapshotNotFound(NotFound):
    """404 SnapshotNotFound."""


class OperationNotFound(NotFound):
    """404 OperationNotFound (snapshot operation status)."""


class OperationTimeout(APIError):
    """408: the service timed out processing the request."""


class Conflict(APIError):
    """409: the resource is in a state that forbids the call."""


class ConcurrentOperationConflict(Conflict):
    """409 ConcurrentOperationConflict: another write on the resource was in progress."""


class TrainingNotFinished(Conflict):
    """409 *TrainingNotFinished: the group or list is still training."""


class UnsupportedMediaType(APIError):
    """415: wrong Content-Type for the body."""


class RateLimited(APIError):
    """429: the call rate exceeded the subscription's quota; see ``retry_after``."""


class ServerError(APIError):
    """5xx: the service failed."""


class ResponseError(FaceError):
    """The response could not be understood (not JSON, an HTML page, the wrong shape).

    ``body_excerpt`` is a short excerpt of the body (subscription key blanked);
    ``retry_after`` is the Retry-After header of an error status, if any (a proxy's 429 or
    503 page is honoured like the service's).
    """

    def __init__(
        self,
        status: int,
        body_excerpt: str,
        *,
        request_id: str | None = None,
        reason: str = "unexpected response",
        retry_after: float | None = None,
    ) -> None:
        text = f"{reason} (HTTP {status}"
        if request_id:
            text += f", request id {request_id}"
        text += f"): {body_excerpt!r}"
        super().__init__(text)
        self.status = status
        self.body_excerpt = body_excerpt
        self.request_id = request_id
        self.retry_after = retry_after


class TrainingFailed(FaceError):
    """Training ended with status "failed"; ``message`` is the service's explanation."""

    def __init__(self, message: str) -> None:
        super().__init__(f"training failed: {message}")
        self.message = message


class TrainingTimeout(FaceError, TimeoutError):
    """Training did not finish within the allowed time."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    408: OperationTimeout,
    409: Conflict,
    415: UnsupportedMediaType,
    429: RateLimited,
}

_BY_CODE: dict[str, type[APIError]] = {
    "InvalidImage": InvalidImage,
    "InvalidImageSize": InvalidImageSize,
    "InvalidURL": InvalidURL,
    "QuotaExceeded": QuotaExceeded,
    "UnsupportedFeature": UnsupportedFeature,
    "PersonGroupNotFound": PersonGroupNotFound,
    "PersonNotFound": PersonNotFound,
    "PersistedFaceNotFound": PersistedFaceNotFound,
    "FaceNotFound": FaceNotFound,
    "LargePersonGroupNotFound": LargePersonGroupNotFound,
    "FaceListNotFound": FaceListNotFound,
    "LargeFaceListNotFound": LargeFaceListNotFound,
    "SnapshotNotFound": SnapshotNotFound,
    "OperationNotFound": OperationNotFound,
    "ConcurrentOperationConflict": ConcurrentOperationConflict,
    "PersonGroupTrainingNotFinished": TrainingNotFinished,
    "LargePersonGroupTrainingNotFinished": TrainingNotFinished,
    "FaceListTrainingNotFinished": TrainingNotFinished,
    "LargeFaceListTrainingNotFinished": TrainingNotFinished,
    "TrainingNotFinished": TrainingNotFinished,
}

_TRY_AGAIN = re.compile(r"try again in (\d+(?:\.\d+)?) ?(?:seconds?|s)\b", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, item in headers.items():
        if key.lower() == lowered:
            return item
    return None


def excerpt(body: bytes, limit: int = EXCERPT_LIMIT) -> str:
    """A short, single-line, printable excerpt of a response body."""
    text = _WHITESPACE.sub(" ", body[: limit * 4].decode("utf-8", errors="replace")).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN/inf
        return None
    return max(0.0, seconds)


def retry_after_from_message(message: str | None) -> float | None:
    """Seconds from a message such as "Rate limit is exceeded. Try again in 26 seconds."."""
    if not message:
        return None
    match = _TRY_AGAIN.search(message)
    return float(match.group(1)) if match else None


def _class_for(status: int, code: str | None, message: str) -> type[APIError]:
    if code is not None:
        specific = _BY_CODE.get(code)
        if specific is not None and _status_of(specific) in (status, None):
            return specific
    if status == 403 and "quota" in message.lower():
        return QuotaExceeded
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)


def _status_of(cls: type[APIError]) -> int | None:
    for status, base in _BY_STATUS.items():
        if issubclass(cls, base):
            return status
    return None


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes
) -> APIError | ResponseError:
    """Map an error response to the exception to raise (returned, not raised).

    Understands ``{"error": {"code", "message"}}``, ``{"error": {"statusCode", "message"}}``
    and the gateway's bare ``{"statusCode", "message"}``. Anything else (empty, not JSON, an
    HTML page from a proxy, the wrong shape, a non-error status) becomes ``ResponseError``,
    which still carries the ``Retry-After`` header of an error status.
    """
    request_id = _header(headers, "apim-request-id")
    if status < 400:
        return ResponseError(
            status, excerpt(body), request_id=request_id, reason="unexpected status"
        )
    retry_after = parse_retry_after(_header(headers, "Retry-After"))
    try:
        # The standard library, not the converter: errors are rare, and this module stays
        # free of the converter (the converter may fail, errors must not).
        document = json.loads(body) if body.strip() else None
    except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested too deeply
        document = None
    inner = document.get("error", document) if isinstance(document, dict) else None
    code = inner.get("code") if isinstance(inner, dict) else None
    message = inner.get("message") if isinstance(inner, dict) else None
    if (
        not isinstance(inner, dict)
        or (code is not None and not isinstance(code, str))
        or not isinstance(message, str)
        or (code is None and "statusCode" not in inner)
    ):
        return ResponseError(status, excerpt(body), request_id=request_id, retry_after=retry_after)
    if retry_after is None:
        retry_after = retry_after_from_message(message)
    cls = _class_for(status, code, message)
    return cls(status, code, message, request_id=request_id, retry_after=retry_after)
