"""An (async) iterable source: a queue per person and one runner per person with work.

The producer reads (person, image) pairs into the person's queue and starts a runner for a
person that has none; the runner sends the person's images in source order, taking a
scheduler slot per write (a person waiting for its turn holds no slot and has no task). At
most ``WINDOW_PER_SLOT * max_concurrency`` images are queued or in progress (the window bounds
memory and how far the source is read ahead). A person with nothing queued is parked in the
journal (a TEMP table) and taken back when its next image comes, so memory does not grow with
the number of persons.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from face_async._enroll._journal import ParkedPerson
from face_async._enroll._protocol import PersonRun
from face_async._enroll._scheduler import person_key
from face_async._enroll._sources import Abort, ImageRef
from face_async._http._gate import request_priority

if TYPE_CHECKING:
    from face_async._enroll._run import Enrollment

__all__ = ["WINDOW_PER_SLOT", "run_streamed"]

# Images queued or in progress per slot: enough to find max_concurrency persons with work in
# a source grouped by person (about 32 images each), few enough to bound memory.
WINDOW_PER_SLOT = 32
_YIELD_EVERY = 8


async def run_streamed(job: Enrollment, pairs: AsyncIterator[tuple[str, ImageRef]]) -> None:
    """Enroll the pairs' images, in source order per person, persons in parallel."""
    runs: dict[str, PersonRun] = {}  # persons with an image queued or in progress
    window = asyncio.Semaphore(WINDOW_PER_SLOT * job.scheduler.max_concurrency)
    runners: set[asyncio.Task[None]] = set()
    failure: list[BaseException] = []

    async def one(pr: PersonRun, image: ImageRef, index: int) -> None:
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

    async def runner(pr: PersonRun) -> None:
        try:
            while pr.queue:
                image, index = pr.queue.popleft()
                try:
                    await one(pr, image, index)
                finally:
                    window.release()
            # Nothing queued: park it now, in the same step as leaving ``runs``, so the
            # producer either appended to the queue above or finds the person parked.
            del runs[pr.name]
            job.finish_person(pr)
            job.journal.park(job.run, ParkedPerson(
                name=pr.name, person_id=pr.person_id, cursor=pr.cursor,
                on_service=pr.on_service, failure=pr.failed.reason if pr.failed else None,
                detail=pr.failed.detail if pr.failed else None,
            ))  # fmt: skip
        except BaseException as exc:  # re-raised by the producer
            failure.append(exc)
            raise

    async def unpark(name: str) -> PersonRun:
        parked = await job.journal.unpark(job.run, name)
        if parked is None:
            return PersonRun(name=name)
        return PersonRun(
            name=name, started=True, person_id=parked.person_id, cursor=parked.cursor,
            on_service=parked.on_service,
            failed=None if parked.failure is None else Abort(parked.failure, parked.detail or ""),
        )  # fmt: skip

    read = 0
    try:
        async for name, image in pairs:
            await window.acquire()
            if failure:
                break
            read += 1
            if read % _YIELD_EVERY == 0:
                # A semaphore with room does not yield: give the loop a turn now and then, so
                # reading ahead never holds it for long.
                await asyncio.sleep(0)
            pr = runs.get(name)
            if pr is None:
                pr = await unpark(name)
                runs[name] = pr
                pr.queue.append((image, pr.cursor))
                pr.cursor += 1
                task = asyncio.ensure_future(runner(pr))
                runners.add(task)
                task.add_done_callback(runners.discard)
            else:
                pr.queue.append((image, pr.cursor))
                pr.cursor += 1
        if runners and not failure:
            await asyncio.wait(set(runners), return_when=asyncio.FIRST_EXCEPTION)
        if failure:
            raise failure[0]
    finally:
        for task in runners:
            task.cancel()
        if runners:
            await asyncio.gather(*runners, return_exceptions=True)
