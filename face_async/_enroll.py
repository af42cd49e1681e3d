"""Bulk enrollment: exactly-once, resumable, per-person serialized, shortest makespan first.

:func:`enroll` creates the group when missing, creates (or reuses) one person per name, adds
every image as a face through a :class:`~face_async.PersonScheduler`, trains and waits. This
module holds the run; its events and report are in ``_enroll_events``, its sources, image
reading and failure reasons in ``_enroll_sources`` (all public names are re-exported here).

How exactly-once works
----------------------
Creating a person and adding a face are not idempotent, and the client raises
:class:`~face_async.OutcomeUnknownError` instead of re-sending them after an ambiguous failure
(timeout, reset after send, 408/5xx). Every face added carries a fingerprint in its userData:
``face-async:v1:`` + the blake2b-128 hex digest of the image bytes (or of the URL). While a
person is being written, we are its only writer (writes are serialized per person), so after an
ambiguous failure we read the person's persistedFaceIds, look at the userData of every face id
not yet known (PersonGroup Person - Get Face) and find the fingerprint: found means the face was
added (it is recorded), absent means it was not (it is sent again). When the failure was a
timeout, the service may still be processing the request, so an absent face is looked for once
more after ``reconcile_grace`` seconds. A person whose writes were ambiguous is checked once more
when its images are done: a face whose fingerprint is already recorded under another id (a late
duplicate) is deleted. Persons carry ``face-async:v1:person:`` + a random token in their
userData; after an ambiguous create the persons are listed and matched by name and token, and
when the run's writes are done they are listed once more: a late twin (same name and token,
another id: an earlier attempt the service applied after we had looked) is deleted. A rerun
deletes such twins too, keeping the journal's person (or the one with the most faces).
When the service cannot be read to settle an ambiguous add (5xx, 429, network), the image is
reported ``outcome_unknown`` and stays in doubt in the journal: the next run settles it.

Writes to a person go through the scheduler under :func:`~face_async.person_key` once its id is
known, so code sharing the ``scheduler`` and writing to the same person is serialized with the
enrollment (before that, the person's name keys its create or lookup).

The journal (:class:`~face_async._journal.Journal`, sqlite3) records each face just before it is
sent and again when the service confirms it, and each person when its id is known, committing
each record at once. A rerun lists the group's persons once, compares their persistedFaceIds with
the journal (faces gone from the service are added again; unknown faces are read and matched by
fingerprint; a face sent by the interrupted run without a known outcome makes the person checked
again when it is done) and continues; a rerun of a finished enrollment makes no write.

Memory: per-image state lives in the journal, not in memory, and so does the group's listing
read at the start (TEMP tables). A streamed source keeps in memory only the persons with an
image in progress (at most ``4 * max_concurrency``); the others are parked in the journal and
taken back when their next image comes. A source known up front keeps its plan (the image
references per person, a few dozen bytes each). Without a journal, a private temporary journal
file is used, so that sqlite holds a bounded page cache rather than every record. The report's
failures are kept in memory: the report returns them all anyway.

Shortest makespan: when the source is known up front (a mapping or a folder), the next write goes
to the person with the most images left (longest remaining chain first), which keeps every slot
busy until the chains end level. Under a TPS limit the writes are paced in that same order.

Limits: the mechanism assumes no other process writes the same persons during the run. Another
writer adding faces with our fingerprint prefix, overwriting a face's userData, or a request the
service applies after the grace period and the final check can defeat it; a rerun then repairs
duplicates and missing faces. An image is identified by its bytes: the same photo twice for one
person is enrolled once.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import os
import time
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import attrs

from face_async._enroll_events import (
    EnrollEvent,
    EnrollFinished,
    EnrollReport,
    EnrollStarted,
    FaceAdded,
    FaceFailed,
    FaceFailure,
    FaceSkipped,
    OutcomeReconciled,
    PersonCreated,
    PersonReused,
    RateLimitWait,
    TrainingFinished,
    TrainingStarted,
)
from face_async._enroll_sources import (
    ERROR,
    FACE_LIMIT,
    IMAGE_SUFFIXES,
    INVALID_IMAGE,
    INVALID_PERSON,
    OUTCOME_UNKNOWN,
    PERMANENT,
    PERSON_PREFIX,
    UNREADABLE,
    Abort,
    EnrollSource,
    ImageRef,
    check_bytes,
    face_user_data,
    fingerprint,
    fingerprint_of,
    image_list,
    load,
    plan_folder,
    reason_of,
    source_label,
    source_pairs,
)
from face_async._errors import (
    APIError,
    AuthenticationError,
    Conflict,
    FaceError,
    FaceTimeoutError,
    FaceValidationError,
    NotFound,
    OutcomeUnknownError,
    PermissionDenied,
    PersistedFaceNotFound,
    PersonNotFound,
    QuotaExceeded,
    RateLimited,
    ResponseError,
)
from face_async._journal import Journal, ListedPerson, ParkedPerson
from face_async._scheduler import PersonScheduler, person_key

if TYPE_CHECKING:
    from face_async._client import AsyncFaceClient
    from face_async._models import Person
    from face_async._resources import (
        LargePersonGroupPersonOperations,
        PersonGroupPersonOperations,
    )

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_FACES_PER_PERSON",
    "EnrollEvent",
    "EnrollFinished",
    "EnrollReport",
    "EnrollStarted",
    "FaceAdded",
    "FaceFailed",
    "FaceFailure",
    "FaceSkipped",
    "OutcomeReconciled",
    "PersonCreated",
    "PersonReused",
    "RateLimitWait",
    "TrainingFinished",
    "TrainingStarted",
    "enroll",
    "enroll_iter",
    "fingerprint",
    "makespan_floor",
]

MAX_FACES_PER_PERSON = 248
_MAX_ATTEMPTS = 5
_MAX_RATE_LIMITED = 20
_T = TypeVar("_T")


def makespan_floor(
    face_counts: Iterable[int], *, latency: float, concurrency: int, tps: float | None = None
) -> float:
    """The least time adding these per-person face counts can take, in seconds.

    ``max(max_p faces_p * latency, sum(faces) / tps, sum(faces) * latency / concurrency)``:
    one person's faces are added one after the other, the rate limit caps the calls per second
    and ``concurrency`` calls run at once. Benchmarks report a makespan against it.
    """
    counts = list(face_counts)
    if not counts:
        return 0.0
    total = sum(counts)
    return max(max(counts) * latency, total / tps if tps else 0.0, total * latency / concurrency)


# --- the run -------------------------------------------------------------------------------------


@attrs.define(eq=False)
class _PersonRun:
    """The state of one person while its images are enrolled."""

    name: str
    images: Iterable[ImageRef] | None = None  # known-up-front sources
    remaining: int = 0
    cursor: int = 0
    started: bool = False
    failed: Abort | None = None
    person_id: str = ""
    on_service: int = 0  # faces the person holds, ours and others'
    ambiguous: bool = False
    prefetch: asyncio.Future[tuple[bytes | str, bytes]] | None = None
    prefetch_index: int = -1
    turn: asyncio.Lock = attrs.field(factory=asyncio.Lock)  # streamed: one image at a time


class _Enrollment:
    def __init__(
        self,
        client: AsyncFaceClient,
        group_id: str,
        *,
        large: bool,
        journal: Journal,
        scheduler: PersonScheduler,
        train: bool,
        group_name: str | None,
        on_event: Callable[[EnrollEvent], object] | None,
        reconcile_grace: float,
        training_timeout: float,
    ) -> None:
        self.client = client
        self.group_id = group_id
        self.large = large
        self.journal = journal
        self.scheduler = scheduler
        self.train = train
        self.group_name = group_name or group_id
        self.on_event = on_event
        # enroll_iter's buffer: the run waits for the consumer when it is full.
        self.buffer = on_event if isinstance(on_event, _EventBuffer) else None
        self.grace = reconcile_grace
        self.training_timeout = training_timeout
        self.persons: PersonGroupPersonOperations | LargePersonGroupPersonOperations = (
            client.large_person_group_persons if large else client.person_group_persons
        )
        netloc = urlsplit(client.endpoint.base_url).netloc
        self.run = Journal.run_key(netloc, group_id, large)
        self.created = 0
        self.reused = 0
        self.added = 0
        self.skipped = 0
        self.failures: list[FaceFailure] = []
        self.reconciled = 0
        self.duplicates_removed = 0
        self.changed = False

    def key(self, pr: _PersonRun) -> tuple[str, str, str]:
        """The scheduler key of a person: :func:`person_key` once its id is known (so that
        writes from other code through a shared scheduler are serialized with ours), before
        that a key of its name in this enrollment (creating or finding it)."""
        if pr.person_id:
            return person_key(self.group_id, pr.person_id, large=self.large)
        return ("enroll", self.run, pr.name)

    def emit(self, event: EnrollEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    async def wait_for_consumer(self) -> None:
        """Under :func:`enroll_iter`, wait while its consumer is behind (back-pressure)."""
        if self.buffer is not None:
            await self.buffer.room.wait()

    def beyond_cap(self, exc: RateLimited) -> bool:
        """Whether the service asks for a wait longer than the client's policy allows."""
        delay = 1.0 if exc.retry_after is None else exc.retry_after
        return delay > self.client.retry_policy.max_server_delay

    async def unless_rate_limited(
        self, person: str, fn: Callable[..., Awaitable[_T]], /, *args: Any, **kwargs: Any
    ) -> _T:
        """Send a write again while the service answers 429 (the write was not processed).

        The client has already waited out the delays it may (its RetryPolicy, pausing every
        request to the endpoint) before raising RateLimited; the run then waits too, as long
        as the service's delay is within the same cap (``max_server_delay``), announcing each
        wait with :class:`RateLimitWait`. A longer delay, or 429s that keep coming, raise
        RateLimited: the run stops (the journal keeps its progress; run it again later).
        """
        for attempt in range(1, _MAX_RATE_LIMITED + 1):
            try:
                return await fn(*args, **kwargs)
            except RateLimited as exc:
                delay = 1.0 if exc.retry_after is None else exc.retry_after
                if self.beyond_cap(exc) or attempt == _MAX_RATE_LIMITED:
                    raise
                self.emit(RateLimitWait(person=person, seconds=delay, attempt=attempt))
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    # group and persons ---------------------------------------------------------------------

    async def ensure_group(self) -> None:
        groups = self.client.large_person_groups if self.large else self.client.person_groups
        try:
            await groups.get(self.group_id)
            return
        except NotFound:
            pass
        # Conflict: created meanwhile (or by our own retried PUT), so it exists.
        with contextlib.suppress(Conflict):
            await groups.create(self.group_id, name=self.group_name[:128])

    async def load_listing(self) -> None:
        """Record the group's persons in the journal (a TEMP table), a page at a time."""
        self.journal.clear_listed(self.run)
        self.journal.clear_parked(self.run)
        self.journal.clear_doubtful_persons(self.run)
        page: list[tuple[str, str, str | None, list[str]]] = []
        async for person in self.persons.iter(self.group_id):
            if person.name is not None:
                page.append(
                    (
                        person.name,
                        person.person_id,
                        person.user_data,
                        list(person.persisted_face_ids or ()),
                    )
                )
            if len(page) >= 1000:
                self.journal.add_listed(self.run, page)
                page = []
        if page:
            self.journal.add_listed(self.run, page)

    async def start_person(self, pr: _PersonRun) -> None:
        """Create or reuse the person and reconcile its faces with the journal."""
        pr.started = True
        recorded = self.journal.person(self.run, pr.name)
        existing = self.journal.take_listed(self.run, pr.name)
        chosen: ListedPerson | None = None
        if recorded is not None and recorded.person_id is not None:
            chosen = next((p for p in existing if p.person_id == recorded.person_id), None)
        if chosen is None and recorded is not None:
            marker = PERSON_PREFIX + recorded.token
            chosen = next((p for p in existing if p.user_data == marker), None)
        if chosen is None and existing:
            chosen = existing[0]
        if chosen is not None:
            chosen = await self.remove_twins(
                chosen,
                existing,
                decided=recorded is not None and chosen.person_id == recorded.person_id,
            )
            token = recorded.token if recorded is not None else uuid.uuid4().hex
            if recorded is None and chosen.user_data and chosen.user_data.startswith(PERSON_PREFIX):
                token = chosen.user_data[len(PERSON_PREFIX) :]
            self.journal.confirm_person(self.run, pr.name, token, chosen.person_id)
            pr.person_id = chosen.person_id
            self.reused += 1
            self.emit(PersonReused(person=pr.name, person_id=pr.person_id))
            await self.reconcile_person(pr, list(chosen.persisted_face_ids))
            return
        pr.person_id = await self.create_person(pr.name)
        self.created += 1
        self.changed = True
        self.emit(PersonCreated(person=pr.name, person_id=pr.person_id))

    async def remove_twins(
        self, chosen: ListedPerson, existing: list[ListedPerson], *, decided: bool
    ) -> ListedPerson:
        """Delete the persons created by the same (ambiguous, applied twice) create as
        ``chosen``: same name and same token. Keep the journal's person when it ``decided``,
        else the one holding the most faces; return the person kept."""
        marker = chosen.user_data
        if marker is None or not marker.startswith(PERSON_PREFIX):
            return chosen
        twins = [p for p in existing if p.user_data == marker]
        if not decided:
            chosen = max(twins, key=lambda p: len(p.persisted_face_ids))
        for twin in twins:
            if twin is not chosen:
                await self.delete_person(twin.person_id)
        return chosen

    async def delete_person(self, person_id: str) -> None:
        """Delete a duplicate of one of our persons (its faces, if any, are duplicates)."""
        with contextlib.suppress(PersonNotFound):
            await self.persons.delete(self.group_id, person_id)
            self.duplicates_removed += 1
            self.changed = True

    async def create_person(self, name: str) -> str:
        token = uuid.uuid4().hex
        marker = PERSON_PREFIX + token
        self.journal.intend_person(self.run, name, token)
        ambiguous = False
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            try:
                person = await self.unless_rate_limited(
                    name, self.persons.create, self.group_id, name=name, user_data=marker
                )
            except OutcomeUnknownError as exc:
                ambiguous = True
                self.reconciled += 1
                found = await self.find_person(name, marker)
                if found is None and _timed_out(exc) and self.grace > 0:
                    # A timed-out request may still be running at the service: look once more.
                    await asyncio.sleep(self.grace)
                    found = await self.find_person(name, marker)
                self.emit(OutcomeReconciled(person=name, source=None, applied=found is not None))
                if found is not None:
                    person = found
                elif attempt == _MAX_ATTEMPTS:
                    raise
                else:
                    continue
            self.journal.confirm_person(self.run, name, token, person.person_id)
            if ambiguous:
                # An earlier attempt may still be applied: checked when the run ends.
                self.journal.doubt_person(self.run, name)
            return person.person_id
        raise AssertionError("unreachable")

    async def check_persons(self) -> None:
        """Delete the late twins of persons whose create was ambiguous (same name and token
        as the journal's person, another id): the final check of persons."""
        if not self.journal.has_doubtful_persons(self.run):
            return
        async for listed in self.persons.iter(self.group_id):
            if listed.name is None or not self.journal.is_doubtful_person(self.run, listed.name):
                continue
            recorded = self.journal.person(self.run, listed.name)
            if (
                recorded is not None
                and listed.person_id != recorded.person_id
                and listed.user_data == PERSON_PREFIX + recorded.token
            ):
                await self.delete_person(listed.person_id)
        self.journal.clear_doubtful_persons(self.run)

    async def find_person(self, name: str, marker: str) -> Person | None:
        async for candidate in self.persons.iter(self.group_id):
            if candidate.name == name and candidate.user_data == marker:
                return candidate
        return None

    # faces --------------------------------------------------------------------------------

    async def reconcile_person(self, pr: _PersonRun, on_service: list[str]) -> None:
        """Align the journal with the person's faces on the service."""
        present = set(on_service)
        for fp, face in self.journal.faces(self.run, pr.name).items():
            if face.persisted_face_id is None and face.failure is None:
                # Sent by an interrupted run, outcome unknown: matched by fingerprint below if
                # it was applied; checked again when the person is done in case it lands late.
                pr.ambiguous = True
                self.journal.forget_face(self.run, pr.name, fp)
            elif face.persisted_face_id is not None and face.persisted_face_id not in present:
                # Confirmed earlier, gone now (deleted by someone): enroll it again.
                self.journal.forget_face(self.run, pr.name, fp)
        pr.on_service = len(present)
        await self.classify_unknown(pr, on_service)

    async def classify_unknown(self, pr: _PersonRun, on_service: list[str]) -> None:
        """Read the faces we do not know yet; record ours, delete late duplicates."""
        known = self.journal.known_face_ids(self.run, pr.name)
        for face_id in on_service:
            if face_id in known:
                continue
            try:
                face = await self.persons.get_face(self.group_id, pr.person_id, face_id)
            except PersistedFaceNotFound:
                continue
            fp = fingerprint_of(face.user_data)
            if fp is None:
                self.journal.add_foreign_face(self.run, pr.name, face_id)
                continue
            current = self.journal.face(self.run, pr.name, fp)
            if current is not None and current.persisted_face_id not in (None, face_id):
                await self.delete_duplicate(pr, face_id)
                continue
            self.journal.confirm_face(self.run, pr.name, fp, face_id, "(reconciled)")

    async def delete_duplicate(self, pr: _PersonRun, face_id: str) -> None:
        try:
            await self.persons.delete_face(self.group_id, pr.person_id, face_id)
        except PersistedFaceNotFound:
            return
        pr.on_service -= 1
        self.duplicates_removed += 1
        self.changed = True

    async def reconcile_face(self, pr: _PersonRun, fp: str, timed_out: bool) -> str | None:
        """After an ambiguous add: the face id carrying ``fp``, or None if it was not added.

        Raises ``Abort(OUTCOME_UNKNOWN)`` when the service cannot be read (5xx, 429, a
        transport failure): the face may be there, so its intent stays in the journal and the
        next run settles it.
        """
        self.reconciled += 1
        pr.ambiguous = True
        try:
            for check in range(2):
                person = await self.persons.get(self.group_id, pr.person_id)
                ids = list(person.persisted_face_ids or ())
                pr.on_service = len(ids)
                await self.classify_unknown(pr, ids)
                face = self.journal.face(self.run, pr.name, fp)
                if face is not None and face.persisted_face_id is not None:
                    return face.persisted_face_id
                if not timed_out or check == 1 or self.grace <= 0:
                    return None
                # A timed-out request may still be running at the service: look once more.
                await asyncio.sleep(self.grace)
        except (AuthenticationError, PermissionDenied, NotFound):
            raise  # the run cannot go on; a vanished person fails its images as before
        except RateLimited as exc:
            if self.beyond_cap(exc):
                raise  # stops the run, as in unless_rate_limited
            raise Abort(OUTCOME_UNKNOWN, f"could not check the outcome: {exc}") from exc
        except FaceError as exc:
            raise Abort(OUTCOME_UNKNOWN, f"could not check the outcome: {exc}") from exc
        return None

    async def add_face(self, pr: _PersonRun, payload: bytes | str, fp: str, source: str) -> str:
        self.journal.intend_face(self.run, pr.name, fp, source)
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            try:
                face = await self.unless_rate_limited(
                    pr.name,
                    self.persons.add_face,
                    self.group_id,
                    pr.person_id,
                    payload,
                    user_data=face_user_data(fp),
                )
                face_id: str = face.persisted_face_id
                pr.on_service += 1
            except (OutcomeUnknownError, ResponseError) as exc:
                if isinstance(exc, ResponseError) and not 200 <= exc.status < 300:
                    raise  # an error status: surely not applied
                # Ambiguous: no answer, or a 2xx we could not read (the face may be added).
                timed_out = isinstance(exc, OutcomeUnknownError) and _timed_out(exc)
                found = await self.reconcile_face(pr, fp, timed_out)
                if found is None and (attempt == _MAX_ATTEMPTS or isinstance(exc, ResponseError)):
                    # Not seen, yet it may still land (or the 2xx may be right): in doubt.
                    raise Abort(OUTCOME_UNKNOWN, str(exc)) from exc
                self.emit(
                    OutcomeReconciled(person=pr.name, source=source, applied=found is not None)
                )
                if found is None:
                    continue  # not seen: sent again
                face_id = found
            self.journal.confirm_face(self.run, pr.name, fp, face_id, source)
            return face_id
        raise AssertionError("unreachable")

    def fail(self, pr: _PersonRun, source: str, reason: str, detail: str) -> None:
        self.failures.append(
            FaceFailure(person=pr.name, source=source, reason=reason, detail=detail)
        )
        self.emit(FaceFailed(person=pr.name, source=source, reason=reason, detail=detail))

    async def process_image(self, pr: _PersonRun, image: ImageRef, index: int) -> bool:
        """Enroll one image of a started person; True when a write was sent."""
        source = source_label(pr.name, image, index)
        if pr.failed is not None:
            self.fail(pr, source, pr.failed.reason, pr.failed.detail)
            return False
        try:
            read, pr.prefetch = pr.prefetch, None
            if read is not None and pr.prefetch_index == index:
                payload, hashed = await read
            else:
                if read is not None:
                    read.cancel()
                payload, hashed = await load(image)
        except OSError as exc:
            self.fail(pr, source, UNREADABLE, f"{type(exc).__name__}: {exc.strerror or exc}")
            return False
        fp = fingerprint(hashed)
        recorded = self.journal.face(self.run, pr.name, fp)
        if recorded is not None and recorded.persisted_face_id is not None:
            self.skipped += 1
            self.emit(FaceSkipped(person=pr.name, source=source, reason="already_enrolled"))
            return False
        if recorded is not None and recorded.failure is not None:
            self.fail(pr, source, recorded.failure, "rejected earlier; not sent again")
            return False
        try:
            if isinstance(payload, bytes):
                check_bytes(payload)
            if pr.on_service >= MAX_FACES_PER_PERSON:
                raise Abort(FACE_LIMIT, f"the person already holds {pr.on_service} faces")
            try:
                face_id = await self.add_face(pr, payload, fp, source)
            except QuotaExceeded as exc:
                if pr.on_service >= MAX_FACES_PER_PERSON or "face" in exc.message.lower():
                    raise Abort(FACE_LIMIT, exc.message) from exc
                raise
            except (AuthenticationError, PermissionDenied, RateLimited):
                raise  # the run cannot go on (RateLimited: see unless_rate_limited)
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
            self.fail(pr, source, exc.reason, exc.detail)
            return True
        self.added += 1
        self.changed = True
        self.emit(FaceAdded(person=pr.name, source=source, persisted_face_id=face_id))
        return True

    async def ensure_started(self, pr: _PersonRun) -> None:
        if pr.started:
            return
        try:
            await self.start_person(pr)
        except FaceValidationError as exc:
            pr.failed = Abort(INVALID_PERSON, str(exc))

    async def finish_person(self, pr: _PersonRun) -> None:
        if pr.ambiguous and pr.failed is None:
            # Catch a request the service applied after we had looked (a late duplicate).
            person = await self.persons.get(self.group_id, pr.person_id)
            await self.classify_unknown(pr, list(person.persisted_face_ids or ()))
        if pr.prefetch is not None:
            pr.prefetch.cancel()
            pr.prefetch = None

    # the two ways to run ----------------------------------------------------------------------

    async def run_planned(self, plan: list[tuple[str, list[ImageRef]]]) -> None:
        """Known-up-front work: the person with the most images left goes first (LRPT)."""
        todo = sorted(
            (_PersonRun(name=name, images=images, remaining=len(images)) for name, images in plan),
            key=lambda pr: -pr.remaining,
        )
        seq = itertools.count()
        # Max-heap of persons with images left that no worker holds, by images left.
        ready: list[tuple[int, int, _PersonRun]] = []
        next_new = 0
        busy = 0
        changed = asyncio.Event()

        reads: set[asyncio.Future[tuple[bytes | str, bytes]]] = set()

        def peek() -> _PersonRun | None:
            if next_new < len(todo) and (not ready or todo[next_new].remaining >= -ready[0][0]):
                return todo[next_new]
            return ready[0][2] if ready else None

        def take() -> _PersonRun | None:
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

        def prefetch(pr: _PersonRun | None) -> None:
            # Read the image of the person that goes next while the current calls run, so
            # that the chain of calls of a person is not stretched by file reads.
            if pr is None or pr.prefetch is not None or len(reads) >= len(workers):
                return
            images = pr.images
            if not isinstance(images, list) or pr.cursor >= len(images):
                return
            if not isinstance(images[pr.cursor], os.PathLike | str):
                return  # already in memory
            read = asyncio.ensure_future(load(images[pr.cursor]))
            reads.add(read)
            read.add_done_callback(reads.discard)
            pr.prefetch, pr.prefetch_index = read, pr.cursor

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
                    await self.wait_for_consumer()
                    images = pr.images
                    assert isinstance(images, list)
                    sent = False
                    if not pr.started:
                        # Creating or finding the person, under the key of its name.
                        async with self.scheduler.hold(self.key(pr), priority=pr.remaining):
                            before = self.client.stats.requests
                            await self.ensure_started(pr)
                            # A call (create, reconcile) takes the turn: calls are paced.
                            sent = self.client.stats.requests != before
                    if not sent:
                        # Its faces, under person_key() now that its id is known.
                        async with self.scheduler.hold(self.key(pr), priority=pr.remaining):
                            # Images needing no call (already enrolled) do not end the turn.
                            while not sent and pr.cursor < len(images):
                                image = images[pr.cursor]
                                pr.cursor += 1
                                pr.remaining -= 1
                                sent = await self.process_image(pr, image, pr.cursor - 1)
                            if pr.cursor >= len(images):
                                await self.finish_person(pr)
                                pr.images = None
                finally:
                    busy -= 1
                if pr.images is not None:
                    heapq.heappush(ready, (-pr.remaining, next(seq), pr))
                changed.set()

        workers = [worker() for _ in range(self.scheduler.max_concurrency)]
        try:
            await _gather_all(workers)
        finally:
            for read in list(reads):
                read.cancel()
            await asyncio.gather(*reads, return_exceptions=True)

    def park(self, pr: _PersonRun) -> None:
        """Move a started person none of whose images is in progress to the journal."""
        self.journal.park(ParkedPerson(
            name=pr.name, person_id=pr.person_id, cursor=pr.cursor, on_service=pr.on_service,
            ambiguous=pr.ambiguous, failure=pr.failed.reason if pr.failed else None,
            detail=pr.failed.detail if pr.failed else None,
        ), self.run)  # fmt: skip

    def unpark(self, name: str) -> _PersonRun:
        """The person called ``name``: as parked when started earlier in this run, else new."""
        parked = self.journal.parked(self.run, name)
        if parked is None:
            return _PersonRun(name=name)
        return _PersonRun(
            name=name, started=True, person_id=parked.person_id, cursor=parked.cursor,
            on_service=parked.on_service, ambiguous=parked.ambiguous,
            failed=None if parked.failure is None else Abort(parked.failure, parked.detail or ""),
        )  # fmt: skip

    async def run_streamed(self, pairs: AsyncIterator[tuple[str, ImageRef]]) -> None:
        """Streamed work: images in source order, serialized per person, lazily read.

        Only persons with an image in progress (at most ``4 * max_concurrency``) are in
        memory; the others are parked in the journal, so memory does not grow with the number
        of persons or images. Persons whose writes were ambiguous are checked at the end.
        """
        runs: dict[str, _PersonRun] = {}  # persons with an image in progress
        window = asyncio.Semaphore(4 * self.scheduler.max_concurrency)
        tasks: set[asyncio.Task[None]] = set()
        failure: list[BaseException] = []

        async def one(pr: _PersonRun, image: ImageRef, index: int) -> None:
            try:
                # The person's images in source order (asyncio.Lock is FIFO), holding no
                # scheduler slot while waiting; then its scheduler key for each call.
                async with pr.turn:
                    await self.wait_for_consumer()
                    if not pr.started:
                        async with self.scheduler.hold(self.key(pr)):
                            await self.ensure_started(pr)
                    async with self.scheduler.hold(self.key(pr)):
                        await self.process_image(pr, image, index)
                    pr.remaining -= 1
                    if pr.remaining == 0 and runs.get(pr.name) is pr:
                        # No other image of the person is queued: park it (synchronously, so
                        # the producer either sees it here or finds it parked).
                        self.park(pr)
                        del runs[pr.name]
            except BaseException as exc:  # re-raised by the producer below
                failure.append(exc)
            finally:
                window.release()

        try:
            async for name, image in pairs:
                if failure:
                    break
                pr = runs.get(name)
                if pr is None:
                    pr = runs[name] = self.unpark(name)
                index = pr.cursor
                pr.cursor += 1
                pr.remaining += 1
                await window.acquire()
                task = asyncio.ensure_future(one(pr, image, index))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks)
            for exc in failure:
                raise exc
            name = ""
            while (parked := self.journal.parked_ambiguous(self.run, name)) is not None:
                name = parked.name
                pr = self.unpark(name)
                if pr.failed is None:
                    async with self.scheduler.hold(self.key(pr)):
                        await self.finish_person(pr)
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

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
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            try:
                await groups.train(self.group_id)
                break
            except OutcomeUnknownError:
                # Training again trains the same data: re-sending is harmless.
                if attempt == _MAX_ATTEMPTS:
                    raise
            except Conflict:
                await self.wait_training(groups)
        final = await self.wait_training(groups)
        text = _status_text(final.status)
        self.emit(TrainingFinished(group_id=self.group_id, status=text))
        return True, text


