"""The run of :func:`enroll`: the group, each image of a started person, training, the report.

How the work is ordered is in ``_planned`` (a source known up front) and ``_streamed`` (an
iterable); how each write stays exactly-once is in ``_protocol``; docs/enrollment.md explains
the whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from face_async._enroll._events import (
    EnrollEvent,
    EnrollFinished,
    EnrollReport,
    EnrollStarted,
    FaceAdded,
    FaceFailed,
    FaceFailure,
    FaceSkipped,
    TrainingFinished,
    TrainingStarted,
)
from face_async._enroll._journal import Journal
from face_async._enroll._protocol import ExactlyOnce, PersonRun
from face_async._enroll._scheduler import PersonScheduler
from face_async._enroll._sources import (
    ERROR,
    FACE_LIMIT,
    INVALID_IMAGE,
    INVALID_PERSON,
    OUTCOME_UNKNOWN,
    PERMANENT,
    UNREADABLE,
    Abort,
    EnrollSource,
    ImageRef,
    ReadImage,
    check_bytes,
    check_shard,
    image_list,
    load,
    plan_folder,
    reason_of,
    shard_of,
    source_label,
    source_pairs,
)
from face_async._errors import (
    APIError,
    AuthenticationError,
    Conflict,
    FaceError,
    FaceValidationError,
    NotFound,
    PermissionDenied,
    PersonNotFound,
    QuotaExceeded,
    RateLimited,
)
from face_async._http._loop_share import loop_share, step_share
from face_async._models import DetectionModel, RecognitionModel

if TYPE_CHECKING:
    from face_async._client import AsyncFaceClient
    from face_async._http._endpoint import Endpoint
    from face_async._http._transport import ClientStats

__all__ = ["MAX_FACES_PER_PERSON", "EnrollTarget", "enroll", "enroll_iter", "group_endpoint"]

MAX_FACES_PER_PERSON = 248
_TRAIN_SENDS = 5
DEFAULT_RECOGNITION_MODEL = RecognitionModel.RECOGNITION_04
DEFAULT_DETECTION_MODEL = DetectionModel.DETECTION_03


class Enrollment(ExactlyOnce):
    """One enrollment: the protocol plus the images, the group, training and counters."""

    def __init__(
        self,
        client: AsyncFaceClient,
        group_id: str,
        *,
        large: bool,
        journal: Journal,
        scheduler: PersonScheduler,
        group_name: str | None,
        recognition_model: str,
        detection_model: str,
        on_event: Callable[[EnrollEvent], object] | None,
        window: float,
        training_timeout: float,
    ) -> None:
        netloc = urlsplit(group_endpoint(client, group_id).base_url).netloc
        super().__init__(
            client, group_id, large=large, journal=journal,
            run=Journal.run_key(netloc, group_id, large), window=window,
            detection_model=detection_model, on_event=on_event,
        )  # fmt: skip
        self.scheduler = scheduler
        self.group_name = group_name or group_id
        self.recognition_model = recognition_model
        # enroll_iter's buffer: the run waits for the consumer when it is full.
        self.buffer = on_event if isinstance(on_event, _EventBuffer) else None
        self.training_timeout = training_timeout
        self.added = 0
        self.skipped = 0
        self.failures: list[FaceFailure] = []
        # Images reported outcome_unknown, by (name, fp): their failure, where to read them
        # again and whether their check failed (the final check re-sends those it finds not
        # applied; the others were found not applied after each of their sends already).
        self.unknown: dict[tuple[str, str], tuple[FaceFailure, ImageRef, int, bool]] = {}

    async def wait_for_consumer(self) -> None:
        """Under :func:`enroll_iter`, wait while its consumer is behind (back-pressure)."""
        if self.buffer is not None:
            await self.buffer.room.wait()

    async def ensure_group(self) -> None:
        groups = self.client.large_person_groups if self.large else self.client.person_groups
        try:
            await groups.get(self.group_id)
            return
        except NotFound:
            pass
        # Conflict: created meanwhile (or by our own retried PUT), so it exists.
        with contextlib.suppress(Conflict):
            await groups.create(
                self.group_id, name=self.group_name[:128],
                recognition_model=self.recognition_model,
            )  # fmt: skip

    async def ensure_started(self, pr: PersonRun) -> None:
        if pr.started:
            return
        try:
            await self.start_person(pr)
        except FaceValidationError as exc:
            pr.failed = Abort(INVALID_PERSON, str(exc))

    def finish_person(self, pr: PersonRun) -> None:
        if pr.prefetch is not None:
            pr.prefetch.cancel()
            pr.prefetch = None

    def fail(self, pr: PersonRun, source: str, reason: str, detail: str) -> FaceFailure:
        failure = FaceFailure(person=pr.name, source=source, reason=reason, detail=detail)
        self.failures.append(failure)
        self.emit(FaceFailed(person=pr.name, source=source, reason=reason, detail=detail))
        return failure

    async def read(self, pr: PersonRun, image: ImageRef, index: int) -> tuple[bytes | str, str]:
        read, pr.prefetch = pr.prefetch, None
        if read is not None and pr.prefetch_index == index:
            return await read
        if read is not None:
            read.cancel()
        return await load(image)

    async def process_image(self, pr: PersonRun, image: ImageRef, index: int) -> bool:
        """Enroll one image of a started person; True when a write was sent."""
        source = source_label(pr.name, image, index)
        await self.share.turn()
        if pr.failed is not None:
            self.fail(pr, source, pr.failed.reason, pr.failed.detail)
            return False
        try:
            payload, fp = await self.read(pr, image, index)
        except OSError as exc:
            self.fail(pr, source, UNREADABLE, f"{type(exc).__name__}: {exc.strerror or exc}")
            return False
        try:
            if isinstance(payload, bytes):
                check_bytes(payload)
        except Abort as exc:
            # Refused before sending (the service would refuse it too): recorded for good.
            self.journal.fail_face(self.run, pr.name, fp, exc.reason, source)
            self.fail(pr, source, exc.reason, exc.detail)
            return False
        # The same photo again while its first copy's outcome is unknown is not sent: the final
        # verification settles that copy (the same image twice is enrolled once).
        in_doubt = (pr.name, fp) in self.unknown
        recorded = (
            None if in_doubt
            else await self.journal.intend_face(self.run, pr.name, fp, source, time.time())
        )  # fmt: skip
        if in_doubt or (recorded is not None and recorded.persisted_face_id is not None):
            self.skipped += 1
            self.emit(FaceSkipped(person=pr.name, source=source, reason="already_enrolled"))
            return False
        if recorded is not None and recorded.failure is not None:
            self.fail(pr, source, recorded.failure, "rejected earlier; not sent again")
            return False
        try:
            if pr.on_service >= MAX_FACES_PER_PERSON:
                raise Abort(FACE_LIMIT, f"the person already holds {pr.on_service} faces")
            try:
                face_id = await self.add_face(pr, payload, fp, source)
            except QuotaExceeded as exc:
                if pr.on_service >= MAX_FACES_PER_PERSON or "face" in exc.message.lower():
                    raise Abort(FACE_LIMIT, exc.message) from exc
                raise
            except (AuthenticationError, PermissionDenied, RateLimited):
                raise  # the run cannot go on (RateLimited: beyond the client's RetryPolicy)
            except PersonNotFound as exc:
                raise Abort(ERROR, str(exc)) from exc
            except NotFound:
                raise  # the group itself is gone
            except APIError as exc:
                raise Abort(reason_of(exc), str(exc)) from exc
            except FaceValidationError as exc:
                raise Abort(INVALID_IMAGE, str(exc)) from exc
            except FaceError as exc:
                raise Abort(ERROR, str(exc)) from exc
        except Abort as exc:
            if exc.reason in PERMANENT:
                self.journal.fail_face(self.run, pr.name, fp, exc.reason, source)
            elif exc.reason != OUTCOME_UNKNOWN:
                self.journal.forget_face(self.run, pr.name, fp)  # surely not applied
            failure = self.fail(pr, source, exc.reason, exc.detail)
            if exc.reason == OUTCOME_UNKNOWN:
                self.unknown[(pr.name, fp)] = (failure, image, index, exc.unchecked)
            return True
        self.added += 1
        self.changed = True
        self.emit(FaceAdded(person=pr.name, source=source, persisted_face_id=face_id))
        return True

    async def settle_and_recount(self) -> None:
        """The final verification. An image reported ``outcome_unknown`` that it finds applied
        becomes added; one whose check had failed and that it finds not applied (nothing can
        land any more) is sent once again, and the writes of that round are verified in turn."""
        for resend in (True, False):
            await self.settle()
            pending, self.unknown = self.unknown, {}
            for (name, fp), (failure, image, index, unchecked) in pending.items():
                face = await self.journal.face(self.run, name, fp)
                face_id = None if face is None else face.persisted_face_id
                if face_id is not None:
                    self.failures.remove(failure)
                    self.added += 1
                    self.changed = True
                    added = FaceAdded(person=name, source=failure.source, persisted_face_id=face_id)
                    self.emit(added)
                    continue
                person = await self.journal.person(self.run, name) if resend and unchecked else None
                if person is None or person.person_id is None:
                    continue  # still unknown: the next run settles it
                self.failures.remove(failure)
                pr = PersonRun(name=name, started=True, person_id=person.person_id)
                await self.process_image(pr, image, index)  # reports the image once more
            if not self.unknown and not self.unsettled:
                return  # the re-sends raised no doubt: nothing left to verify

    async def wait_training(self, groups: Any) -> Any:
        return await groups.wait_for_training(
            self.group_id, timeout=self.training_timeout, poll_interval=0.05,
            max_poll_interval=5.0,
        )  # fmt: skip

    async def train_group(self) -> tuple[bool, str | None]:
        groups = self.client.large_person_groups if self.large else self.client.person_groups
        if not self.changed:
            try:
                status = await groups.get_training_status(self.group_id)
            except NotFound:
                status = None
            if status is not None and _status_text(status.status) == "succeeded":
                self.emit(TrainingFinished(group_id=self.group_id, status="skipped"))
                return False, "succeeded"
        self.emit(TrainingStarted(group_id=self.group_id))
        try:
            await groups.train(self.group_id)
        except Conflict:
            await self.wait_training(groups)  # one already running: train after it
            await groups.train(self.group_id)
        final = await self.wait_training(groups)
        text = _status_text(final.status)
        self.emit(TrainingFinished(group_id=self.group_id, status=text))
        return True, text


def _status_text(status: object) -> str:
    value = getattr(status, "value", status)
    return str(value)


def _request_timeout(client: AsyncFaceClient) -> float | None:
    """The client's per-attempt total timeout in seconds, if it has one."""
    timeout = getattr(client.transport, "timeout", None)
    total = getattr(timeout, "total", timeout)
    return float(total) if isinstance(total, int | float) and total > 0 else None


