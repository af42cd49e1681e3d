"""The sqlite3 journal that makes :func:`face_async.enroll` resumable.

One journal file may hold several enrollments; each is keyed by (endpoint host, group id, large
flag). The journal records a person when its id is known and a face when the service confirmed
it, committing each record at once (WAL mode), so that it survives Ctrl-C, a crash or kill -9.
Writes are single-row upserts of well under a millisecond; they run on the event loop thread.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import attrs

__all__ = ["Journal", "JournalFace", "JournalPerson"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS persons (
    run TEXT NOT NULL,
    name TEXT NOT NULL,
    token TEXT NOT NULL,
    person_id TEXT,
    PRIMARY KEY (run, name)
);
CREATE TABLE IF NOT EXISTS faces (
    run TEXT NOT NULL,
    person TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    persisted_face_id TEXT,
    failure TEXT,
    source TEXT NOT NULL,
    PRIMARY KEY (run, person, fingerprint)
);
CREATE TABLE IF NOT EXISTS foreign_faces (
    run TEXT NOT NULL,
    person TEXT NOT NULL,
    persisted_face_id TEXT NOT NULL,
    PRIMARY KEY (run, person, persisted_face_id)
);
"""


@attrs.frozen(kw_only=True)
class JournalPerson:
    """A person of the enrollment: its name, creation token and id once confirmed."""

    name: str
    token: str
    person_id: str | None


@attrs.frozen(kw_only=True)
class JournalFace:
    """A face of a person: confirmed (``persisted_face_id``), failed for good (``failure``),
    or neither: sent by a run that was interrupted before the outcome was known."""

    fingerprint: str
    persisted_face_id: str | None
    failure: str | None
    source: str


