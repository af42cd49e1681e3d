"""An adaptive rate for a quota nobody told us: cut on 429s, grown along a cubic curve.

Modelled on the AWS SDKs' adaptive retry mode (CUBIC, as TCP uses it, applied to a
calls-per-second rate). A 429 cuts the rate to ``BETA`` times the rate actually sent and
remembers that rate as the ceiling last found; without 429s the rate climbs back along
``W_MAX + SCALE * (t - K)**3``: fast at first, flat near the old ceiling (where the limit
probably is), then faster again to probe for more. ``K`` is when the curve regains the old
ceiling. One cut per congestion event: the 429s that arrive while the pause of the first one
holds the gate answer calls sent before it, and do not cut again.

:class:`CubicRate` is the pure computation (times are passed in, so it is tested on a fake
clock); :class:`AdaptiveGate` is a :class:`~._gate.Gate` that drives it from its admissions
and its pauses, so the transport needs no change.
"""

from __future__ import annotations

import asyncio
import math

from face_async._errors import FaceValidationError

from ._gate import Gate, Pool
from ._redis_gate import RedisGate, RedisGates

__all__ = ["AdaptiveGate", "AdaptiveGates", "AdaptiveRate", "AdaptiveRedisGate", "CubicRate"]

#: The share of the measured rate kept after a 429 (the AWS SDKs' and TCP CUBIC's value).
BETA = 0.7
#: How fast the curve grows, in calls/s per s**3 (the AWS SDKs' value).
SCALE = 0.4
#: Weight of the newest interval in the smoothed send rate (the AWS SDKs' value).
SMOOTHING = 0.8
#: Seconds per interval of the measured send rate.
MEASURE_INTERVAL = 0.5


def _check_rate(name: str, value: object) -> float:
    if not (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    ):
        raise FaceValidationError(f"{name} must be > 0, got {value!r}", parameter=name)
    return float(value)


class AdaptiveRate:
    """A calls-per-second rate found by trial, for when the quota is unknown.

    Starts at ``initial_tps``, grows without 429s (up to ``max_tps``), and a 429 cuts it to
    0.7 times the rate being sent (never below ``min_tps``). Pass it as
    ``AsyncFaceClient(..., rate=AdaptiveRate())``; with ``quota=RedisQuota(...)`` too, the
    shared bucket's rate adapts (this replaces the quota's ``tps``), and a 429 seen by any
    process cuts it in every process.
    The defaults suit an S0 resource (10 calls/s by default, up to 200 on request); an F0
    one allows 20 calls per minute. Raises FaceValidationError for a bad argument.
    """

    __slots__ = ("initial_tps", "max_tps", "min_tps")

    def __init__(
        self, *, initial_tps: float = 10.0, min_tps: float = 0.1, max_tps: float = 200.0
    ) -> None:
        self.initial_tps = _check_rate("initial_tps", initial_tps)
        self.min_tps = _check_rate("min_tps", min_tps)
        self.max_tps = _check_rate("max_tps", max_tps)
        if not self.min_tps <= self.initial_tps <= self.max_tps:
            raise FaceValidationError(
                "AdaptiveRate needs min_tps <= initial_tps <= max_tps", parameter="initial_tps"
            )

    def gates(self, shared: RedisGates | None = None) -> AdaptiveGates:
        """A gate factory for one client (``shared``: the Redis gates of a quota, or None)."""
        return AdaptiveGates(self, shared)

    def __repr__(self) -> str:
        return (
            f"AdaptiveRate(initial_tps={self.initial_tps!r}, min_tps={self.min_tps!r}, "
            f"max_tps={self.max_tps!r})"
        )


class CubicRate:
    """The rate of one gate over time: :meth:`sent` per call sent, :meth:`throttled` per 429.

    ``now`` is any monotonic clock in seconds; the curve starts at the first call.
    ``shared``: the calls this process sends are only part of the rate (a bucket shared over
    Redis), so cuts start from the current rate, not the measured one, and the rate is not
    held to twice the measured one.
    """

    __slots__ = (
        "_calm_until",
        "_count",
        "_interval_start",
        "_k",
        "_origin",
        "_w_max",
        "config",
        "cuts",
        "measured",
        "rate",
        "shared",
    )

    def __init__(self, config: AdaptiveRate, *, shared: bool = False) -> None:
        self.config = config
        self.shared = shared
        #: The rate in force, calls/s.
        self.rate = config.initial_tps
        #: The smoothed rate of calls sent, calls/s (0 until the first interval ends).
        self.measured = 0.0
        #: How many 429s cut the rate.
        self.cuts = 0
        # The curve starts at its flat point on the initial rate, then grows.
        self._w_max = config.initial_tps
        self._k = 0.0
        self._origin: float | None = None
        self._count = 0
        self._interval_start = 0.0
        self._calm_until = -math.inf

    def curve(self, now: float) -> float:
        """The rate the cubic curve gives at ``now`` (before the floor and ceiling)."""
        if self._origin is None:
            return self._w_max
        return self._w_max + SCALE * (now - self._origin - self._k) ** 3

    def sent(self, now: float) -> float:
        """Count a call sent at ``now``; returns the rate for the next calls."""
        if self._origin is None:
            self._origin = self._interval_start = now
        self._count += 1
        elapsed = now - self._interval_start
        if elapsed >= MEASURE_INTERVAL and self._count > 1:
            latest = self._count / elapsed
            if self.measured:
                latest = SMOOTHING * latest + (1.0 - SMOOTHING) * self.measured
            self.measured = latest
            self._count = 0
            self._interval_start = now
        rate = self.curve(now)
        if self.measured and not self.shared:
            # Below its rate the caller is the limit, not the service: the curve would climb
            # with nothing learnt (as the AWS SDKs do, at most twice the rate sent).
            rate = min(rate, 2.0 * self.measured)
        self.rate = self._clamp(rate)
        return self.rate

    def throttled(self, now: float, hold: float = 0.0) -> bool:
        """Cut the rate for a 429 received at ``now`` that pauses for ``hold`` seconds.

        Returns whether it cut: a 429 received during the pause of the last cut answers a
        call sent before that cut, and is the same congestion event.
        """
        if now < self._calm_until:
            return False
        self._calm_until = now + hold
        found = self.rate
        if self.measured and not self.shared:
            found = min(found, self.measured)
        self._w_max = found
        self._k = (found * (1.0 - BETA) / SCALE) ** (1.0 / 3.0)
        self._origin = now
        self.cuts += 1
        self.rate = self._clamp(found * BETA)
        # Nothing is sent during the pause: measure again from its end.
        self._count = 0
        self._interval_start = now + hold
        return True

    def _clamp(self, rate: float) -> float:
        return min(self.config.max_tps, max(self.config.min_tps, rate))

    def __repr__(self) -> str:
        return f"CubicRate(rate={self.rate:.3g}, measured={self.measured:.3g}, cuts={self.cuts})"