def _model_text(
    value: object, parameter: str, known: type[RecognitionModel | DetectionModel]
) -> str:
    """The model name; any non-empty str is passed on (the service adds models)."""
    text = str(getattr(value, "value", value))
    if not isinstance(value, str) or not text:
        names = ", ".join(member.value for member in known)
        raise FaceValidationError(f"{parameter} must be one of {names}", parameter=parameter)
    return text


@attrs.frozen
class EnrollTarget:
    """Another group that :func:`enroll` fills from the same reads (fan-out): a client (or a
    view, or a pool) and a group id; ``group_name`` names the group if the run creates it."""

    client: AsyncFaceClient
    group_id: str
    large: bool = False
    group_name: str | None = None


def group_endpoint(client: AsyncFaceClient, group_id: str) -> Endpoint:
    """The endpoint that holds ``group_id``: a pool's first holder of it (where its writes go),
    else the client's own."""
    pool = getattr(client, "resource_pool", None)
    return pool.holders(group_id)[0].endpoint if pool is not None else client.endpoint


def _in_shard(
    plan: list[tuple[str, list[ImageRef]]], shard: tuple[int, int] | None
) -> list[tuple[str, list[ImageRef]]]:
    if shard is None:
        return plan
    return [(name, images) for name, images in plan if shard_of(name, shard[1]) == shard[0]]


