"""A source known up front (a mapping or a folder): the longest remaining chain first.

``max_concurrency`` workers take, each time, the person with the most images left that no
worker holds (LRPT), send its next write, and put it back. The person's remaining count is
also the ``request_priority`` of its calls, so the client's gate admits the longest chain
first under a TPS limit. The next person's next file is read while the current calls run.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
from typing import TYPE_CHECKING

from face_async._enroll._protocol import PersonRun
from face_async._enroll._scheduler import person_key
from face_async._enroll._sources import ImageRef, load
from face_async._http._gate import request_priority

if TYPE_CHECKING:
    from face_async._enroll._run import Enrollment

__all__ = ["run_planned"]


async def run_planned(job: Enrollment, plan: list[tuple[str, list[ImageRef]]]) -> None:
    """Enroll every image of ``plan`` (person name, images), longest remaining chain first."""
    todo = sorted(
        (PersonRun(name=name, images=images, remaining=len(images)) for name, images in plan),
        key=lambda pr: -pr.remaining,
    )
    seq = itertools.count()
    # Max-heap of persons with images left that no worker holds, by images left.
    ready: list[tuple[int, int, PersonRun]] = []
    next_new = 0
    busy = 0
    changed = asyncio.Event()
    reads: set[asyncio.Future[tuple[bytes | str, str]]] = set()
    workers_count = job.scheduler.max_concurrency

    def peek() -> PersonRun | None:
        if next_new < len(todo) and (not ready or todo[next_new].remaining >= -ready[0][0]):
            return todo[next_new]
        return ready[0][2] if ready else None

    def take() -> PersonRun | None:
        nonlocal next_new
        pr = peek()
        if pr is None:
            return None
        if next_new < len(todo) and pr is todo[next_new]:
            next_new += 1
        else:
            heapq.heappop(ready)
        prefetch(peek())
        return pr

    def prefetch(pr: PersonRun | None) -> None:
        # Read the image of the person that goes next while the current calls run, so that
        # the chain of calls of a person is not stretched by file reads.
        if pr is None or pr.prefetch is not None or len(reads) >= workers_count:
            return
        images = pr.images
        if images is None or pr.cursor >= len(images):
            return
        if not isinstance(images[pr.cursor], os.PathLike):
            return  # already in memory, or a URL
        read = asyncio.ensure_future(load(images[pr.cursor]))
        reads.add(read)
        read.add_done_callback(reads.discard)
        pr.prefetch, pr.prefetch_index = read, pr.cursor

    async def turn(pr: PersonRun, images: list[ImageRef]) -> None:
        """One turn of a person: create or find it, or send its next write."""
        await job.wait_for_consumer()
        sent = False
        priority = request_priority.set(pr.remaining)
        try:
            if not pr.started:
                async with job.scheduler.hold(("enroll", job.run, pr.name), priority=pr.remaining):
                    before = job.client.stats.requests
                    await job.ensure_started(pr)
                    # A call (create, reconcile) takes the turn.
                    sent = job.client.stats.requests != before
            if sent:
                return
            key = person_key(job.group_id, pr.person_id, large=job.large)
            async with job.scheduler.hold(key, priority=pr.remaining):
                # Images needing no call (already enrolled) do not end the turn.
                while not sent and pr.cursor < len(images):
                    image = images[pr.cursor]
                    pr.cursor += 1
                    pr.remaining -= 1
                    request_priority.set(pr.remaining + 1)
                    sent = await job.process_image(pr, image, pr.cursor - 1)
            if pr.cursor >= len(images):
                job.finish_person(pr)
                pr.images = None
        finally:
            request_priority.reset(priority)

    async def worker() -> None:
        nonlocal busy
        while True:
            pr = take()
            if pr is None:
                if busy == 0:
                    return
                changed.clear()
                await changed.wait()
                continue
            busy += 1
            try:
                images = pr.images
                assert images is not None
                await turn(pr, images)
            finally:
                busy -= 1
            if pr.images is not None:
                heapq.heappush(ready, (-pr.remaining, next(seq), pr))
            changed.set()

    tasks = [asyncio.ensure_future(worker()) for _ in range(workers_count)]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        for read in list(reads):
            read.cancel()
        await asyncio.gather(*tasks, *reads, return_exceptions=True)
