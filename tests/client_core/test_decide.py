"""The one decision of the request path, row by row (pure: no socket, no loop)."""

from __future__ import annotations

import json
from collections.abc import Mapping

import aiohttp
import pytest

from face_async._errors import (
    ConcurrentOperationConflict,
    Conflict,
    FaceConnectionError,
    FaceTimeoutError,
    OutcomeUnknownError,
    PersonGroupNotFound,
    PersonNotFound,
    RateLimited,
    ResponseError,
    ServerError,
    TrainingNotFinished,
)
from face_async._http import _operations as o
from face_async._http._decide import (
    OPERATION_LOCATION,
    Answer,
    Done,
    Fail,
    NoAnswer,
    Retry,
    Unknown,
    decide,
)
from face_async._http._policy import RetryPolicy
from face_async._models import PersonGroup

POLICY = RetryPolicy(max_tries=3, initial_delay=1.0, max_delay=8.0, max_server_delay=30.0)
READ = o.PERSON_GROUP_GET  # idempotent
CREATE_GROUP = o.PERSON_GROUP_CREATE  # PUT, idempotent
DELETE_PERSON = o.PERSON_GROUP_PERSON_DELETE  # DELETE, idempotent
ADD_FACE = o.PERSON_GROUP_PERSON_ADD_FACE_FROM_STREAM  # not idempotent
TRAIN = o.PERSON_GROUP_TRAIN
TAKE = o.SNAPSHOT_TAKE  # not idempotent, 202 + Operation-Location


def answer(status: int, body: object = b"", headers: Mapping[str, str] | None = None) -> Answer:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Answer(status, {"apim-request-id": "rid-1", **(headers or {})}, raw)


def error_body(code: str, message: str = "m") -> dict[str, object]:
    return {"error": {"code": code, "message": message}}


def sent(kind: type = FaceTimeoutError) -> NoAnswer:
    return NoAnswer(kind("x", request_sent=True))


def not_sent() -> NoAnswer:
    return NoAnswer(FaceConnectionError("refused", request_sent=False))


# --- 2xx -------------------------------------------------------------------------------------


def test_2xx_is_done_with_the_model() -> None:
    body = {"personGroupId": "g", "name": "G", "recognitionModel": "recognition_04"}
    decision = decide(READ, answer(200, body), 1, POLICY, model=PersonGroup)
    assert isinstance(decision, Done)
    assert decision.value.person_group_id == "g"


def test_2xx_without_a_model_is_the_json_and_empty_is_none() -> None:
    assert decide(READ, answer(200, {"a": 1}), 1, POLICY).value == {"a": 1}  # type: ignore[union-attr]
    assert decide(TRAIN, answer(202), 1, POLICY).value is None  # type: ignore[union-attr]


def test_operation_location_is_read_from_the_header() -> None:
    headers = {"Operation-Location": "/operations/op-7"}
    decision = decide(TAKE, answer(202, b"", headers), 1, POLICY, model=OPERATION_LOCATION)
    assert isinstance(decision, Done)
    assert decision.value == "op-7"


def test_unreadable_2xx_fails_an_idempotent_op() -> None:
    decision = decide(READ, answer(200, b"<html>"), 1, POLICY, model=PersonGroup)
    assert isinstance(decision, Fail)
    assert isinstance(decision.error, ResponseError)
    assert decision.error.request_id == "rid-1"


def test_unreadable_2xx_of_a_write_is_outcome_unknown() -> None:
    # The write was applied; what it made cannot be read, so the caller must look.
    decision = decide(TAKE, answer(202), 1, POLICY, model=OPERATION_LOCATION)
    assert isinstance(decision, Unknown)
    assert isinstance(decision.error.cause, ResponseError)
    assert decision.error.status == 202