async def _pairs_in_shard(
    pairs: AsyncIterator[tuple[str, ImageRef]], shard: tuple[int, int]
) -> AsyncIterator[tuple[str, ImageRef]]:
    async for name, image in pairs:
        if shard_of(name, shard[1]) == shard[0]:
            yield name, image


async def _plan_pairs(
    plan: list[tuple[str, list[ImageRef]]],
) -> AsyncIterator[tuple[str, ImageRef]]:
    for name, images in plan:
        for image in images:
            yield name, image


_FANOUT_QUEUE = 64  # images read ahead for each target of a fan-out


async def _read_once(image: ImageRef) -> ImageRef:
    """The image read once for every target (a URL is passed on; an unreadable file too, so
    that each target reports it)."""
    if isinstance(image, str | ReadImage):
        return image
    try:
        payload, fp = await load(image)
    except OSError:
        return image
    label = None if isinstance(image, bytes | bytearray | memoryview) else os.fspath(image)
    assert isinstance(payload, bytes)
    return ReadImage(payload, fp, label)


async def _fan_out(jobs: list[Enrollment], pairs: AsyncIterator[tuple[str, ImageRef]]) -> None:
    """Read each pair once and enroll it into every job (each a streamed run of its own); a
    job that fails stops them all."""
    from face_async._enroll._streamed import run_streamed, run_together

    queues = [asyncio.Queue[tuple[str, ImageRef] | None](_FANOUT_QUEUE) for _ in jobs]

    async def produce() -> None:
        async for name, image in pairs:
            read = await _read_once(image)
            for queue in queues:
                await queue.put((name, read))
        for queue in queues:
            await queue.put(None)

    async def consume(
        queue: asyncio.Queue[tuple[str, ImageRef] | None],
    ) -> AsyncIterator[tuple[str, ImageRef]]:
        while (item := await queue.get()) is not None:
            yield item

    await run_together(
        [produce(), *(run_streamed(job, consume(q)) for job, q in zip(jobs, queues, strict=True))]
    )


