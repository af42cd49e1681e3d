"""PersonScheduler: per-person serialized, globally bounded writes.

The Face API processes adding/deleting faces to/from one person sequentially and answers a
concurrent write to the same person with 409 ConcurrentOperationConflict; different persons are
processed in parallel. :class:`PersonScheduler` runs calls so that:

* calls with the same key (a person, or a face list) run one at a time, in submission order;
* at most ``max_concurrency`` calls run at once across all keys;
* a call waiting for its key holds no global slot (no head-of-line blocking);
* among calls that are ready (first in line for their key), a global slot goes to the highest
  ``priority`` first, then in submission order;
* it does not pace calls: a calls-per-second limit and 429 pauses belong to the client's gate
  (``AsyncFaceClient(tps=...)``), which admits higher ``request_priority`` first;
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
    Raises FaceValidationError (a ValueError) when ``max_concurrency`` is below 1.
    """

    def __init__(self, max_concurrency: int = 16) -> None:
        if max_concurrency < 1:
            raise FaceValidationError("max_concurrency must be >= 1", parameter="max_concurrency")
        self._max = max_concurrency
        self._running = 0
        self._peak = 0
        self._queues: dict[Hashable, deque[_Ticket]] = {}
        self._ready: list[_Ticket] = []
        self._seq = itertools.count()
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
        queue = self._queues[ticket.key]
        queue.popleft()
        if queue:
            heapq.heappush(self._ready, queue[0])
        else:
            del self._queues[ticket.key]
        # Grant in the next loop iteration, not now: the caller that released usually submits
        # the next call of its chain in the same step (an enrollment's worker does), and that
        # call must compete for the free slot, not find it handed to a call of lower priority
        # a moment before.
        if self._soon is None:
            self._soon = asyncio.get_running_loop().call_soon(self._dispatch_soon)

    def _dispatch_soon(self) -> None:
        self._soon = None
        self._dispatch()

    def _dispatch(self) -> None:
        while self._running < self._max and self._ready:
            ticket = heapq.heappop(self._ready)
            if ticket.cancelled or ticket.grant.done():
                continue
            self._running += 1
            self._peak = max(self._peak, self._running)
            ticket.grant.set_result(None)