class _Adaptive(Gate):
    # The behaviour shared by the local and the Redis adaptive gates (their slots hold the
    # state: a base class with slots of its own could not be combined with RedisGate).
    __slots__ = ()
    cubic: CubicRate

    def set_tps(self, tps: float | None) -> None:
        """Replace the current rate; calls are spaced evenly, without bursts."""
        super().set_tps(tps)
        # A burst would drain an unknown bucket before the rate could tell it is too high.
        self._burst_window = 0.0
        self._drop_credit()

    def _admit(self) -> None:
        super()._admit()
        rate = self.cubic.sent(asyncio.get_running_loop().time())
        if rate != self.tps:
            self.set_tps(rate)

    def pause(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` (a 429) and cut the rate, once per event."""
        super().pause(seconds)
        self._cut(asyncio.get_running_loop().time(), seconds)

    def _cut(self, now: float, seconds: float) -> None:
        if self.cubic.throttled(now, seconds):
            self.set_tps(self.cubic.rate)


class AdaptiveGate(_Adaptive):
    """A :class:`Gate` whose rate is a :class:`CubicRate`: cut by 429s, grown without them."""

    __slots__ = ("cubic",)

    def __init__(self, config: AdaptiveRate, *, slots: int = 0, pool: Pool | None = None) -> None:
        self.cubic = CubicRate(config)
        super().__init__(config.initial_tps, slots=slots, pool=pool)

    def __repr__(self) -> str:
        return "Adaptive" + super().__repr__()


class AdaptiveRedisGate(_Adaptive, RedisGate):
    """A :class:`RedisGate` whose shared bucket's rate adapts: any process's 429 cuts it.

    Each process runs the same curve from the same events (its own 429s, and the shared
    pauses it meets in Redis), and every reservation in the shared bucket is spaced by the
    rate of the process that makes it, so the bucket runs at the rate they agree on.
    """

    __slots__ = ("cubic",)

    def __init__(
        self,
        gates: RedisGates,
        keys: tuple[str, str],
        config: AdaptiveRate,
        *,
        slots: int = 0,
        pool: Pool | None = None,
    ) -> None:
        self.cubic = CubicRate(config, shared=True)
        super().__init__(gates, keys, config.initial_tps, slots=slots, pool=pool)

    def _paused_elsewhere(self, now: float, wait: float) -> None:
        super()._paused_elsewhere(now, wait)
        self._cut(now, wait)

    def __repr__(self) -> str:
        return "Adaptive" + super().__repr__()


class AdaptiveGates:
    """Makes one client's adaptive gates, local or on a Redis quota (closed with the client)."""

    __slots__ = ("config", "shared")

    def __init__(self, config: AdaptiveRate, shared: RedisGates | None = None) -> None:
        self.config = config
        self.shared = shared

    def __call__(
        self, base_url: str, credential_id: str, tps: float | None, *, slots: int, pool: Pool
    ) -> Gate:
        """An adaptive gate; a fixed one where ``tps`` was given for this endpoint."""
        shared = self.shared
        if shared is not None:
            if tps is not None:
                return shared(base_url, credential_id, tps, slots=slots, pool=pool)
            return AdaptiveRedisGate(
                shared, shared.keys(base_url, credential_id), self.config, slots=slots, pool=pool
            )
        if tps is not None:
            return Gate(tps, slots=slots, pool=pool)
        return AdaptiveGate(self.config, slots=slots, pool=pool)

    async def aclose(self) -> None:
        """Close the Redis connection of the quota, if any."""
        if self.shared is not None:
            await self.shared.aclose()

    def __repr__(self) -> str:
        return f"AdaptiveGates({self.config!r}, shared={self.shared is not None})"
