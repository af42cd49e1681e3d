"""The retry policy: how many attempts, how long between them, the cap on a server's wait.

One policy per client; every call's retries, and their waits, are decided from it by
:func:`face_async._http._decide.decide`. Nothing else retries.
"""

from __future__ import annotations

import math

import attrs

from face_async._errors import FaceValidationError

__all__ = ["RetryPolicy"]


def _non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise FaceValidationError(
            f"{attribute.name} must be a finite number >= 0, got {value!r}",
            parameter=attribute.name,
        )


def _at_least_one(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise FaceValidationError(
            f"{attribute.name} must be an integer >= 1, got {value!r}", parameter=attribute.name
        )


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How a client retries: attempts, delays, and the cap on a server-directed wait.

    ``max_tries`` counts every attempt of one call (1 = never retry). Computed delays grow as
    ``initial_delay * 2**n`` up to ``max_delay`` with full jitter; a delay the server asks for
    (``Retry-After`` or "Try again in N seconds") is used as is, without jitter, and one
    longer than ``max_server_delay`` raises ``RateLimited`` at once instead of sleeping.
    Raises FaceValidationError for a negative, infinite or non-numeric setting.
    """

    max_tries: int = attrs.field(default=4, validator=_at_least_one)
    initial_delay: float = attrs.field(default=0.5, validator=_non_negative)
    max_delay: float = attrs.field(default=8.0, validator=_non_negative)
    max_server_delay: float = attrs.field(default=60.0, validator=_non_negative)

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that sends each request once."""
        return cls(max_tries=1)

    def computed_delay(self, attempt: int, jitter: float) -> float:
        """The wait after failed attempt ``attempt`` (1-based); ``jitter`` in [0, 1)."""
        ceiling = min(self.max_delay, self.initial_delay * 2.0 ** min(attempt - 1, 62))
        return ceiling * jitter
