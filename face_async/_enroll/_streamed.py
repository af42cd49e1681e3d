"""An (async) iterable source: a queue per person, and workers that take persons with work.

The producer reads (person, image) pairs into the person's queue and marks a person with
work as ready. ``max_concurrency`` workers each take the ready person with the longest queue
that no worker holds, send its next image (taking a scheduler slot for the write), and put it
back while it has images queued: a person waiting for its turn holds no slot and no task, and
a source grouped by person keeps every worker busy. At most ``WINDOW_PER_SLOT *
max_concurrency`` images are queued or in progress (the window bounds memory and how far the
source is read ahead). A person with nothing queued is parked in the journal (a TEMP table)
and taken back when its next image comes, so memory does not grow with the number of persons.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import AsyncIterator, Coroutine
from typing import TYPE_CHECKING, Any

from face_async._enroll._journal import ParkedPerson
from face_async._enroll._protocol import PersonRun
from face_async._enroll._scheduler import person_key
from face_async._enroll._sources import Abort, ImageRef
from face_async._http._gate import request_priority

if TYPE_CHECKING:
    from face_async._enroll._run import Enrollment

__all__ = ["WINDOW_PER_SLOT", "run_streamed", "run_together"]

# Images queued or in progress per slot: enough to find max_concurrency persons with work in
# a source grouped by person (about 32 images each), few enough to bound memory.
WINDOW_PER_SLOT = 32
_YIELD_EVERY = 8


async def run_streamed(job: Enrollment, pairs: AsyncIterator[tuple[str, ImageRef]]) -> None:
    """Enroll the pairs' images, in source order per person, persons in parallel."""
    runs: dict[str, PersonRun] = {}  # persons with an image queued or in progress
    window = asyncio.Semaphore(WINDOW_PER_SLOT * job.scheduler.max_concurrency)
    # Max-heap of persons with images queued that no worker holds, by queue length when
    # pushed (a person is in it at most once).
    ready: list[tuple[int, int, PersonRun]] = []
    queued: set[str] = set()  # names in ``ready``
    held: set[str] = set()  # names a worker holds (the producer does not make them ready)
    idle: deque[asyncio.Future[None]] = deque()  # workers waiting for a ready person
    seq = itertools.count()
    reading = True

    def wake(count: int) -> None:
        while idle and count > 0:
            waiter = idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
                count -= 1

    def push(pr: PersonRun) -> None:
        if pr.name not in queued:
            queued.add(pr.name)
            heapq.heappush(ready, (-len(pr.queue), next(seq), pr))
            wake(1)

    async def turn(pr: PersonRun) -> None:
        """Send the person's next image (creating or finding the person first)."""
        image, index = pr.queue.popleft()
        # The longest known queue first, at the scheduler and at the client's gate.
        priority = len(pr.queue) + 1
        token = request_priority.set(priority)
        try:
            await job.wait_for_consumer()
            if not pr.started:
                async with job.scheduler.hold(("enroll", job.run, pr.name), priority=priority):
                    await job.ensure_started(pr)
            key = person_key(job.group_id, pr.person_id, large=job.large)
            async with job.scheduler.hold(key, priority=priority):
                await job.process_image(pr, image, index)
        finally:
            request_priority.reset(token)
            window.release()

    def put_back(pr: PersonRun) -> None:
        if pr.queue:
            push(pr)
            return
        # Nothing queued: park it now, in the same step as leaving ``runs``, so the producer
        # either appended to the queue above or finds the person parked.
        del runs[pr.name]
        job.finish_person(pr)
        job.journal.park(job.run, ParkedPerson(
            name=pr.name, person_id=pr.person_id, cursor=pr.cursor,
            on_service=pr.on_service, failure=pr.failed.reason if pr.failed else None,
            detail=pr.failed.detail if pr.failed else None,
        ))  # fmt: skip

    async def unpark(name: str) -> PersonRun:
        parked = await job.journal.unpark(job.run, name)
        if parked is None:
            return PersonRun(name=name)
        return PersonRun(
            name=name, started=True, person_id=parked.person_id, cursor=parked.cursor,
            on_service=parked.on_service,
            failed=None if parked.failure is None else Abort(parked.failure, parked.detail or ""),
        )  # fmt: skip

    async def produce() -> None:
        nonlocal reading
        read = 0
        try:
            async for name, image in pairs:
                await window.acquire()
                read += 1
                if read % _YIELD_EVERY == 0:
                    # A semaphore with room does not yield: give the loop a turn now and
                    # then, so reading ahead never holds it for long.
                    await asyncio.sleep(0)
                pr = runs.get(name)
                if pr is None:
                    pr = await unpark(name)
                    runs[name] = pr
                pr.queue.append((image, pr.cursor))
                pr.cursor += 1
                if pr.name not in held:
                    push(pr)
        finally:
            reading = False
            wake(len(idle))  # idle workers see the end

    async def worker() -> None:
        while True:
            if not ready:
                if not reading:
                    return
                waiter = asyncio.get_running_loop().create_future()
                idle.append(waiter)
                await waiter
                continue
            _, _, pr = heapq.heappop(ready)
            queued.discard(pr.name)
            held.add(pr.name)
            try:
                await turn(pr)
            finally:
                held.discard(pr.name)
            put_back(pr)

    await run_together([produce(), *(worker() for _ in range(job.scheduler.max_concurrency))])


async def run_together(coros: list[Coroutine[Any, Any, None]]) -> None:
    """Run the coroutines as tasks until all end; the first to fail cancels the others and
    its exception is raised (a TaskGroup, which Python 3.10 lacks)."""
    tasks = [asyncio.ensure_future(coro) for coro in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
