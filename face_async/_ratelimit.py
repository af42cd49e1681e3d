"""Client-side rate limiting: one gate per (endpoint, credential), shared by every coroutine.

A gate combines an optional calls-per-second limit (``aiolimiter.AsyncLimiter``) with a shared
pause: when the service answers 429 with a delay, every request through the same gate waits
until the delay has passed, so concurrent workers back off together instead of each retrying
into the limit.
"""

from __future__ import annotations

import asyncio

from aiolimiter import AsyncLimiter

from ._errors import FaceValidationError

__all__ = ["GateRegistry", "RateGate"]


class RateGate:
    """The gate every request to one (endpoint, credential) passes before it is sent."""

    __slots__ = ("_limiter", "pause_until", "pauses", "tps")

    def __init__(self, tps: float | None = None) -> None:
        self.tps: float | None = None
        self._limiter: AsyncLimiter | None = None
        self.set_tps(tps)
        #: Loop time before which no request may be sent (set by a 429).
        self.pause_until = 0.0
        #: How many times a 429 paused this gate.
        self.pauses = 0

    def set_tps(self, tps: float | None) -> None:
        """Replace the calls-per-second limit (None removes it)."""
        if tps is not None and not tps > 0:
            raise FaceValidationError(f"tps must be > 0, got {tps!r}", parameter="tps")
        self.tps = tps
        if tps is None:
            self._limiter = None
        elif tps >= 1:
            self._limiter = AsyncLimiter(tps, 1.0)
        else:
            # AsyncLimiter's bucket must hold at least one call: a rate below 1/s becomes one
            # call per 1/tps seconds (F0: 20/min -> tps=1/3).
            self._limiter = AsyncLimiter(1, 1.0 / tps)

    async def acquire(self) -> None:
        """Wait for any shared pause to pass, then for capacity under the TPS limit."""
        if self.pause_until:
            loop = asyncio.get_running_loop()
            # The deadline can move while we sleep (another 429), so re-check after waking.
            while True:
                remaining = self.pause_until - loop.time()
                if remaining <= 0:
                    break
                await asyncio.sleep(remaining)
        if self._limiter is not None:
            await self._limiter.acquire()

    def pause(self, seconds: float) -> None:
        """Hold every request through this gate for ``seconds`` from now (extends only)."""
        until = asyncio.get_running_loop().time() + seconds
        if until > self.pause_until:
            self.pause_until = until
            self.pauses += 1

    def __repr__(self) -> str:
        return f"RateGate(tps={self.tps!r}, pauses={self.pauses})"


class GateRegistry:
    """Gates keyed by (endpoint base URL, credential fingerprint); one per client family."""

    __slots__ = ("_gates",)

    def __init__(self) -> None:
        self._gates: dict[tuple[str, str], RateGate] = {}

    def get(self, base_url: str, credential_id: str, tps: float | None) -> RateGate:
        """The gate for this endpoint and credential, created on first use.

        A ``tps`` given for an existing gate replaces its limit (the latest setting wins).
        """
        key = (base_url, credential_id)
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = RateGate(tps)
        elif tps is not None and tps != gate.tps:
            gate.set_tps(tps)
        return gate

    def __len__(self) -> int:
        return len(self._gates)

    def __repr__(self) -> str:
        return f"GateRegistry({len(self._gates)} gates)"