class Journal:
    """A sqlite3 journal of persons and faces confirmed by the service.

    ``Journal(":memory:")`` keeps it in memory (exactly-once within one run, no resume).
    Raises sqlite3.Error when the file cannot be opened or is not a journal.
    """

    def __init__(self, path: str | os.PathLike[str] = ":memory:") -> None:
        self._path = os.fspath(path)
        # isolation_level=None: we commit each statement ourselves (autocommit).
        self._db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode loses nothing on a process crash (kill -9); only an OS crash or
        # power loss can drop the last commits, which reconciliation then recovers.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"Journal({self._path!r})"

    @property
    def path(self) -> str:
        """The journal's file path (``:memory:`` when in memory)."""
        return self._path

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def run_key(endpoint_host: str, group_id: str, large: bool) -> str:
        """The key of one enrollment: endpoint host, group id and large flag."""
        return f"{endpoint_host}|{'large' if large else 'pg'}|{group_id}"

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # persons ---------------------------------------------------------------------------------

    def person(self, run: str, name: str) -> JournalPerson | None:
        """The recorded person called ``name``, or None."""
        row = self._db.execute(
            "SELECT name, token, person_id FROM persons WHERE run=? AND name=?", (run, name)
        ).fetchone()
        return None if row is None else JournalPerson(name=row[0], token=row[1], person_id=row[2])

    def persons(self, run: str) -> list[JournalPerson]:
        """Every recorded person of the enrollment."""
        rows = self._db.execute(
            "SELECT name, token, person_id FROM persons WHERE run=? ORDER BY name", (run,)
        ).fetchall()
        return [JournalPerson(name=r[0], token=r[1], person_id=r[2]) for r in rows]

    def intend_person(self, run: str, name: str, token: str) -> None:
        """Record, before creating it, the token the person's userData will carry.

        The person is not on the service, so faces recorded under an earlier id are dropped.
        """
        with self._tx() as db:
            db.execute("DELETE FROM faces WHERE run=? AND person=?", (run, name))
            db.execute("DELETE FROM foreign_faces WHERE run=? AND person=?", (run, name))
            db.execute(
                "INSERT INTO persons (run, name, token, person_id) VALUES (?, ?, ?, NULL) "
                "ON CONFLICT (run, name) DO UPDATE SET token=excluded.token, person_id=NULL",
                (run, name, token),
            )

    def confirm_person(self, run: str, name: str, token: str, person_id: str) -> None:
        """Record the person's id; forget faces recorded for a previous id of that name."""
        with self._tx() as db:
            old = db.execute(
                "SELECT person_id FROM persons WHERE run=? AND name=?", (run, name)
            ).fetchone()
            if old is not None and old[0] not in (None, person_id):
                db.execute("DELETE FROM faces WHERE run=? AND person=?", (run, name))
                db.execute("DELETE FROM foreign_faces WHERE run=? AND person=?", (run, name))
            db.execute(
                "INSERT INTO persons (run, name, token, person_id) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (run, name) DO UPDATE SET token=excluded.token, "
                "person_id=excluded.person_id",
                (run, name, token, person_id),
            )

    # faces -----------------------------------------------------------------------------------

    def faces(self, run: str, person: str) -> dict[str, JournalFace]:
        """The recorded faces of a person by fingerprint."""
        rows = self._db.execute(
            "SELECT fingerprint, persisted_face_id, failure, source FROM faces "
            "WHERE run=? AND person=?", (run, person)
        ).fetchall()
        return {
            r[0]: JournalFace(fingerprint=r[0], persisted_face_id=r[1], failure=r[2], source=r[3])
            for r in rows
        }

    def face(self, run: str, person: str, fingerprint: str) -> JournalFace | None:
        """The record of one face of a person, or None."""
        row = self._db.execute(
            "SELECT fingerprint, persisted_face_id, failure, source FROM faces "
            "WHERE run=? AND person=? AND fingerprint=?", (run, person, fingerprint)
        ).fetchone()
        if row is None:
            return None
        return JournalFace(fingerprint=row[0], persisted_face_id=row[1], failure=row[2],
                           source=row[3])

    def known_face_ids(self, run: str, person: str) -> set[str]:
        """The face ids of a person we know: confirmed ones and other writers' ones."""
        rows = self._db.execute(
            "SELECT persisted_face_id FROM faces WHERE run=? AND person=? AND "
            "persisted_face_id IS NOT NULL UNION SELECT persisted_face_id FROM foreign_faces "
            "WHERE run=? AND person=?", (run, person, run, person)
        ).fetchall()
        return {r[0] for r in rows}

    def confirm_face(self, run: str, person: str, fingerprint: str, persisted_face_id: str,
                     source: str) -> None:
        """Record a face the service confirmed."""
        self._db.execute(
            "INSERT INTO faces (run, person, fingerprint, persisted_face_id, failure, source) "
            "VALUES (?, ?, ?, ?, NULL, ?) ON CONFLICT (run, person, fingerprint) DO UPDATE SET "
            "persisted_face_id=excluded.persisted_face_id, failure=NULL, source=excluded.source",
            (run, person, fingerprint, persisted_face_id, source),
        )

    def intend_face(self, run: str, person: str, fingerprint: str, source: str) -> None:
        """Record that a face is about to be sent: in doubt until confirmed or failed."""
        self._db.execute(
            "INSERT OR IGNORE INTO faces (run, person, fingerprint, persisted_face_id, failure, "
            "source) VALUES (?, ?, ?, NULL, NULL, ?)",
            (run, person, fingerprint, source),
        )

    def fail_face(self, run: str, person: str, fingerprint: str, reason: str,
                  source: str) -> None:
        """Record an image the service rejected for good (it is not sent again)."""
        self._db.execute(
            "INSERT INTO faces (run, person, fingerprint, persisted_face_id, failure, source) "
            "VALUES (?, ?, ?, NULL, ?, ?) ON CONFLICT (run, person, fingerprint) DO UPDATE SET "
            "persisted_face_id=NULL, failure=excluded.failure, source=excluded.source",
            (run, person, fingerprint, reason, source),
        )

    def forget_face(self, run: str, person: str, fingerprint: str) -> None:
        """Drop a face record (the service no longer has the face)."""
        self._db.execute(
            "DELETE FROM faces WHERE run=? AND person=? AND fingerprint=?",
            (run, person, fingerprint),
        )

    def foreign_faces(self, run: str, person: str) -> set[str]:
        """Faces of the person that another writer added (no fingerprint of ours)."""
        rows = self._db.execute(
            "SELECT persisted_face_id FROM foreign_faces WHERE run=? AND person=?", (run, person)
        ).fetchall()
        return {r[0] for r in rows}

    def add_foreign_face(self, run: str, person: str, persisted_face_id: str) -> None:
        """Remember a face that is not ours so that it is not read again."""
        self._db.execute(
            "INSERT OR IGNORE INTO foreign_faces (run, person, persisted_face_id) "
            "VALUES (?, ?, ?)", (run, person, persisted_face_id),
        )

    def count_faces(self, run: str) -> int:
        """Faces confirmed in the enrollment."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM faces WHERE run=? AND persisted_face_id IS NOT NULL", (run,)
        ).fetchone()
        return int(row[0])