def test_secrets_are_blanked_in_what_an_error_carries() -> None:
    body = b'{"personGroupId": 5, "echo": "Bearer tok-SECRET"}'
    decision = decide(
        READ,
        answer(200, body),
        1,
        POLICY,
        model=PersonGroup,
        redact=lambda b: b.replace(b"tok-SECRET", b"***"),
        redact_text=lambda t: t.replace("tok-SECRET", "***"),
    )
    assert isinstance(decision, Fail)
    assert "tok-SECRET" not in str(decision.error)
    assert "tok-SECRET" not in decision.error.body_excerpt  # type: ignore[attr-defined]


# --- 429 -------------------------------------------------------------------------------------


def test_429_with_retry_after_retries_after_it_unjittered_and_pauses() -> None:
    happened = answer(429, error_body("429", "x"), {"Retry-After": "7"})
    for op in (READ, ADD_FACE):  # not processed: safe for a write too
        decision = decide(op, happened, 1, POLICY, jitter=0.99)
        assert isinstance(decision, Retry)
        assert (decision.delay, decision.pause, decision.ambiguous) == (7.0, True, False)
        assert isinstance(decision.error, RateLimited)


def test_gateway_429_reads_the_delay_from_the_message() -> None:
    body = {"error": {"code": "429", "message": "Rate limit is exceeded. Try again in 21 seconds."}}
    decision = decide(ADD_FACE, answer(429, body), 1, POLICY)
    assert isinstance(decision, Retry)
    assert decision.delay == 21.0
    assert decision.pause


def test_429_without_a_delay_waits_a_computed_one() -> None:
    decision = decide(READ, answer(429, b""), 2, POLICY, jitter=0.5)
    assert isinstance(decision, Retry)
    assert decision.delay == pytest.approx(1.0)  # 0.5 * min(8, 1 * 2**1)
    assert decision.pause


def test_429_over_the_cap_fails_at_once() -> None:
    happened = answer(429, error_body("429"), {"Retry-After": "31"})
    decision = decide(READ, happened, 1, POLICY)
    assert isinstance(decision, Fail)
    assert isinstance(decision.error, RateLimited)
    assert decision.error.retry_after == 31.0


def test_429_on_the_last_attempt_fails() -> None:
    decision = decide(READ, answer(429, error_body("429"), {"Retry-After": "1"}), 3, POLICY)
    assert isinstance(decision, Fail)


# --- 409, 408, 5xx ---------------------------------------------------------------------------


def test_concurrent_operation_conflict_is_retried_even_for_a_write() -> None:
    decision = decide(ADD_FACE, answer(409, error_body("ConcurrentOperationConflict")), 1, POLICY)
    assert isinstance(decision, Retry)
    assert not decision.pause
    assert isinstance(decision.error, ConcurrentOperationConflict)


@pytest.mark.parametrize("status", [408, 500, 502, 503])
def test_ambiguous_status_retries_a_read_and_is_unknown_for_a_write(status: int) -> None:
    happened = answer(status, error_body(str(status)))
    read = decide(READ, happened, 1, POLICY, jitter=0.25)
    assert isinstance(read, Retry)
    assert read.ambiguous
    assert not read.pause
    assert read.delay == pytest.approx(0.25)
    write = decide(ADD_FACE, happened, 1, POLICY)
    assert isinstance(write, Unknown)
    assert write.error.status == status
    assert write.error.request_id == "rid-1"


def test_503_retry_after_is_honoured_without_a_pause() -> None:
    decision = decide(READ, answer(503, b"<html>", {"Retry-After": "4"}), 1, POLICY)
    assert isinstance(decision, Retry)
    assert (decision.delay, decision.pause) == (4.0, False)


def test_retries_stop_at_max_tries() -> None:
    decision = decide(READ, answer(500, error_body("InternalError")), 3, POLICY)
    assert isinstance(decision, Fail)
    assert isinstance(decision.error, ServerError)
    assert isinstance(decide(READ, answer(500, b""), 1, RetryPolicy.never()), Fail)


