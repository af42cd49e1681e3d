"""error_from_response over recorded bodies: a pure function, no socket."""

from __future__ import annotations

import email.utils
import json
import pickle
import time

import pytest

from face_async import _errors as e
from face_async._errors import error_from_response, parse_retry_after, retry_after_from_message

RID = {"apim-request-id": "11111111-2222-3333-4444-555555555555"}


def body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


@pytest.mark.parametrize(
    ("status", "payload", "cls", "code"),
    [
        (400, body("BadArgument", "Request body is invalid."), e.BadRequest, "BadArgument"),
        (400, body("InvalidImage", "No face detected in the image."), e.InvalidImage, None),
        (400, body("InvalidImageSize", "Image size is too small."), e.InvalidImageSize, None),
        (400, body("InvalidURL", "Invalid image URL."), e.InvalidURL, None),
        (
            401,
            body("Unspecified", "Access denied due to invalid subscription key."),
            e.AuthenticationError,
            "Unspecified",
        ),
        (403, body("QuotaExceeded", "Persisted face number reached limit."), e.QuotaExceeded, None),
        (403, body("UnsupportedFeature", "Feature is not supported."), e.UnsupportedFeature, None),
        (
            403,
            b'{"error": {"statusCode": 403, "message": '
            b'"Out of call volume quota. Quota will be replenished in 2 days."}}',
            e.QuotaExceeded,
            "",
        ),
        (
            404,
            body("PersonGroupNotFound", "Person group is not found."),
            e.PersonGroupNotFound,
            None,
        ),
        (404, body("PersonNotFound", "Person is not found."), e.PersonNotFound, None),
        (404, body("PersistedFaceNotFound", "Face is not found."), e.PersistedFaceNotFound, None),
        (404, body("FaceNotFound", "Face is not found."), e.FaceNotFound, None),
        (404, body("LargePersonGroupNotFound", "x"), e.LargePersonGroupNotFound, None),
        (404, body("FaceListNotFound", "x"), e.FaceListNotFound, None),
        (404, body("LargeFaceListNotFound", "x"), e.LargeFaceListNotFound, None),
        (404, body("SomethingNew", "x"), e.NotFound, None),
        (408, body("OperationTimeOut", "Request Timeout."), e.OperationTimeout, None),
        (
            409,
            body("PersonGroupTrainingNotFinished", "Person group is under training."),
            e.TrainingNotFinished,
            None,
        ),
        (
            409,
            body("ConcurrentOperationConflict", "Concurrent operation conflict."),
            e.ConcurrentOperationConflict,
            None,
        ),
        (415, body("BadArgument", "Invalid Media Type."), e.UnsupportedMediaType, "BadArgument"),
        (500, body("InternalServerError", "oops"), e.ServerError, None),
        (503, body("ServiceUnavailable", "busy"), e.ServerError, None),
        (418, body("Teapot", "short and stout"), e.APIError, None),
        # The gateway's own form, without the "error" wrapper.
        (
            401,
            b'{"statusCode": 401, "message": "Access denied due to invalid subscription key."}',
            e.AuthenticationError,
            "",
        ),
        # A code whose class belongs to another status falls back to the status.
        (400, body("PersonNotFound", "odd"), e.BadRequest, None),
    ],
)
def test_error_bodies_map_to_classes(
    status: int, payload: bytes, cls: type[e.APIError], code: str | None
) -> None:
    error = error_from_response(status, RID, payload)
    assert type(error) is cls
    assert isinstance(error, e.APIError)
    assert error.status == status
    assert error.request_id == RID["apim-request-id"]
    assert error.message
    document = json.loads(payload)
    expected_code = document.get("error", document).get("code")
    assert error.code == expected_code
    if code is not None:
        assert error.code == (code or None)
    assert RID["apim-request-id"] in str(error)


def test_429_statuscode_form_takes_the_delay_from_the_message() -> None:
    payload = (
        b'{"error": {"statusCode": 429, '
        b'"message": "Rate limit is exceeded. Try again in 26 seconds."}}'
    )
    error = error_from_response(429, {}, payload)
    assert isinstance(error, e.RateLimited)
    assert error.code is None
    assert error.retry_after == 26.0
    assert error.request_id is None


def test_429_code_form_prefers_the_retry_after_header() -> None:
    payload = body("429", "Rate limit is exceeded. Try again in 26 seconds.")
    error = error_from_response(429, {"Retry-After": "3", **RID}, payload)
    assert isinstance(error, e.RateLimited)
    assert error.code == "429"
    assert error.retry_after == 3.0


