"""The fair gate every request to one (endpoint, credential) passes before it is sent.

One queue holds three limits: the calls-per-second rate, the shared pause a 429 starts, and
the number of requests in flight (admission to the connection pool). Waiters are served by
priority, then first come, first served; only the head of the queue is ever admitted, so a
pause or an empty rate bucket holds every waiter, including those queued before it began,
and a task that just finished a request queues behind those already waiting. The gate is
pure bookkeeping on the event loop: one timer at most, no task of its own.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import math
from typing import Protocol

from face_async._errors import FaceValidationError

__all__ = ["Gate", "GateFactory", "GateRegistry", "Pool", "request_priority"]

#: Priority of the requests the current task sends: a higher value is admitted first, equal
#: values in arrival order. Enrollment sets it to a person's remaining chain length.
request_priority: contextvars.ContextVar[int] = contextvars.ContextVar(
    "face_async_request_priority", default=0
)


#: How late (seconds) the event loop may let a call out without the rate losing that time.
_LATE_TOLERANCE = 0.05


class Pool:
    """Admission to the connection pool, shared by every gate of one transport.

    ``limit``: requests in flight at once over all gates (0: no limit). When a slot frees,
    the gates with waiters are served in the order of their heads' arrival.
    """

    __slots__ = ("gates", "in_flight", "limit", "seq")

    def __init__(self, limit: int = 0) -> None:
        if not isinstance(limit, int) or limit < 0:
            raise FaceValidationError(f"limit must be >= 0, got {limit!r}", parameter="limit")
        self.limit = limit
        self.in_flight = 0
        #: Arrival order over all gates, so that waiters of different gates stay in order.
        self.seq = itertools.count()
        self.gates: list[Gate] = []

    @property
    def full(self) -> bool:
        """Whether every slot is taken."""
        return bool(self.limit) and self.in_flight >= self.limit

    def released(self) -> None:
        """A slot came back: let the gates with waiters admit, oldest head first."""
        waiting = [gate for gate in self.gates if gate._waiters]
        if len(waiting) > 1:
            waiting.sort(key=lambda gate: gate._waiters[0][:2])
        for gate in waiting:
            if self.full:
                return
            gate._dispatch()

    def __repr__(self) -> str:
        return f"Pool(limit={self.limit}, in_flight={self.in_flight}, gates={len(self.gates)})"


class Gate:
    """Admission for one (endpoint, credential): rate, 429 pause and pool slots, in one queue.

    ``tps``: calls per second (None: no limit; below 1, one call per ``1/tps`` s). Like the
    service's bucket, the gate starts nearly full: one second of calls less one may go at
    once, and this start credit refills at ``tps`` for a second from the first answer, unless
    it runs dry or a 429 pauses the gate. After that, calls are spaced ``1/tps`` s apart, and
    a call let out late by the event loop (up to one spacing, at most 50 ms) does not cost
    capacity: in any time ``t`` from the first call's arrival at the service fewer than
    ``tps * (1 + t)`` calls arrive (for ``tps`` >= 2; below, the late-call window may let one
    call out early after a quiet time). ``slots``: requests in flight at once through this
    gate (0: no limit); ``pool``: the slots shared with other gates. Use ``await
    acquire()`` ... ``release()`` around each attempt.
    """

    __slots__ = (
        "_burst_window",
        "_credit",
        "_credit_at",
        "_credit_cap",
        "_credit_until",
        "_interval",
        "_next_free",
        "_pool",
        "_timer",
        "_waiters",
        "in_flight",
        "pause_until",
        "pauses",
        "slots",
        "tps",
    )

    def __init__(
        self, tps: float | None = None, *, slots: int = 0, pool: Pool | None = None
    ) -> None:
        if not isinstance(slots, int) or slots < 0:
            raise FaceValidationError(f"slots must be >= 0, got {slots!r}", parameter="slots")
        self.slots = slots
        #: Requests admitted and not yet released.
        self.in_flight = 0
        #: Loop time before which nobody is admitted (set by a 429).
        self.pause_until = 0.0
        #: How many times a 429 paused (or extended the pause of) this gate.
        self.pauses = 0
        self.tps: float | None = None
        self._interval = 0.0
        self._burst_window = 0.0
        # GCRA: the loop time at which the bucket is next full again ("theoretical arrival").
        self._next_free = 0.0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._pool = pool if pool is not None else Pool()
        self._pool.gates.append(self)
        self._timer: asyncio.TimerHandle | None = None
        # The start credit: calls that may leave at once, a second's worth less one. It
        # refills at tps, as the service's bucket does while the burst goes out, from the
        # first answer (the bucket counts from the first call's arrival, which a connection's
        # set-up may delay past the calls after it; the answer comes later still) until it
        # first runs dry, a second has passed since that answer, or a 429 pauses the gate.
        # Only a gate made with a limit has one (set_tps cuts it to size; subclasses that
        # must not burst drop it there, _drop_credit).
        self._credit_cap = self._credit = math.inf if tps is not None else 0.0
        self._credit_at: float | None = None  # loop time of the last refill (None: no answer)
        self._credit_until = math.inf  # the start ends a second after the first answer
        self.set_tps(tps)

    def set_tps(self, tps: float | None) -> None:
        """Replace the calls-per-second limit (None removes it)."""
        if tps is not None and not (
            isinstance(tps, (int, float)) and math.isfinite(tps) and tps > 0
        ):
            raise FaceValidationError(f"tps must be > 0, got {tps!r}", parameter="tps")
        self.tps = tps
        if tps is None:
            self._interval = self._burst_window = 0.0
        else:
            self._interval = 1.0 / tps
            # No refilled burst: a bucket that refills to tps calls lets 2 x tps through in
            # one second, which a per-second quota answers with 429s and a pause for
            # everyone. Only a call let out late is made up for (GCRA's tolerance).
            self._burst_window = min(_LATE_TOLERANCE, self._interval)
            # The start credit: a second's worth less one, cut down if the limit is lowered.
            self._credit_cap = min(self._credit_cap, float(max(0, math.floor(tps) - 1)))
            self._credit = min(self._credit, self._credit_cap)

    @property
    def waiting(self) -> int:
        """How many callers are queued (cancelled ones may still be counted)."""
        return len(self._waiters)

    def try_acquire(self) -> bool:
        """Take a slot at once if nobody waits and every limit allows it (no coroutine)."""
        if not self._waiters and self._admissible():
            self._admit()
            return True
        return False

    async def acquire(self, priority: int = 0) -> None:
        """Wait for this caller's turn; raises CancelledError (holding nothing) if cancelled."""
        if self.try_acquire():
            return
        loop = asyncio.get_running_loop()
        ticket: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._waiters, (-priority, next(self._pool.seq), ticket))
        self._dispatch()
        try:
            await ticket
        except asyncio.CancelledError:
            if ticket.done() and not ticket.cancelled():
                self.release()  # admitted, then cancelled before it could use the slot
            raise

    def release(self) -> None:
        """Give back the slot taken by :meth:`acquire` (call once per acquire)."""
        if self._credit_cap and self._credit_at is None:
            self._credit_at = asyncio.get_running_loop().time()  # the first answer
            self._credit_until = self._credit_at + 1.0
        self.in_flight -= 1
        pool = self._pool
        pool.in_flight -= 1
        if len(pool.gates) == 1:
            if self._waiters:
                self._dispatch()
        else:
            pool.released()

    def pause(self, seconds: float) -> None:
        """Hold every caller, queued or yet to come, for ``seconds`` from now (extends only)."""
        self._drop_credit()  # the service's bucket is not where the credit thought: spaced
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        if until > self.pause_until:
            self.pause_until = until
            self.pauses += 1

    def close(self) -> None:
        """Cancel the gate's timer (waiters are left to their own cancellation)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def aclose(self) -> None:
        """:meth:`close`, then wait for any background work of the gate to end."""
        self.close()

    def _admissible(self) -> bool:
        if (self.slots and self.in_flight >= self.slots) or self._pool.full:
            return False
        if not self.pause_until and self.tps is None:
            return True
        return self._delay(asyncio.get_running_loop().time()) <= 0.0

    def _drop_credit(self) -> None:
        """No start credit: calls are spaced from the first."""
        self._credit = self._credit_cap = 0.0

    def _credit_delay(self, now: float) -> float | None:
        # While the start credit lasts: 0.0 (a call's worth is there) or inf (spent before
        # the first answer: release() dispatches). Once it runs dry after the first answer,
        # None: the spacing takes over at the moment the credit's bucket would hold its next
        # call (the late-call window added, so that it only ever makes up for lateness and
        # never lets a call out ahead of the bucket).
        assert self.tps is not None
        if self._credit_at is None:
            return 0.0 if self._credit >= 1.0 else math.inf
        refill = (now - self._credit_at) * self.tps
        self._credit = min(self._credit_cap, self._credit + refill)
        self._credit_at = now
        if self._credit >= 1.0 and now < self._credit_until:
            return 0.0
        # Dry, or a second after the first answer: the start is over (a credit kept up by
        # light traffic would be a refilled burst).
        self._next_free = now + max(0.0, 1.0 - self._credit) * self._interval
        self._next_free += self._burst_window
        self._drop_credit()
        return None

    def _delay(self, now: float) -> float:
        # Seconds until the head may go, as far as the pause and the rate are concerned.
        delay = self.pause_until - now
        if self.tps is None:
            return delay
        if self._credit_cap:
            credit_delay = self._credit_delay(now)
            if credit_delay is not None:
                return max(delay, credit_delay)
        return max(delay, self._next_free - self._burst_window - now)

    def _admit(self) -> None:
        self.in_flight += 1
        self._pool.in_flight += 1
        if self.tps is not None:
            if self._credit_cap:  # _delay has just found a call's worth of credit
                self._credit -= 1.0
                return
            now = asyncio.get_running_loop().time()
            self._next_free = max(self._next_free, now) + self._interval

    def _dispatch(self) -> None:
        waiters = self._waiters
        loop = asyncio.get_running_loop()
        while waiters:
            ticket = waiters[0][2]
            if ticket.done():  # cancelled while queued
                heapq.heappop(waiters)
                continue
            if (self.slots and self.in_flight >= self.slots) or self._pool.full:
                return  # release() dispatches again
            delay = self._delay(loop.time())
            if delay > 0.0:
                if delay != math.inf:  # inf: an answer (release) or Redis dispatches
                    self._wake_at(loop, loop.time() + delay)
                return
            heapq.heappop(waiters)
            self._admit()
            ticket.set_result(None)

    def _wake_at(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        timer = self._timer
        if timer is not None and not timer.cancelled():
            if timer.when() <= when:
                return  # an earlier wake-up re-checks and re-arms
            timer.cancel()
        self._timer = loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._dispatch()

    def __repr__(self) -> str:
        return (
            f"Gate(tps={self.tps!r}, slots={self.slots}, in_flight={self.in_flight}, "
            f"waiting={len(self._waiters)}, pauses={self.pauses})"
        )


class GateFactory(Protocol):
    """Makes the gate of one (endpoint, credential) for a :class:`GateRegistry`."""

    def __call__(
        self, base_url: str, credential_id: str, tps: float | None, *, slots: int, pool: Pool
    ) -> Gate: ...

    async def aclose(self) -> None:
        """Release what the factory holds (called once, after its gates are closed)."""


class GateRegistry:
    """Gates keyed by (endpoint base URL, credential fingerprint); one per client family."""

    __slots__ = ("_gates", "factory", "pool", "slots")

    def __init__(self, slots: int = 0, pool_limit: int = 0) -> None:
        #: Requests in flight per gate (0: no limit): the pool's limit per host.
        self.slots = slots
        #: Requests in flight over all gates: the pool's total limit.
        self.pool = Pool(pool_limit)
        self._gates: dict[tuple[str, str], Gate] = {}
        #: Makes the gates instead of :class:`Gate` (for example a shared Redis quota).
        self.factory: GateFactory | None = None

    def get(self, base_url: str, credential_id: str, tps: float | None) -> Gate:
        """The gate for this endpoint and credential, created on first use.

        A ``tps`` given for an existing gate replaces its limit (the latest setting wins).
        """
        key = (base_url, credential_id)
        gate = self._gates.get(key)
        if gate is None:
            if self.factory is None:
                gate = Gate(tps, slots=self.slots, pool=self.pool)
            else:
                gate = self.factory(base_url, credential_id, tps, slots=self.slots, pool=self.pool)
            self._gates[key] = gate
        elif tps is not None and tps != gate.tps:
            gate.set_tps(tps)
        return gate

    def close(self) -> None:
        """Cancel every gate's timer."""
        for gate in self._gates.values():
            gate.close()

    async def aclose(self) -> None:
        """Close every gate, wait for their background work, then close the factory."""
        for gate in list(self._gates.values()):
            await gate.aclose()
        if self.factory is not None:
            await self.factory.aclose()

    def __len__(self) -> int:
        return len(self._gates)

    def __repr__(self) -> str:
        return f"GateRegistry({len(self._gates)} gates)"
