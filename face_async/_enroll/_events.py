"""The progress events and the report of :func:`face_async.enroll` (re-exported there)."""

from __future__ import annotations

import attrs

__all__ = [
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
    "TrainingFinished",
    "TrainingStarted",
    "WaitingForLateWrites",
]


@attrs.frozen(kw_only=True)
class EnrollEvent:
    """Base class of the progress events of :func:`enroll`.

    ``target``: 0 for the enrollment's own (client, group_id); ``i`` for ``targets[i - 1]``
    of a fan-out.
    """

    target: int = 0


@attrs.frozen(kw_only=True)
class EnrollStarted(EnrollEvent):
    """The work is planned; ``persons``/``images`` are None for a streamed source."""

    group_id: str
    persons: int | None
    images: int | None


@attrs.frozen(kw_only=True)
class PersonCreated(EnrollEvent):
    """A person was created in this run."""

    person: str
    person_id: str


@attrs.frozen(kw_only=True)
class PersonReused(EnrollEvent):
    """A person of that name already existed (from an earlier run or another tool)."""

    person: str
    person_id: str


@attrs.frozen(kw_only=True)
class FaceAdded(EnrollEvent):
    """The service confirmed a face, and the journal recorded it."""

    person: str
    source: str
    persisted_face_id: str


@attrs.frozen(kw_only=True)
class FaceSkipped(EnrollEvent):
    """Nothing to send: ``already_enrolled`` (by an earlier run, or the same image twice)."""

    person: str
    source: str
    reason: str


@attrs.frozen(kw_only=True)
class FaceFailed(EnrollEvent):
    """An image was not enrolled; ``reason`` is one of the documented reason strings."""

    person: str
    source: str
    reason: str
    detail: str


@attrs.frozen(kw_only=True)
class OutcomeReconciled(EnrollEvent):
    """An ambiguous write was checked against the service: ``applied`` or not (re-sent)."""

    person: str
    source: str | None
    applied: bool


@attrs.frozen(kw_only=True)
class WaitingForLateWrites(EnrollEvent):
    """Writes whose outcome was unknown may still be applied by the service: the run waits
    ``seconds`` (until ``late_write_window`` has passed since the last of them was sent), then
    verifies the ``persons`` concerned and removes what landed twice."""

    seconds: float
    persons: int


@attrs.frozen(kw_only=True)
class TrainingStarted(EnrollEvent):
    """Training of the group was queued."""

    group_id: str


@attrs.frozen(kw_only=True)
class TrainingFinished(EnrollEvent):
    """Training ended with ``status`` ("succeeded", or "skipped" when nothing changed)."""

    group_id: str
    status: str


@attrs.frozen(kw_only=True)
class FaceFailure:
    """One image that was not enrolled and why."""

    person: str
    source: str
    reason: str
    detail: str


@attrs.frozen(kw_only=True)
class EnrollReport:
    """What an enrollment did.

    ``faces_skipped`` counts images already enrolled (or duplicates); ``retries`` and
    ``rate_limited`` come from ``client.stats`` (re-sent attempts, 429s seen); ``reconciled``
    counts ambiguous writes checked against the service, ``duplicates_removed`` late
    duplicates deleted (faces, and persons created twice by an ambiguous create); ``calls``
    counts HTTP attempts of the run; ``settle_wait`` the seconds spent waiting for writes that
    could still land (see :class:`WaitingForLateWrites`). ``replicas``: in a fan-out, the
    report of each of ``targets``, in order (their ``calls`` count the client each uses).
    """

    group_id: str
    large: bool
    persons_created: int
    persons_reused: int
    faces_added: int
    faces_skipped: int
    faces_failed: int
    failures: tuple[FaceFailure, ...]
    reconciled: int
    duplicates_removed: int
    retries: int
    rate_limited: int
    calls: int
    elapsed: float
    trained: bool
    training_status: str | None
    settle_wait: float = 0.0
    replicas: tuple[EnrollReport, ...] = ()

    @property
    def calls_per_second(self) -> float:
        """HTTP attempts per second over the run."""
        return self.calls / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def ok(self) -> bool:
        """True when no image failed (in this group and in every replica)."""
        return self.faces_failed == 0 and all(replica.ok for replica in self.replicas)


@attrs.frozen(kw_only=True)
class EnrollFinished(EnrollEvent):
    """The last event of :func:`enroll_iter`: the enrollment's report."""

    report: EnrollReport
