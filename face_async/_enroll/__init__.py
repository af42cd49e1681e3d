"""Bulk enrollment: exactly-once, resumable, per-person serialized, longest chain first.

A module per part: ``_events`` (progress events and the report), ``_sources`` (what is
enrolled: sources, images, fingerprints, failure reasons), ``_protocol`` (the exactly-once
protocol: reconciliation, person twins, the final verification), ``_planned`` and
``_streamed`` (the two ways to order the work), ``_run`` (:func:`enroll`, :func:`enroll_iter`),
``_journal`` (the sqlite3 journal on its worker thread) and ``_scheduler`` (per-person
serialization). docs/enrollment.md explains the design.
"""

from __future__ import annotations

from face_async._enroll._events import (
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
    TrainingFinished,
    TrainingStarted,
    WaitingForLateWrites,
)
from face_async._enroll._journal import Journal, JournalBusy, default_journal_path
from face_async._enroll._run import MAX_FACES_PER_PERSON, EnrollTarget, enroll, enroll_iter
from face_async._enroll._scheduler import PersonScheduler, face_list_key, person_key
from face_async._enroll._sources import IMAGE_SUFFIXES, fingerprint, shard_of

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_FACES_PER_PERSON",
    "EnrollEvent",
    "EnrollFinished",
    "EnrollReport",
    "EnrollStarted",
    "EnrollTarget",
    "FaceAdded",
    "FaceFailed",
    "FaceFailure",
    "FaceSkipped",
    "Journal",
    "JournalBusy",
    "OutcomeReconciled",
    "PersonCreated",
    "PersonReused",
    "PersonScheduler",
    "TrainingFinished",
    "TrainingStarted",
    "WaitingForLateWrites",
    "default_journal_path",
    "enroll",
    "enroll_iter",
    "face_list_key",
    "fingerprint",
    "person_key",
    "shard_of",
]