async def enroll(
    client: AsyncFaceClient,
    group_id: str,
    source: EnrollSource,
    *,
    large: bool = False,
    journal: Journal | str | os.PathLike[str] | None = None,
    max_concurrency: int = 16,
    scheduler: PersonScheduler | None = None,
    tps: float | None = None,
    train: bool = True,
    group_name: str | None = None,
    recognition_model: RecognitionModel | str = DEFAULT_RECOGNITION_MODEL,
    detection_model: DetectionModel | str = DEFAULT_DETECTION_MODEL,
    on_event: Callable[[EnrollEvent], object] | None = None,
    late_write_window: float | None = None,
    training_timeout: float = 600.0,
    targets: Sequence[EnrollTarget] = (),
    shard: tuple[int, int] | None = None,
) -> EnrollReport:
    """Enroll persons and their face images into a (large) person group, exactly once.

    ``source`` is a mapping person name -> images, an (async) iterable of (person, image)
    pairs, or a folder ``root/<person name>/*.{jpg,jpeg,png,gif,bmp}``; an image is bytes, a
    ``pathlib.Path`` or an http(s) URL str (any other str raises FaceValidationError), read
    only when it is sent. Creates the group when missing (with ``recognition_model``), creates
    or reuses persons by name, adds faces with ``detection_model`` (at most ``max_concurrency``
    writes at once, one at a time per person, the person with the most images left first),
    then trains and waits unless ``train`` is false. ``tps`` sets the client's calls-per-second
    limit for this endpoint (its gate paces every call and admits the longest chain first);
    429s are waited out inside the client under its ``RetryPolicy`` (build the client with a
    larger ``max_server_delay`` to wait out long ones). ``journal`` (a path or an open
    :class:`Journal`) makes the run resumable (without one, a private temporary file is used:
    exactly-once within the run, no resume). On a client made by ``AsyncFaceClient.pool``,
    the run keys its journal and sets ``tps`` on the resource that holds ``group_id``.

    ``targets`` (:class:`EnrollTarget`) fans the enrollment out: each image is read and
    fingerprinted once and enrolled into ``group_id`` and into every target, exactly once
    and resumable per target (one journal, keyed by endpoint and group; the report's
    ``replicas`` hold the targets' reports). The targets then advance together, in source
    order per person, a bounded read-ahead apart. ``shard=(i, n)`` enrolls only the persons
    whose name hashes to shard ``i`` of ``n`` (:func:`shard_of`), so that n workers share a
    source; it needs ``train=False`` (train once, after every shard is done).

    A write whose outcome was unknown may be applied by the service up to
    ``late_write_window`` seconds after it was sent (default: twice the client's request
    timeout); before it reports, the run waits for that window (a
    :class:`WaitingForLateWrites` event) and removes what landed twice. ``on_event``
    receives progress events synchronously: an exception it raises stops the run and is
    raised here.

    A bad image never aborts the run: it is reported in ``EnrollReport.failures``.
    Raises AuthenticationError, PermissionDenied (e.g. the subscription quota), RateLimited
    (a Retry-After beyond the client's policy), NotFound when the group disappears,
    TrainingFailed/TrainingTimeout, JournalBusy when another process holds the journal, and
    FaceValidationError for a bad argument.
    """
    if scheduler is None and max_concurrency < 1:
        raise FaceValidationError("max_concurrency must be >= 1", parameter="max_concurrency")
    if tps is not None and not tps > 0:
        raise FaceValidationError("tps must be > 0", parameter="tps")
    if shard is not None:
        shard = check_shard(shard)
        if train:
            raise FaceValidationError(
                "a shard does not train (the others may still be adding faces): pass "
                "train=False and train the group once every shard is done",
                parameter="train",
            )
    recognition = _model_text(recognition_model, "recognition_model", RecognitionModel)
    detection = _model_text(detection_model, "detection_model", DetectionModel)
    if late_write_window is not None and not late_write_window >= 0:
        raise FaceValidationError("late_write_window must be >= 0", parameter="late_write_window")
    if isinstance(targets, EnrollTarget) or not all(
        isinstance(target, EnrollTarget) for target in targets
    ):
        raise FaceValidationError("targets must be a sequence of EnrollTarget", parameter="targets")
    every = [EnrollTarget(client, group_id, large, group_name), *targets]
    runs = [
        Journal.run_key(
            urlsplit(group_endpoint(t.client, t.group_id).base_url).netloc, t.group_id, t.large
        )
        for t in every
    ]
    if len(set(runs)) != len(runs):
        raise FaceValidationError(
            "targets: the same group of the same endpoint is named twice", parameter="targets"
        )
    plan: list[tuple[str, list[ImageRef]]] | None
    if isinstance(source, str | os.PathLike):
        plan = await asyncio.to_thread(plan_folder, Path(source))
    elif isinstance(source, Mapping):
        plan = [(str(name), image_list(images)) for name, images in source.items()]
    else:
        plan = None
    if plan is not None:
        plan = _in_shard(plan, shard)
    db = journal if isinstance(journal, Journal) else Journal(journal or "")
    own_journal = not isinstance(journal, Journal)
    gates = list(
        {id(g): g for g in (group_endpoint(t.client, t.group_id).gate for t in every)}.values()
    )
    previous_tps = [gate.tps for gate in gates]
    stats = [t.client.stats for t in every]
    counts0 = [(s.requests, s.retries, s.rate_limited) for s in stats]
    started = time.monotonic()
    if own_journal:
        await db.open()
    # The client's calls of this run (in the tasks it starts) take turns of the loop's share.
    share_token = step_share.set(loop_share())
    try:
        if tps is not None:
            for gate in gates:
                gate.set_tps(tps)
        jobs: list[Enrollment] = []
        for index, target in enumerate(every):
            window = late_write_window
            if window is None:
                window = 2 * (_request_timeout(target.client) or 30.0)
            job = Enrollment(
                target.client, target.group_id, large=target.large, journal=db,
                scheduler=scheduler if scheduler is not None and index == 0
                else PersonScheduler(max_concurrency),
                group_name=target.group_name, recognition_model=recognition,
                detection_model=detection, on_event=on_event, window=window,
                training_timeout=training_timeout,
            )  # fmt: skip
            job.target = index
            jobs.append(job)
        await asyncio.gather(*(job.ensure_group() for job in jobs))
        await asyncio.gather(*(job.load_listing() for job in jobs))
        from face_async._enroll._planned import run_planned
        from face_async._enroll._streamed import run_streamed

        for job in jobs:
            if plan is not None:
                images = sum(len(images) for _, images in plan)
                job.emit(EnrollStarted(group_id=job.group_id, persons=len(plan), images=images))
            else:
                job.emit(EnrollStarted(group_id=job.group_id, persons=None, images=None))
        pairs = source_pairs(source) if plan is None else _plan_pairs(plan)  # type: ignore[arg-type]
        if plan is None and shard is not None:
            pairs = _pairs_in_shard(pairs, shard)
        if len(jobs) > 1:
            await _fan_out(jobs, pairs)
        elif plan is not None:
            await run_planned(jobs[0], plan)
        else:
            await run_streamed(jobs[0], pairs)
        await asyncio.gather(*(job.settle_and_recount() for job in jobs))
        trained: list[tuple[bool, str | None]] = []
        for job in jobs:
            trained.append(await job.train_group() if train else (False, None))
    finally:
        step_share.reset(share_token)
        if tps is not None:
            for gate, previous in zip(gates, previous_tps, strict=True):
                gate.set_tps(previous)
        if own_journal:
            await db.aclose()
    elapsed = time.monotonic() - started
    reports = [
        _report(job, stat, count0, elapsed, done)
        for job, stat, count0, done in zip(jobs, stats, counts0, trained, strict=True)
    ]
    return attrs.evolve(reports[0], replicas=tuple(reports[1:]))


