"""Retry policy: what is retried, how long to wait, and the backoff wiring.

The request path raises ``OutcomeUnknownError`` itself for a non-idempotent operation that
failed ambiguously, so everything that reaches :func:`is_retryable` is safe to send again.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Generator
from typing import TypeVar

import aiohttp
import attrs
import backoff
from backoff.types import Details

from ._errors import (
    APIError,
    ConcurrentOperationConflict,
    FaceValidationError,
    OperationTimeout,
    RateLimited,
    ResponseError,
    ServerError,
    TransportError,
)

__all__ = ["RetryPolicy", "is_retryable", "wait_delays", "with_retries"]

T = TypeVar("T")


def _non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 0:
        raise FaceValidationError(
            f"{attribute.name} must be >= 0, got {value!r}", parameter=attribute.name
        )


def _at_least_one(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise FaceValidationError(
            f"{attribute.name} must be >= 1, got {value!r}", parameter=attribute.name
        )


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How a client retries: attempts, delays, and the cap on a server-directed wait.

    ``max_tries`` counts every attempt (1 = never retry). Computed delays grow as
    ``initial_delay * 2**n`` up to ``max_delay`` with full jitter; a delay the server asks
    for (``Retry-After`` or "Try again in N seconds") is used as is, and one longer than
    ``max_server_delay`` raises ``RateLimited`` at once instead of sleeping.
    """

    max_tries: int = attrs.field(default=4, validator=_at_least_one)
    initial_delay: float = attrs.field(default=0.5, validator=_non_negative)
    max_delay: float = attrs.field(default=8.0, validator=_non_negative)
    max_server_delay: float = attrs.field(default=60.0, validator=_non_negative)

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that sends each request once."""
        return cls(max_tries=1)


def is_retryable(exc: BaseException, policy: RetryPolicy) -> bool:
    """Whether a failed attempt may be sent again under ``policy``."""
    if isinstance(exc, RateLimited):
        return exc.retry_after is None or exc.retry_after <= policy.max_server_delay
    if isinstance(exc, (ConcurrentOperationConflict, OperationTimeout, ServerError)):
        return True
    if isinstance(exc, ResponseError):
        # An unreadable error page (a proxy's HTML 502) is as transient as the status says;
        # a 429's Retry-After is capped like the service's.
        delay = exc.retry_after
        if exc.status == 429 and delay is not None and delay > policy.max_server_delay:
            return False
        return exc.status in (408, 429) or exc.status >= 500
    if isinstance(exc, TransportError):
        # A certificate that fails verification will fail the same way next time.
        return not isinstance(exc.__cause__, aiohttp.ClientSSLError)
    return False


def server_delay(exc: BaseException) -> float | None:
    """The wait the server asked for (Retry-After, or "Try again in N seconds"), if any."""
    if isinstance(exc, (APIError, ResponseError)):
        return exc.retry_after
    return None


def wait_delays(policy: RetryPolicy) -> Generator[float, BaseException | None, None]:
    """A backoff wait generator; it receives each failure and yields the delay before the next.

    Server-directed delays are yielded unchanged (no jitter); otherwise exponential with
    full jitter.
    """
    exc = yield  # type: ignore[misc]  # backoff primes the generator with send(None)
    attempt = 0
    while True:
        directed = server_delay(exc) if exc is not None else None
        if directed is not None:
            delay = min(directed, policy.max_server_delay)
        else:
            ceiling = min(policy.max_delay, policy.initial_delay * 2.0**attempt)
            delay = random.uniform(0.0, ceiling)
            attempt += 1
        exc = yield delay


def with_retries(
    target: Callable[..., Awaitable[T]],
    policy: RetryPolicy,
    on_backoff: Callable[[Details], None],
) -> Callable[..., Awaitable[T]]:
    """Wrap ``target`` (one attempt) in backoff's retry loop for ``policy``; built once."""
    decorate = backoff.on_exception(
        lambda: wait_delays(policy),
        (APIError, TransportError, ResponseError),
        max_tries=policy.max_tries,
        jitter=None,
        giveup=lambda exc: not is_retryable(exc, policy),
        on_backoff=on_backoff,
        logger=None,
    )
    return decorate(target)
