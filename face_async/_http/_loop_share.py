"""LoopShare: spreads a bulk job's steps over event-loop iterations.

asyncio runs every callback that is ready at the start of an iteration before it looks at
timers or sockets again. With many writes in flight, their answers arrive together and each
wakes a step of ~100-200 us of client work (parse the answer, journal, build the next
request): one iteration of 30 such steps stalls every other coroutine of the program for
several milliseconds. A run calls :meth:`LoopShare.turn` before each such step. The steps
of one iteration may together take ``budget`` seconds; the others wait, in order, for the
following iterations, so the run takes the loop's spare time and leaves each iteration short.

A job sets :data:`step_share` for its tasks (``enroll()`` does): the transport then takes a
turn before sending each request and before acting on each answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections import deque
from contextvars import ContextVar

__all__ = ["LoopShare", "loop_share", "step_share"]


class LoopShare:
    """Turns for a run's steps: about ``budget`` seconds of them per loop iteration."""

    def __init__(self, budget: float = 0.0002) -> None:
        self.budget = budget
        self._iteration = 0  # advanced once per loop iteration while the share is in use
        self._slice_iteration = -1  # the iteration whose turns started at _slice_start
        self._slice_start = 0.0
        self._slice_turns = 0  # turns taken in the current slice
        self._wake = 1  # waiters to wake per iteration: the turns a full slice took
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._requeued = 0  # woken waiters put back at the head in this iteration
        self._woken = 0  # waiters woken whose tasks have not run yet
        # A tick is scheduled (a flag, not the handle: the share, kept per loop in a weak
        # mapping, must not hold its loop alive).
        self._ticking = False

    def __repr__(self) -> str:
        return f"LoopShare(budget={self.budget}, waiting={len(self._waiters)})"

    async def turn(self) -> None:
        """Return at once while this iteration's budget lasts (and nobody waits), else in
        a later iteration, after the steps that were waiting before."""
        if not self._waiters and not self._woken and self._take():
            return
        position: int | None = None  # None: at the tail
        while True:
            waiter = asyncio.get_running_loop().create_future()
            if position is None:
                self._waiters.append(waiter)
            else:
                self._waiters.insert(position, waiter)
            self._schedule()
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._woken -= 1  # woken, then cancelled before it ran
                else:
                    waiter.cancel()
                    # Still in line, unless the tick has dropped it already.
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(waiter)
                raise
            self._woken -= 1
            if self._take():
                return
            # Woken, but the steps before it used this iteration up: first in line again.
            position = self._requeued
            self._requeued += 1

    def _take(self) -> bool:
        now = time.perf_counter()
        if self._slice_iteration != self._iteration:
            self._slice_iteration = self._iteration
            self._slice_start = now
            self._slice_turns = 1
            self._schedule()
            return True
        if now - self._slice_start >= self.budget:
            self._wake = self._slice_turns  # what fits in one iteration
            return False
        self._slice_turns += 1
        return True

    def _schedule(self) -> None:
        if not self._ticking:
            self._ticking = True
            asyncio.get_running_loop().call_soon(self._next_iteration)

    def _next_iteration(self) -> None:
        # Scheduled with call_soon from the iteration before, so it runs once per iteration
        # while turns are taken or waited for.
        self._ticking = False
        self._iteration += 1
        self._requeued = 0
        # Wake as many as the last full slice took, one more when the line is long; a woken
        # step that finds the budget spent goes back to the head of the line.
        wake = self._wake + (1 if len(self._waiters) > self._wake else 0)
        self._wake = wake
        while self._waiters and wake > 0:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self._woken += 1
                wake -= 1
        if self._waiters or self._woken:
            self._schedule()


#: The LoopShare whose turns the transport takes for the calls of this context (None: none).
step_share: ContextVar[LoopShare | None] = ContextVar("face_async_step_share", default=None)

_SHARES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopShare] = (
    weakref.WeakKeyDictionary()
)


def loop_share() -> LoopShare:
    """The running loop's LoopShare: the bulk jobs of one loop (a fan-out's targets, a
    service's concurrent enrollments) share one budget per iteration, first come first
    served."""
    loop = asyncio.get_running_loop()
    share = _SHARES.get(loop)
    if share is None:
        share = _SHARES[loop] = LoopShare()
    return share