def test_computed_delays_grow_to_the_cap_with_full_jitter() -> None:
    policy = RetryPolicy(max_tries=10, initial_delay=0.5, max_delay=2.0)
    ceilings = [0.5, 1.0, 2.0, 2.0, 2.0]
    for attempt, ceiling in enumerate(ceilings, start=1):
        top = decide(READ, answer(500, b""), attempt, policy, jitter=0.999999)
        low = decide(READ, answer(500, b""), attempt, policy, jitter=0.0)
        assert isinstance(top, Retry)
        assert isinstance(low, Retry)
        assert top.delay == pytest.approx(ceiling, rel=1e-5)
        assert low.delay == 0.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 415])
def test_other_statuses_fail(status: int) -> None:
    decision = decide(ADD_FACE, answer(status, error_body("Whatever")), 1, POLICY)
    assert isinstance(decision, Fail)
    assert decision.error.status == status  # type: ignore[attr-defined]


def test_a_non_retryable_409_fails() -> None:
    decision = decide(CREATE_GROUP, answer(409, error_body("PersonGroupExists")), 1, POLICY)
    assert isinstance(decision, Fail)
    assert isinstance(decision.error, Conflict)


# --- no answer -------------------------------------------------------------------------------


def test_not_sent_is_retried_even_for_a_write() -> None:
    decision = decide(ADD_FACE, not_sent(), 1, POLICY)
    assert isinstance(decision, Retry)
    assert not decision.ambiguous


@pytest.mark.parametrize("kind", [FaceTimeoutError, FaceConnectionError])
def test_sent_without_answer_retries_a_read_and_is_unknown_for_a_write(kind: type) -> None:
    read = decide(READ, sent(kind), 1, POLICY)
    assert isinstance(read, Retry)
    assert read.ambiguous
    write = decide(ADD_FACE, sent(kind), 1, POLICY)
    assert isinstance(write, Unknown)
    assert isinstance(write.error.cause, kind)
    assert write.error.status is None


def test_a_rejected_certificate_is_not_retried() -> None:
    error = FaceConnectionError("tls", request_sent=False)
    error.__cause__ = aiohttp.ClientSSLError(None, OSError("cert"))  # type: ignore[arg-type]
    assert isinstance(decide(READ, NoAnswer(error), 1, POLICY), Fail)


def test_training_is_safe_to_resend() -> None:
    assert TRAIN.idempotent
    assert isinstance(decide(TRAIN, sent(), 1, POLICY), Retry)


# --- answers after an ambiguous earlier attempt ----------------------------------------------


def test_delete_404_after_an_ambiguous_attempt_is_done() -> None:
    happened = answer(404, error_body("PersonNotFound"))
    assert isinstance(decide(DELETE_PERSON, happened, 2, POLICY, ambiguous_before=True), Done)
    plain = decide(DELETE_PERSON, happened, 1, POLICY)
    assert isinstance(plain, Fail)
    assert isinstance(plain.error, PersonNotFound)


def test_put_409_after_an_ambiguous_attempt_is_outcome_unknown() -> None:
    happened = answer(409, error_body("PersonGroupExists"))
    decision = decide(CREATE_GROUP, happened, 2, POLICY, ambiguous_before=True)
    assert isinstance(decision, Unknown)
    assert isinstance(decision.error, OutcomeUnknownError)
    assert isinstance(decision.error.cause, Conflict)


def test_train_409_after_an_ambiguous_attempt_is_done() -> None:
    happened = answer(409, error_body("PersonGroupTrainingNotFinished"))
    error_decision = decide(TRAIN, happened, 1, POLICY)
    assert isinstance(error_decision, Fail)
    assert isinstance(error_decision.error, TrainingNotFinished)
    assert isinstance(decide(TRAIN, happened, 2, POLICY, ambiguous_before=True), Done)


def test_a_404_for_another_resource_after_an_ambiguous_read_still_fails() -> None:
    happened = answer(404, error_body("PersonGroupNotFound"))
    decision = decide(READ, happened, 2, POLICY, ambiguous_before=True)
    assert isinstance(decision, Fail)
    assert isinstance(decision.error, PersonGroupNotFound)