def _timed_out(exc: OutcomeUnknownError) -> bool:
    return isinstance(exc.cause, FaceTimeoutError | asyncio.TimeoutError)


def _status_text(status: object) -> str:
    value = getattr(status, "value", status)
    return str(value)


async def _gather_all(coros: list[Any]) -> None:
    """Run coroutines; on the first failure cancel the others and raise it."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


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
    on_event: Callable[[EnrollEvent], object] | None = None,
    reconcile_grace: float = 1.0,
    training_timeout: float = 600.0,
) -> EnrollReport:
    """Enroll persons and their face images into a (large) person group, exactly once.

    ``source`` is a mapping person name -> images, an (async) iterable of (person, image)
    pairs, or a folder ``root/<person name>/*.{jpg,jpeg,png,gif,bmp}``; an image is bytes, a
    ``pathlib.Path`` (or a str path) or an http(s) URL, read only when it is sent. Creates the
    group when missing, creates or reuses persons by name, adds faces (at most
    ``max_concurrency`` writes at once, one at a time per person, persons with the most images
    left first when the source is known up front), then trains and waits unless ``train`` is
    false. Writes are paced at ``tps`` per second (default: the client's TPS limit) in that
    same order, so the longest chain never queues behind the others at the client's gate.
    ``journal`` (a path or a :class:`Journal`) makes the run resumable: run it again after an
    interruption and it continues (without one, a private temporary file is used: exactly-once
    within the run, no resume). ``on_event`` receives progress events, synchronously: an
    exception it raises stops the run and is raised here (a bug in it must not go unseen); the
    journal stays consistent (each event follows the record it reports), so a rerun continues.

    A bad image never aborts the run: it is reported in ``EnrollReport.failures`` (reason
    ``outcome_unknown`` when the face may have been added: the journal keeps it in doubt and
    the next run settles it). A 429 is waited out (a :class:`RateLimitWait` event each time)
    while the service's Retry-After is within the client's ``RetryPolicy.max_server_delay``;
    a longer one raises RateLimited and stops the run at once (the journal keeps the progress:
    run it again later). Raises AuthenticationError, PermissionDenied (e.g. the subscription
    quota), RateLimited, NotFound when the group disappears, TrainingFailed/TrainingTimeout,
    and FaceValidationError for a bad ``source`` or ``max_concurrency``.
    """
    if scheduler is None and max_concurrency < 1:
        raise FaceValidationError("max_concurrency must be >= 1", parameter="max_concurrency")
    if scheduler is None:
        if tps is None:
            gate = getattr(client.endpoint, "gate", None)
            tps = getattr(gate, "tps", None)
        scheduler = PersonScheduler(max_concurrency, tps=tps)
    own_journal = not isinstance(journal, Journal)
    # No journal: a private temporary file (not :memory:), so that per-image records are
    # not held in memory; sqlite keeps a bounded page cache.
    db = journal if isinstance(journal, Journal) else Journal(journal or "")
    stats = client.stats
    calls0, retries0, limited0 = stats.requests, stats.retries, stats.rate_limited
    started = time.monotonic()
    job = _Enrollment(
        client, group_id, large=large, journal=db, scheduler=scheduler, train=train,
        group_name=group_name, on_event=on_event, reconcile_grace=reconcile_grace,
        training_timeout=training_timeout,
    )  # fmt: skip
    try:
        plan: list[tuple[str, list[ImageRef]]] | None
        if isinstance(source, str | os.PathLike):
            plan = await asyncio.to_thread(plan_folder, Path(source))
        elif isinstance(source, Mapping):
            plan = [(str(name), image_list(images)) for name, images in source.items()]
        else:
            plan = None
        await job.ensure_group()
        await job.load_listing()
        if plan is not None:
            job.emit(
                EnrollStarted(
                    group_id=group_id,
                    persons=len(plan),
                    images=sum(len(images) for _, images in plan),
                )
            )
            await job.run_planned(plan)
        else:
            job.emit(EnrollStarted(group_id=group_id, persons=None, images=None))
            await job.run_streamed(source_pairs(source))  # type: ignore[arg-type]
        await job.check_persons()
        trained, status = await job.train_group() if train else (False, None)
    finally:
        if own_journal:
            db.close()
    return EnrollReport(
        group_id=group_id,
        large=large,
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
        elapsed=time.monotonic() - started,
        trained=trained,
        training_status=status,
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
    client: AsyncFaceClient, group_id: str, source: EnrollSource, **options: Any
) -> AsyncIterator[EnrollEvent]:
    """:func:`enroll` as an async iterator of its events, ending with :class:`EnrollFinished`.

    Takes the same arguments as :func:`enroll` (except ``on_event``) and raises what it raises.
    A slow consumer slows the enrollment: a bounded number of events is buffered, then the run
    waits for the loop to catch up. Leaving the loop early cancels the enrollment (the journal
    keeps what was confirmed).
    """
    buffer = _EventBuffer(_ITER_BACKLOG)
    task = asyncio.ensure_future(enroll(client, group_id, source, on_event=buffer, **options))
    task.add_done_callback(lambda _: buffer(None))
    try:
        while (event := await buffer.get()) is not None:
            yield event
        yield EnrollFinished(report=task.result())
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
