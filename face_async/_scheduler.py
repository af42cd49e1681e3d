"""PersonScheduler: per-person serialized, globally bounded writes.

The Face API processes adding/deleting faces to/from one person sequentially and answers a
concurrent write to the same person with 409 ConcurrentOperationConflict; different persons are
processed in parallel. :class:`PersonScheduler` runs calls so that:

* calls with the same key (a person, or a face list) run one at a time, in submission order;
* at most ``max_concurrency`` calls run at once across all keys;
* a call waiting for its key holds no global slot (no head-of-line blocking);
* among calls that are ready (first in line for their key), a global slot goes to the highest
  ``priority`` first, then in submission order;
* the state of a key is dropped as soon as it has no queued or running call;
* cancelling a call (queued or running) frees its place and disturbs no other call;
* an exception raised by a call reaches only its caller.

Keys are any hashable value; :func:`person_key` and :func:`face_list_key` build the conventional
ones so that writes from different parts of a program share a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import ParamSpec, TypeVar

from face_async._errors import FaceValidationError

__all__ = ["PersonScheduler", "face_list_key", "person_key"]

_P = ParamSpec("_P")
_BURST = 2.0  # grants a rate-paced scheduler can bank: one to use, one kept back
# How late a pacing timer may fire and still count from when it was due: epoll rounds its
# timeout up to the millisecond, so timers fire ~0.5 ms late on average (5% of a 10 ms pace).
_LATE = 1.0  # in grants
_T = TypeVar("_T")


def person_key(group_id: str, person_id: str, *, large: bool = False) -> tuple[str, str, str]:
    """The scheduler key for writes to one PersonGroup (or LargePersonGroup) person."""
    return ("largepersongroup" if large else "persongroup", group_id, person_id)


def face_list_key(face_list_id: str, *, large: bool = False) -> tuple[str, str]:
    """The scheduler key for writes to one FaceList (or LargeFaceList), serialized per list."""
    return ("largefacelist" if large else "facelist", face_list_id)


class _Ticket:
    """One submitted call: its key, its priority and the future that grants it a slot."""

    __slots__ = ("cancelled", "grant", "key", "priority", "seq")

    def __init__(
        self, key: Hashable, priority: float, seq: int, grant: asyncio.Future[None]
    ) -> None:
        self.key = key
        self.priority = priority
        self.seq = seq
        self.grant = grant
        self.cancelled = False

    def __lt__(self, other: _Ticket) -> bool:
        # heapq is a min-heap: higher priority first, then submission order.
        if self.priority != other.priority:
            return self.priority > other.priority
        return self.seq < other.seq


class PersonScheduler:
    """Run calls serialized per key and bounded globally by ``max_concurrency``.

    ``await scheduler.run(key, fn, *args)`` awaits ``fn(*args)`` once every earlier call for
    ``key`` has finished and a global slot is free, and returns its result (or raises its
    exception). ``async with scheduler.hold(key):`` does the same for a block of code.
    With ``tps``, slots are also granted at most ``tps`` times per second, in priority order,
    and one grant is kept back for a running call of higher priority than the waiting ones: so
    that under a rate limit the longest chain of calls (the highest priority) is not queued
    behind others at the client's FIFO rate gate. ``burst`` grants are available at first
    (default: ``tps``, one second's worth, as the client's own rate gate allows). Raises
    FaceValidationError (a ValueError) when ``max_concurrency`` is below 1 or ``tps`` is not
    positive.
    """

    def __init__(
        self, max_concurrency: int = 16, *, tps: float | None = None, burst: float | None = None
    ) -> None:
        if max_concurrency < 1:
            raise FaceValidationError("max_concurrency must be >= 1", parameter="max_concurrency")
        if tps is not None and not tps > 0:
            raise FaceValidationError("tps must be > 0", parameter="tps")
        self._max = max_concurrency
        self._running = 0
        self._peak = 0
        self._queues: dict[Hashable, deque[_Ticket]] = {}
        self._ready: list[_Ticket] = []
        self._seq = itertools.count()
        self._tps = tps
        # By default start with one second's worth, as the client's rate gate (and a service's
        # token bucket) allows at first; afterwards at most _BURST are banked.
        self._tokens = max(_BURST, tps or 0.0) if burst is None else max(1.0, burst)
        self._refilled: float | None = None
        self._due: float | None = None  # when a refused call was told a grant would be ready
        self._running_priorities: list[float] = []
        self._timer: asyncio.TimerHandle | None = None
        self._soon: asyncio.Handle | None = None

    def __repr__(self) -> str:
        return (
            f"PersonScheduler(max_concurrency={self._max}, running={self._running}, "
            f"keys={len(self._queues)})"
        )

    @property
    def max_concurrency(self) -> int:
        """The global bound on calls running at once."""
        return self._max

    @property
    def tps(self) -> float | None:
        """The pace of slot grants per second, or None."""
        return self._tps

    @property
    def running(self) -> int:
        """Calls holding a global slot now."""
        return self._running

    @property
    def peak_running(self) -> int:
        """The most calls that held a global slot at the same time."""
        return self._peak

    @property
    def active_keys(self) -> int:
        """Keys with a queued or running call (idle keys keep no state)."""
        return len(self._queues)

    @property
    def queued(self) -> int:
        """Calls submitted and not yet running."""
        return sum(len(q) for q in self._queues.values()) - self._running

    async def run(
        self, key: Hashable, fn: Callable[_P, Awaitable[_T]], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """Await ``fn(*args, **kwargs)`` in its turn for ``key``; return or raise its outcome."""
        async with self.hold(key):
            return await fn(*args, **kwargs)

    async def run_with_priority(
        self, key: Hashable, priority: float, fn: Callable[[], Awaitable[_T]]
    ) -> _T:
        """As :meth:`run`, ready calls with a higher ``priority`` getting a slot first."""
        async with self.hold(key, priority=priority):
            return await fn()

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable, *, priority: float = 0) -> AsyncIterator[None]:
        """Hold ``key`` and one global slot for the body of an ``async with`` block."""
        ticket = await self._acquire(key, priority)
        try:
            yield
        finally:
            self._release(ticket)

    async def _acquire(self, key: Hashable, priority: float) -> _Ticket:
        loop = asyncio.get_running_loop()
        ticket = _Ticket(key, priority, next(self._seq), loop.create_future())
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
        queue.append(ticket)
        if len(queue) == 1:
            heapq.heappush(self._ready, ticket)
            self._dispatch()
        try:
            await ticket.grant
        except asyncio.CancelledError:
            self._abandon(ticket)
            raise
        return ticket

    def _abandon(self, ticket: _Ticket) -> None:
        """Forget a call cancelled before it started; give back a slot granted meanwhile."""
        if ticket.grant.done() and not ticket.grant.cancelled():
            # Granted in the same loop iteration as the cancellation: it owns a slot and the
            # head of its key, so release both like a finished call.
            self._release(ticket)
            return
        ticket.cancelled = True  # lazily dropped from the ready heap by _dispatch
        queue = self._queues[ticket.key]
        was_head = queue[0] is ticket
        queue.remove(ticket)
        if not queue:
            del self._queues[ticket.key]
        elif was_head:
            heapq.heappush(self._ready, queue[0])
            self._dispatch()

    def _release(self, ticket: _Ticket) -> None:
        self._running -= 1
        self._running_priorities.remove(ticket.priority)
        queue = self._queues[ticket.key]
        queue.popleft()
        if queue:
            heapq.heappush(self._ready, queue[0])
        else:
            del self._queues[ticket.key]
        # Grant in the next loop iteration, not now: the caller that released usually submits
        # the next call of its chain in the same step (an enrollment's worker does), and that
        # call must compete for the free slot and for the grant kept back for it, not find
        # them handed to a call of lower priority a moment before.
        if self._soon is None:
            self._soon = asyncio.get_running_loop().call_soon(self._dispatch_soon)

    def _dispatch_soon(self) -> None:
        self._soon = None
        self._dispatch()

    def _dispatch(self) -> None:
        while self._running < self._max and self._ready:
            ticket = self._ready[0]
            if ticket.cancelled or ticket.grant.done():
                heapq.heappop(self._ready)
                continue
            if self._tps is not None and not self._take_token(ticket.priority):
                return
            heapq.heappop(self._ready)
            self._running += 1
            self._running_priorities.append(ticket.priority)
            self._peak = max(self._peak, self._running)
            ticket.grant.set_result(None)

    def _take_token(self, priority: float) -> bool:
        """Spend a paced grant for a call of ``priority``, or arm a timer and say no."""
        assert self._tps is not None
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._refilled is None:
            self._refilled = now
        cap = max(_BURST, self._tokens)  # the first second's worth is spent, never refilled
        if self._due is not None and now > self._due:
            # Calls have waited since the grant was due: the time the timer (or the loop) was
            # late is not lost to the cap, or the pace would fall short of tps.
            cap += min(_LATE, (now - self._due) * self._tps)
        self._due = None
        self._tokens = min(cap, self._tokens + (now - self._refilled) * self._tps)
        self._refilled = now
        # Keep one grant back while a call of higher priority runs: it returns soon and must
        # not wait for the next grant behind calls that can wait.
        keep = 1.0 if any(p > priority for p in self._running_priorities) else 0.0
        if self._tokens >= 1.0 + keep:
            self._tokens -= 1.0
            return True
        when = now + (1.0 + keep - self._tokens) / self._tps
        self._due = when
        if self._timer is not None and self._timer.when() > when:
            self._timer.cancel()
            self._timer = None
        if self._timer is None:
            self._timer = loop.call_at(when, self._on_timer)
        return False

    def _on_timer(self) -> None:
        self._timer = None
        self._dispatch()
