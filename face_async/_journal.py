"""The sqlite3 journal that makes :func:`face_async.enroll` resumable.

One journal file may hold several enrollments; each is keyed by (endpoint host, group id, large
flag). The journal records a person when its id is known and a face when the service confirmed
it, committing each record at once (WAL mode), so that it survives Ctrl-C, a crash or kill -9.
Writes are single-row upserts of well under a millisecond; they run on the event loop thread.
Every query is a lookup by primary key (or a prefix of it): its cost does not grow with the
number of faces recorded.

The journal also holds what one enrollment must remember but need not keep in memory, in TEMP
tables (private to the connection, gone when it closes, never in the journal file): the group's
listing read at the start (``listed``) and the state of the persons not being worked on
(``parked``). sqlite keeps a bounded page cache and spills the rest to a temporary file, so an
enrollment's memory does not grow with the number of images (nor of persons, for a streamed
source). ``Journal()`` itself is such a private temporary file, deleted on close.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import attrs

__all__ = ["Journal", "JournalFace", "JournalPerson", "ListedPerson", "ParkedPerson"]

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

_TEMP_SCHEMA = """
CREATE TEMP TABLE IF NOT EXISTS listed (
    run TEXT NOT NULL,
    name TEXT NOT NULL,
    person_id TEXT NOT NULL,
    user_data TEXT,
    face_ids TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS temp.listed_by_name ON listed (run, name);
CREATE TEMP TABLE IF NOT EXISTS parked (
    run TEXT NOT NULL,
    name TEXT NOT NULL,
    person_id TEXT NOT NULL,
    cursor INTEGER NOT NULL,
    on_service INTEGER NOT NULL,
    ambiguous INTEGER NOT NULL,
    failure TEXT,
    detail TEXT,
    PRIMARY KEY (run, name)
);
CREATE TEMP TABLE IF NOT EXISTS doubtful (
    run TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (run, name)
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


@attrs.frozen(kw_only=True)
class ListedPerson:
    """A person of the group as listed at the start of an enrollment."""

    person_id: str
    user_data: str | None
    persisted_face_ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class ParkedPerson:
    """What an enrollment remembers of a person started in this run while no image of it is
    in progress: its id (empty when it could not be created), how many of its images were
    seen, how many faces it holds, whether a write was ambiguous, and why it failed for good."""

    name: str
    person_id: str
    cursor: int
    on_service: int
    ambiguous: bool
    failure: str | None
    detail: str | None


class Journal:
    """A sqlite3 journal of persons and faces confirmed by the service.

    ``Journal()`` (path ``""``) is a private temporary file deleted when it is closed, and
    ``Journal(":memory:")`` keeps everything in memory: both give exactly-once within one run
    and no resume, but only the first keeps memory bounded (sqlite's page cache) however many
    faces are recorded. Raises sqlite3.Error when the file cannot be opened or is not a journal.
    """

    def __init__(self, path: str | os.PathLike[str] = "") -> None:
        self._path = os.fspath(path)
        # isolation_level=None: we commit each statement ourselves (autocommit).
        self._db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode loses nothing on a process crash (kill -9); only an OS crash or
        # power loss can drop the last commits, which reconciliation then recovers.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        # A bounded page cache (2 MiB, sqlite's usual default) for the file and TEMP tables:
        # what does not fit is read back from the file, so memory does not grow with records.
        self._db.execute("PRAGMA cache_size=-2048")
        self._db.execute("PRAGMA temp.cache_size=-2048")
        self._db.executescript(_SCHEMA)
        self._db.executescript(_TEMP_SCHEMA)

    def __repr__(self) -> str:
        return f"Journal({self._path!r})"

    @property
    def path(self) -> str:
        """The journal's file path (``:memory:`` when in memory, ``""`` when temporary)."""
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
    def _tx(self, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the journal file's write lock at once; TEMP tables need no lock.
        self._db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
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

    def doubt_person(self, run: str, name: str) -> None:
        """Remember (TEMP) that the create of a person was ambiguous: an earlier attempt may
        be applied late, leaving a twin with the same name and token."""
        self._db.execute("INSERT OR IGNORE INTO doubtful (run, name) VALUES (?, ?)", (run, name))

    def has_doubtful_persons(self, run: str) -> bool:
        """Whether a person's create was ambiguous in this enrollment."""
        row = self._db.execute("SELECT 1 FROM doubtful WHERE run=? LIMIT 1", (run,)).fetchone()
        return row is not None

    def is_doubtful_person(self, run: str, name: str) -> bool:
        """Whether the create of the person called ``name`` was ambiguous."""
        row = self._db.execute(
            "SELECT 1 FROM doubtful WHERE run=? AND name=?", (run, name)
        ).fetchone()
        return row is not None

    def clear_doubtful_persons(self, run: str) -> None:
        """Forget the ambiguous creates of an enrollment (checked)."""
        self._db.execute("DELETE FROM doubtful WHERE run=?", (run,))

    # faces -----------------------------------------------------------------------------------

    def faces(self, run: str, person: str) -> dict[str, JournalFace]:
        """The recorded faces of a person by fingerprint."""
        rows = self._db.execute(
            "SELECT fingerprint, persisted_face_id, failure, source FROM faces "
            "WHERE run=? AND person=?",
            (run, person),
        ).fetchall()
        return {
            r[0]: JournalFace(fingerprint=r[0], persisted_face_id=r[1], failure=r[2], source=r[3])
            for r in rows
        }

    def face(self, run: str, person: str, fingerprint: str) -> JournalFace | None:
        """The record of one face of a person, or None."""
        row = self._db.execute(
            "SELECT fingerprint, persisted_face_id, failure, source FROM faces "
            "WHERE run=? AND person=? AND fingerprint=?",
            (run, person, fingerprint),
        ).fetchone()
        if row is None:
            return None
        return JournalFace(
            fingerprint=row[0], persisted_face_id=row[1], failure=row[2], source=row[3]
        )

    def known_face_ids(self, run: str, person: str) -> set[str]:
        """The face ids of a person we know: confirmed ones and other writers' ones."""
        rows = self._db.execute(
            "SELECT persisted_face_id FROM faces WHERE run=? AND person=? AND "
            "persisted_face_id IS NOT NULL UNION SELECT persisted_face_id FROM foreign_faces "
            "WHERE run=? AND person=?",
            (run, person, run, person),
        ).fetchall()
        return {r[0] for r in rows}

    def confirm_face(
        self, run: str, person: str, fingerprint: str, persisted_face_id: str, source: str
    ) -> None:
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

    def fail_face(self, run: str, person: str, fingerprint: str, reason: str, source: str) -> None:
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
            "INSERT OR IGNORE INTO foreign_faces (run, person, persisted_face_id) VALUES (?, ?, ?)",
            (run, person, persisted_face_id),
        )

    def count_faces(self, run: str) -> int:
        """Faces confirmed in the enrollment."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM faces WHERE run=? AND persisted_face_id IS NOT NULL", (run,)
        ).fetchone()
        return int(row[0])

    # the group's listing (TEMP) ---------------------------------------------------------------

    def clear_listed(self, run: str) -> None:
        """Forget the listing of an enrollment."""
        self._db.execute("DELETE FROM listed WHERE run=?", (run,))

    def add_listed(self, run: str, persons: list[tuple[str, str, str | None, list[str]]]) -> None:
        """Record one page of the group's listing: (name, person id, userData, face ids)."""
        with self._tx(immediate=False) as db:
            db.executemany(
                "INSERT INTO listed (run, name, person_id, user_data, face_ids) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (run, name, person_id, user_data, ",".join(face_ids))
                    for name, person_id, user_data, face_ids in persons
                ],
            )

    def take_listed(self, run: str, name: str) -> list[ListedPerson]:
        """The listed persons called ``name`` in listing order, forgotten once taken."""
        rows = self._db.execute(
            "SELECT person_id, user_data, face_ids FROM listed WHERE run=? AND name=? "
            "ORDER BY rowid",
            (run, name),
        ).fetchall()
        if rows:
            self._db.execute("DELETE FROM listed WHERE run=? AND name=?", (run, name))
        return [
            ListedPerson(
                person_id=r[0],
                user_data=r[1],
                persisted_face_ids=tuple(r[2].split(",")) if r[2] else (),
            )
            for r in rows
        ]

    # persons not being worked on (TEMP) ------------------------------------------------------

    def clear_parked(self, run: str) -> None:
        """Forget the parked persons of an enrollment."""
        self._db.execute("DELETE FROM parked WHERE run=?", (run,))

    def park(self, person: ParkedPerson, run: str) -> None:
        """Remember a started person while none of its images is in progress."""
        self._db.execute(
            "INSERT OR REPLACE INTO parked (run, name, person_id, cursor, on_service, ambiguous, "
            "failure, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run,
                person.name,
                person.person_id,
                person.cursor,
                person.on_service,
                int(person.ambiguous),
                person.failure,
                person.detail,
            ),
        )

    def parked(self, run: str, name: str) -> ParkedPerson | None:
        """The parked person called ``name``, or None (not started in this run)."""
        row = self._db.execute(
            "SELECT name, person_id, cursor, on_service, ambiguous, failure, detail FROM parked "
            "WHERE run=? AND name=?",
            (run, name),
        ).fetchone()
        return None if row is None else _parked(row)

    def parked_ambiguous(self, run: str, after: str = "") -> ParkedPerson | None:
        """The first parked person after ``after`` (by name) whose writes were ambiguous."""
        row = self._db.execute(
            "SELECT name, person_id, cursor, on_service, ambiguous, failure, detail FROM parked "
            "WHERE run=? AND name>? AND ambiguous ORDER BY name LIMIT 1",
            (run, after),
        ).fetchone()
        return None if row is None else _parked(row)


def _parked(row: tuple[object, ...]) -> ParkedPerson:
    return ParkedPerson(
        name=str(row[0]), person_id=str(row[1]), cursor=int(str(row[2])),
        on_service=int(str(row[3])), ambiguous=bool(row[4]),
        failure=None if row[5] is None else str(row[5]),
        detail=None if row[6] is None else str(row[6]),
    )  # fmt: skip
