"""The exactly-once protocol of :func:`face_async.enroll` (see docs/enrollment.md).

Persons carry ``face-async:v1:person:<token>`` in their userData, the token derived from the
group and the person's name (or the one an earlier journal recorded), so every run recognises
the twins an ambiguous create left. Faces carry ``face-async:v1:<fingerprint>``. After an
ambiguous write the person is read back and matched by marker; a write that was not seen may
still be applied up to ``late_write_window`` seconds after it was sent, so the person is
verified once more after that window (:meth:`ExactlyOnce.settle`), and what landed twice is
deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import attrs

from face_async._enroll._events import (
    EnrollEvent,
    OutcomeReconciled,
    PersonCreated,
    PersonReused,
    WaitingForLateWrites,
)
from face_async._enroll._journal import Journal, JournalFace, ListedPerson
from face_async._enroll._sources import (
    OUTCOME_UNKNOWN,
    PERSON_PREFIX,
    Abort,
    ImageRef,
    face_user_data,
    fingerprint_of,
)
from face_async._errors import (
    APIError,
    AuthenticationError,
    FaceError,
    NotFound,
    OutcomeUnknownError,
    PermissionDenied,
    PersistedFaceNotFound,
    PersonNotFound,
)
from face_async._http._loop_share import loop_share

if TYPE_CHECKING:
    from face_async._client import AsyncFaceClient
    from face_async._models import Person
    from face_async._resources import (
        LargePersonGroupPersonOperations,
        PersonGroupPersonOperations,
    )

__all__ = ["ExactlyOnce", "PersonRun", "person_token"]

# Sends of one write after checking it was not applied (each check reads the person).
MAX_SENDS = 5
# How long after its intent a send of an interrupted run may still have been in the client
# (queued at the gate, waiting out 429s): beyond this, the intent's time is used as is.
_RECENT = 600.0


def person_token(group_id: str, name: str, *, large: bool) -> str:
    """The token of a person's userData marker: derived from the group and the name, so
    that a run without a journal recognises the twins of an earlier ambiguous create."""
    text = f"{'large' if large else 'pg'}|{group_id}|{name}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def may_land_late(exc: OutcomeUnknownError) -> bool:
    """Whether an ambiguous write may still be applied after it was seen missing: when no
    answer came (a timeout, a reset after sending) or a gateway answered for a backend that
    may still be working (502, 504). The service's own error answer (408, 500, 503) ends
    its processing of the request."""
    return exc.status is None or exc.status in (502, 504)


@attrs.define(eq=False)
class PersonRun:
    """The state of one person while its images are enrolled."""

    name: str
    images: list[ImageRef] | None = None  # known-up-front sources
    remaining: int = 0
    cursor: int = 0
    started: bool = False
    failed: Abort | None = None
    person_id: str = ""
    on_service: int = 0  # faces the person holds, ours and others'
    prefetch: asyncio.Future[tuple[bytes | str, str]] | None = None
    prefetch_index: int = -1
    queue: deque[tuple[ImageRef, int]] = attrs.field(factory=deque)  # streamed sources


@attrs.define
class _Unsettled:
    """A person with a write that may still land: verify it after ``deadline`` (wall clock)."""

    person_id: str
    deadline: float


class ExactlyOnce:
    """Persons and faces written exactly once, with the journal and the service agreeing."""

    def __init__(
        self,
        client: AsyncFaceClient,
        group_id: str,
        *,
        large: bool,
        journal: Journal,
        run: str,
        window: float,
        detection_model: str,
        on_event: Callable[[EnrollEvent], object] | None,
    ) -> None:
        self.client = client
        self.group_id = group_id
        self.large = large
        self.journal = journal
        self.run = run
        self.window = window
        self.detection_model = detection_model
        self.on_event = on_event
        self.persons: PersonGroupPersonOperations | LargePersonGroupPersonOperations = (
            client.large_person_group_persons if large else client.person_group_persons
        )
        self.unsettled: dict[str, _Unsettled] = {}
        self.created = 0
        self.reused = 0
        self.reconciled = 0
        self.duplicates_removed = 0
        self.settle_wait = 0.0
        self.changed = False
        self.target = 0  # the index of this group in a fan-out (EnrollEvent.target)
        self.share = loop_share()  # the run's steps, spread over loop iterations

    def emit(self, event: EnrollEvent) -> None:
        if self.on_event is not None:
            if self.target:
                event = attrs.evolve(event, target=self.target)
            self.on_event(event)

    def doubt(self, name: str, person_id: str, since: float) -> None:
        """A write of the person may still be applied up to ``window`` seconds after
        ``since`` (when the client gave up on it): verify the person after that."""
        deadline = since + self.window
        entry = self.unsettled.get(name)
        if entry is None:
            self.unsettled[name] = _Unsettled(person_id, deadline)
        else:
            entry.person_id = person_id or entry.person_id
            entry.deadline = max(entry.deadline, deadline)

    def earlier(self, sent_at: float) -> float:
        """When a send recorded by an earlier run may have been given up: that run ended
        at most now (it may have been killed while the client was still retrying or
        queueing it), unless the record is long past any window."""
        now = time.time()
        return now if now - sent_at < self.window + _RECENT else sent_at

    # persons --------------------------------------------------------------------------------

    async def load_listing(self) -> None:
        """Record the group's persons in the journal (a TEMP table), a page at a time."""
        self.journal.clear_run(self.run)
        page: list[tuple[str, str, str | None, list[str]]] = []
        async for person in self.persons.iter(self.group_id):
            if person.name is not None:
                ids = list(person.persisted_face_ids or ())
                page.append((person.name, person.person_id, person.user_data, ids))
            if len(page) >= 1000:
                self.journal.add_listed(self.run, page)
                page = []
        if page:
            self.journal.add_listed(self.run, page)

    async def start_person(self, pr: PersonRun) -> None:
        """Create or reuse the person (merging twins) and reconcile its faces."""
        pr.started = True
        recorded = await self.journal.person(self.run, pr.name)
        existing = await self.journal.take_listed(self.run, pr.name)
        token = (
            recorded.token
            if recorded is not None
            else person_token(self.group_id, pr.name, large=self.large)
        )
        marker = PERSON_PREFIX + token
        if recorded is not None and recorded.sent_at is not None:
            # A create of an earlier run may still land: a twin to look for later.
            self.doubt(pr.name, "", self.earlier(recorded.sent_at))
        chosen = _choose(existing, recorded.person_id if recorded else None, marker)
        if chosen is None:
            await self.create_person(pr, token)
            return
        for twin in existing:
            if twin is not chosen and twin.user_data == marker:
                await self.delete_person(twin.person_id)
        if recorded is None and chosen.user_data and chosen.user_data.startswith(PERSON_PREFIX):
            token = chosen.user_data[len(PERSON_PREFIX) :]
        settled = pr.name not in self.unsettled
        self.journal.confirm_person(self.run, pr.name, token, chosen.person_id, settled=settled)
        pr.person_id = chosen.person_id
        if not settled:
            self.unsettled[pr.name].person_id = chosen.person_id
        self.reused += 1
        self.emit(PersonReused(person=pr.name, person_id=pr.person_id))
        await self.reconcile_person(pr, list(chosen.persisted_face_ids))

    async def delete_person(self, person_id: str) -> None:
        """Delete a twin of one of our persons (its faces, if any, are enrolled again)."""
        with contextlib.suppress(PersonNotFound):
            await self.persons.delete(self.group_id, person_id)
            self.duplicates_removed += 1
            self.changed = True

    async def create_person(self, pr: PersonRun, token: str) -> None:
        marker = PERSON_PREFIX + token
        doubt_sent: float | None = None
        for send in range(1, MAX_SENDS + 1):
            sent_at = time.time()
            # Recorded (committed) before the request leaves: a rerun reuses the token.
            await self.journal.intend_person(self.run, pr.name, token, sent_at)
            try:
                person = await self.persons.create(self.group_id, name=pr.name, user_data=marker)
            except OutcomeUnknownError as exc:
                failed_at = time.time()
                self.reconciled += 1
                found = await self.find_person(pr.name, marker)
                self.emit(OutcomeReconciled(person=pr.name, source=None, applied=found is not None))
                if found is None:
                    if may_land_late(exc):
                        doubt_sent = failed_at  # it may still land: a twin
                    if send == MAX_SENDS:
                        self.doubt(pr.name, "", failed_at)
                        raise
                    continue
                person = found
            break
        pr.person_id = person.person_id
        self.journal.confirm_person(
            self.run, pr.name, token, person.person_id, settled=doubt_sent is None
        )
        if doubt_sent is not None:
            self.doubt(pr.name, person.person_id, doubt_sent)
        self.created += 1
        self.changed = True
        self.emit(PersonCreated(person=pr.name, person_id=pr.person_id))

    async def find_person(self, name: str, marker: str) -> Person | None:
        async for candidate in self.persons.iter(self.group_id):
            if candidate.name == name and candidate.user_data == marker:
                return candidate
        return None

    # faces ----------------------------------------------------------------------------------

    async def reconcile_person(self, pr: PersonRun, on_service: list[str]) -> None:
        """Align the journal with the person's faces on the service."""
        present = set(on_service)
        in_doubt: dict[str, JournalFace] = {}
        for fp, face in (await self.journal.faces(self.run, pr.name)).items():
            if face.persisted_face_id is None and face.failure is None:
                # Sent by an interrupted run, outcome unknown: matched by fingerprint below.
                in_doubt[fp] = face
            elif face.persisted_face_id is not None and face.persisted_face_id not in present:
                # Confirmed earlier, gone now (deleted by someone): enroll it again.
                self.journal.forget_face(self.run, pr.name, fp)
            elif face.sent_at is not None:
                # Confirmed after a send that was not seen: that one may still land.
                self.doubt(pr.name, pr.person_id, self.earlier(face.sent_at))
        pr.on_service = len(present)
        await self.classify_unknown(pr, on_service)
        if not in_doubt:
            return
        after = await self.journal.faces(self.run, pr.name)
        for fp, face in in_doubt.items():
            found = after.get(fp)
            since = self.earlier(face.sent_at if face.sent_at is not None else 0.0)
            if found is not None and found.persisted_face_id is not None:
                if face.doubtful:  # another of its sends may still land
                    self.doubt(pr.name, pr.person_id, since)
                else:  # its only send landed
                    self.journal.confirm_face(
                        self.run, pr.name, fp, found.persisted_face_id, found.source, settled=True
                    )
            else:
                # Not there (yet): sent again; if the first lands late, the final check
                # removes it.
                self.journal.forget_face(self.run, pr.name, fp)
                self.doubt(pr.name, pr.person_id, since)

    async def classify_unknown(self, pr: PersonRun, on_service: Iterable[str]) -> None:
        """Read the faces we do not know yet; record ours, delete those that landed twice."""
        known = await self.journal.known_face_ids(self.run, pr.name)
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
            current = await self.journal.face(self.run, pr.name, fp)
            if current is not None and current.persisted_face_id not in (None, face_id):
                await self.delete_duplicate(pr, face_id)
                continue
            self.journal.confirm_face(self.run, pr.name, fp, face_id, "(reconciled)", settled=False)
            known.add(face_id)

    async def delete_duplicate(self, pr: PersonRun, face_id: str) -> None:
        try:
            await self.persons.delete_face(self.group_id, pr.person_id, face_id)
        except PersistedFaceNotFound:
            return
        pr.on_service -= 1
        self.duplicates_removed += 1
        self.changed = True

    async def reconcile_face(self, pr: PersonRun, fp: str) -> str | None:
        """After an ambiguous add: the face id carrying ``fp``, or None if it is not there.

        Raises ``Abort(OUTCOME_UNKNOWN)`` when the service cannot be read (the face may be
        there: its intent stays in the journal and the next run settles it).
        """
        self.reconciled += 1
        try:
            person = await self.persons.get(self.group_id, pr.person_id)
            ids = list(person.persisted_face_ids or ())
            pr.on_service = len(ids)
            await self.classify_unknown(pr, ids)
        except (AuthenticationError, PermissionDenied, NotFound):
            raise  # the run cannot go on; a vanished person fails its images
        except FaceError as exc:
            detail = f"could not check the outcome: {exc}"
            raise Abort(OUTCOME_UNKNOWN, detail, unchecked=True) from exc
        face = await self.journal.face(self.run, pr.name, fp)
        return None if face is None else face.persisted_face_id

    async def add_face(self, pr: PersonRun, payload: bytes | str, fp: str, source: str) -> str:
        """Add the face once; the intent is in the journal. Raises what the client raises
        (``Abort(OUTCOME_UNKNOWN)`` when its outcome could not be settled)."""
        doubt_sent: float | None = None
        for send in range(1, MAX_SENDS + 1):
            if send > 1:
                await self.journal.intend_face(
                    self.run, pr.name, fp, source, time.time(), doubtful=doubt_sent is not None
                )
            try:
                face = await self.persons.add_face(
                    self.group_id, pr.person_id, payload, user_data=face_user_data(fp),
                    detection_model=self.detection_model,
                )  # fmt: skip
                face_id: str = face.persisted_face_id
                pr.on_service += 1
            except APIError:
                if doubt_sent is None:
                    # The service's answer: not applied, and no earlier send may land.
                    self.journal.forget_face(self.run, pr.name, fp)
                else:
                    self.doubt(pr.name, pr.person_id, doubt_sent)
                raise
            except OutcomeUnknownError as exc:
                failed_at = time.time()
                try:
                    found = await self.reconcile_face(pr, fp)
                except Abort:
                    self.doubt(pr.name, pr.person_id, failed_at)
                    raise
                self.emit(OutcomeReconciled(person=pr.name, source=source, applied=bool(found)))
                if found is None:
                    if may_land_late(exc):
                        doubt_sent = failed_at  # not seen yet: it may still land
                    if send == MAX_SENDS:
                        self.doubt(pr.name, pr.person_id, failed_at)
                        raise Abort(OUTCOME_UNKNOWN, str(exc)) from exc
                    continue
                face_id = found
            settled = doubt_sent is None
            self.journal.confirm_face(self.run, pr.name, fp, face_id, source, settled=settled)
            if not settled:
                assert doubt_sent is not None
                self.doubt(pr.name, pr.person_id, doubt_sent)
            return face_id
        raise AssertionError("unreachable")

    # the final verification -----------------------------------------------------------------

    async def settle(self) -> None:
        """Wait until every write that may still land has had ``window`` seconds, then verify
        the persons concerned: delete twins (same token, not the journal's id) and faces
        whose fingerprint is already recorded under another id."""
        if not self.unsettled:
            return
        wait = max(entry.deadline for entry in self.unsettled.values()) - time.time()
        if wait > 0:
            self.emit(WaitingForLateWrites(seconds=wait, persons=len(self.unsettled)))
            self.settle_wait += wait
            await asyncio.sleep(wait)
        pending = self.unsettled
        self.unsettled = {}
        by_name: dict[str, list[Person]] = {}
        async for listed in self.persons.iter(self.group_id):
            if listed.name is not None and listed.name in pending:
                by_name.setdefault(listed.name, []).append(listed)
        for name in sorted(pending):
            recorded = await self.journal.person(self.run, name)
            if recorded is None or recorded.person_id is None:
                continue  # never created (its create failed for good): nothing to verify
            marker = PERSON_PREFIX + recorded.token
            kept: Person | None = None
            for listed in by_name.get(name, []):
                if listed.person_id == recorded.person_id:
                    kept = listed
                elif listed.user_data == marker:
                    await self.delete_person(listed.person_id)
            if kept is not None:
                pr = PersonRun(name=name, started=True, person_id=kept.person_id)
                ids = list(kept.persisted_face_ids or ())
                pr.on_service = len(ids)
                await self.classify_unknown(pr, ids)
            self.journal.settle_person(self.run, name)


def _choose(
    existing: list[ListedPerson], recorded_id: str | None, marker: str
) -> ListedPerson | None:
    """The person to keep among those of one name: the journal's, else our marker's with
    the most faces (the first listed on a tie), else the first listed (created by others)."""
    if recorded_id is not None:
        for person in existing:
            if person.person_id == recorded_id:
                return person
    ours = [p for p in existing if p.user_data == marker]
    if ours:
        return max(ours, key=lambda p: len(p.persisted_face_ids))
    return existing[0] if existing else None