def _report(
    job: Enrollment,
    stats: ClientStats,
    counts0: tuple[int, int, int],
    elapsed: float,
    trained: tuple[bool, str | None],
) -> EnrollReport:
    calls0, retries0, limited0 = counts0
    return EnrollReport(
        group_id=job.group_id,
        large=job.large,
        persons_created=job.created,
        persons_reused=job.reused,
        faces_added=job.added,
        faces_skipped=job.skipped,
        faces_failed=len(job.failures),
        failures=tuple(job.failures),
        reconciled=job.reconciled,
        duplicates_removed=job.duplicates_removed,
        retries=stats.retries - retries0,
        rate_limited=stats.rate_limited - limited0,
        calls=stats.requests - calls0,
        elapsed=elapsed,
        trained=trained[0],
        training_status=trained[1],
        settle_wait=job.settle_wait,
    )


_ITER_BACKLOG = 256  # events enroll_iter buffers before the run waits for its consumer


class _EventBuffer:
    """enroll_iter's events between the run and the consumer; ``room`` is set while fewer
    than ``limit`` wait. The run waits for ``room`` before each turn of work, so the buffer
    holds at most ``limit`` plus the few events of the turns already under way."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.queue: asyncio.Queue[EnrollEvent | None] = asyncio.Queue()
        self.room = asyncio.Event()
        self.room.set()

    def __call__(self, event: EnrollEvent | None) -> None:
        self.queue.put_nowait(event)
        if self.queue.qsize() >= self.limit:
            self.room.clear()

    async def get(self) -> EnrollEvent | None:
        event = await self.queue.get()
        if self.queue.qsize() < self.limit:
            self.room.set()
        return event


async def enroll_iter(
    client: AsyncFaceClient,
    group_id: str,
    source: EnrollSource,
    *,
    large: bool = False,
    journal: Journal | str | os.PathLike[str] | None = None,
    max_concurrency: int = 16,
    scheduler: PersonScheduler | None = None,
    tps: float | None = None,
    train: bool = True,
    group_name: str | None = None,
    recognition_model: RecognitionModel | str = DEFAULT_RECOGNITION_MODEL,
    detection_model: DetectionModel | str = DEFAULT_DETECTION_MODEL,
    late_write_window: float | None = None,
    training_timeout: float = 600.0,
    targets: Sequence[EnrollTarget] = (),
    shard: tuple[int, int] | None = None,
) -> AsyncIterator[EnrollEvent]:
    """:func:`enroll` as an async iterator of its events, ending with :class:`EnrollFinished`.

    Takes the arguments of :func:`enroll` (except ``on_event``) and raises what it raises.
    A slow consumer slows the enrollment: a bounded number of events is buffered, then the run
    waits for the loop to catch up. Leaving the loop early cancels the enrollment (the journal
    keeps what was confirmed).
    """
    buffer = _EventBuffer(_ITER_BACKLOG)
    run = enroll(
        client, group_id, source, large=large, journal=journal,
        max_concurrency=max_concurrency, scheduler=scheduler, tps=tps, train=train,
        group_name=group_name, recognition_model=recognition_model,
        detection_model=detection_model, on_event=buffer,
        late_write_window=late_write_window, training_timeout=training_timeout,
        targets=targets, shard=shard,
    )  # fmt: skip
    task = asyncio.ensure_future(run)
    task.add_done_callback(lambda _: buffer(None))
    try:
        while (event := await buffer.get()) is not None:
            yield event
        yield EnrollFinished(report=task.result())
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