def test_headers_are_matched_case_insensitively() -> None:
    error = error_from_response(
        429, {"retry-after": "7", "APIM-Request-Id": "abc"}, body("x", "slow down")
    )
    assert isinstance(error, e.RateLimited)
    assert error.retry_after == 7.0
    assert error.request_id == "abc"


HTML_502 = (
    b"""<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""
    + b"<!-- padding -->" * 50
)


@pytest.mark.parametrize(
    ("status", "payload", "needle"),
    [
        (502, HTML_502, "502 Bad Gateway"),
        (500, b"", ""),
        (404, b"404: Not Found", "404: Not Found"),
        (400, b'["error", "list"]', "list"),
        (400, b'{"error": "a string"}', "a string"),
        (400, b'{"error": {"code": 5, "message": "x"}}', "code"),
        (400, b'{"error": {"code": "X"}}', "code"),
        (400, b'{"message": "no status, no code"}', "no status"),
        (400, b'{"error": {"code": "X", "message": "cut', "cut"),
        (500, b"\xff\xfe\x00garbage", "garbage"),
        (200, b'{"fine": true}', "fine"),
    ],
)
def test_malformed_bodies_become_response_errors(status: int, payload: bytes, needle: str) -> None:
    error = error_from_response(status, RID, payload)
    assert type(error) is e.ResponseError
    assert error.status == status
    assert error.request_id == RID["apim-request-id"]
    assert needle in error.body_excerpt
    assert len(error.body_excerpt) <= e.EXCERPT_LIMIT
    assert "\n" not in error.body_excerpt
    assert str(status) in str(error)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("0.25", 0.25),
        (" 12 ", 12.0),
        ("-3", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    now = time.time()
    when = email.utils.formatdate(now + 30, usegmt=True)
    delay = parse_retry_after(when, now=now)
    assert delay is not None
    assert 28.0 <= delay <= 31.0
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Rate limit is exceeded. Try again in 26 seconds.", 26.0),
        ("Rate limit is exceeded. Try again in 1 second.", 1.0),
        ("try again in 2.5 seconds", 2.5),
        ("Out of call volume quota. Quota will be replenished in 2 days.", None),
        (None, None),
    ],
)
def test_retry_after_from_message(message: str | None, expected: float | None) -> None:
    assert retry_after_from_message(message) == expected


def test_exception_tree() -> None:
    assert issubclass(e.FaceValidationError, ValueError)
    assert issubclass(e.ClientClosedError, RuntimeError)
    assert issubclass(e.FaceTimeoutError, e.TransportError)
    assert issubclass(e.FaceTimeoutError, TimeoutError)
    assert issubclass(e.FaceConnectionError, e.TransportError)
    assert issubclass(e.TrainingTimeout, TimeoutError)
    assert issubclass(e.QuotaExceeded, e.PermissionDenied)
    assert issubclass(e.TrainingNotFinished, e.Conflict)
    assert issubclass(e.InvalidURL, e.BadRequest)
    for cls in (
        e.APIError,
        e.TransportError,
        e.OutcomeUnknownError,
        e.ResponseError,
        e.TrainingFailed,
        e.TrainingTimeout,
        e.ClientClosedError,
    ):
        assert issubclass(cls, e.FaceError)
    assert not issubclass(e.OutcomeUnknownError, e.APIError)
    assert not issubclass(e.TransportError, e.APIError)
    # The drawing in the module docstring names every public class.
    doc = e.__doc__ or ""
    for name in e.__all__:
        obj = getattr(e, name)
        if isinstance(obj, type):
            assert name in doc, name


def test_outcome_unknown_carries_its_cause() -> None:
    cause = e.ServerError(500, "InternalServerError", "boom", request_id="r1")
    error = e.OutcomeUnknownError("PersonGroupPerson_Create", cause, status=500, request_id="r1")
    assert error.cause is cause
    assert error.status == 500
    assert error.operation_id == "PersonGroupPerson_Create"
    assert "PersonGroupPerson_Create" in str(error)
    assert "500" in str(error)


@pytest.mark.parametrize(
    "error",
    [
        e.PersonNotFound(404, "PersonNotFound", "Person is not found.", request_id="r"),
        e.RateLimited(429, None, "Try again in 2 seconds.", retry_after=2.0),
        e.ResponseError(502, "<html>", request_id="r"),
        e.OutcomeUnknownError("Op", e.ServerError(500, "x", "y"), status=500),
        e.FaceValidationError("bad", parameter="group_id"),
        e.FaceTimeoutError("slow", request_sent=False),
        e.TrainingFailed("no faces"),
    ],
)
def test_errors_survive_pickling(error: e.FaceError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    for name, value in vars(error).items():
        if isinstance(value, BaseException):
            assert str(getattr(copy, name)) == str(value)
        else:
            assert getattr(copy, name) == value
