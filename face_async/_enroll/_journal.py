"""The sqlite3 journal that makes :func:`face_async.enroll` resumable, off the event loop.

One journal file may hold several enrollments; each is keyed by (endpoint host, group id, large
flag). Every sqlite call runs on one worker thread that owns the connection: the event loop
only queues operations and awaits the few whose answer it needs, so it never waits on disk
(a WAL checkpoint, a busy lock). The worker runs what is queued in one transaction per batch:
confirmations are posted without waiting and committed with the next batch, while an intent
(a face or a person about to be sent) is awaited until it is committed, so that it survives
kill -9 before the request leaves. Every query is a lookup by primary key (or a prefix of it).

The connection holds the file's lock for its whole life (``locking_mode=EXCLUSIVE``): one
enrollment at a time per journal. Another process holding it makes :meth:`Journal.open` raise
:class:`JournalBusy` after ``busy_timeout`` seconds.

TEMP tables (private to the connection, never in the file) hold what one enrollment must
remember but need not keep in memory: the group's listing read at the start (``listed``) and
the persons of a streamed source not being worked on (``parked``). ``Journal()`` itself is a
private temporary file, deleted on close.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import attrs

from face_async._errors import FaceError

__all__ = [
    "Journal",
    "JournalBusy",
    "JournalFace",
    "JournalPerson",
    "ListedPerson",
    "ParkedPerson",
    "default_journal_path",
]

_T = TypeVar("_T")

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
# Added in 0.2: when the earliest send that may still be applied left (wall clock), or NULL.
# ``doubtful``: a send of the face was ambiguous and not seen, then it was sent again.
_COLUMNS = (
    ("persons", "sent_at", "REAL"),
    ("faces", "sent_at", "REAL"),
    ("faces", "doubtful", "INTEGER NOT NULL DEFAULT 0"),
)

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
    failure TEXT,
    detail TEXT,
    PRIMARY KEY (run, name)
);
"""


class JournalBusy(FaceError):
    """Another process holds the journal (an enrollment of the same group is running).

    ``path`` is the journal file. Wait for the other run to end, or pass another journal.
    """

    def __init__(self, path: str, waited: float) -> None:
        super().__init__(
            f"the journal {path} is in use by another process (waited {waited:g} s); "
            "wait for the other enrollment to end or pass another journal file"
        )
        self.path = path
        self.waited = waited


def default_journal_path(
    endpoint: str, group_id: str, *, shard: tuple[int, int] | None = None
) -> Path:
    """The default journal of an enrollment: ``.face-async-journal-<host>-<group>.sqlite``.

    Relative to the current directory, one file per endpoint host (a region name is used as
    is) and group id, so that two groups or two endpoints never share a journal; with
    ``shard=(i, n)`` the name ends ``-shard<i>of<n>``, one journal per sharded worker.
    """
    text = endpoint.strip()
    host = urlsplit(text).netloc if "://" in text else text
    name = (
        f"{host}-{group_id}" if shard is None else f"{host}-{group_id}-shard{shard[0]}of{shard[1]}"
    )
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "default"
    return Path(f".face-async-journal-{slug}.sqlite")


@attrs.frozen(kw_only=True)
class JournalPerson:
    """A person of the enrollment: name, creation token, id once confirmed, and when its
    earliest create that may still be applied was sent (None when none may)."""

    name: str
    token: str
    person_id: str | None
    sent_at: float | None = None


@attrs.frozen(kw_only=True)
class JournalFace:
    """A face of a person: confirmed (``persisted_face_id``), failed for good (``failure``),
    or neither: sent without a known outcome. ``sent_at``: when its latest send left, while a
    send may still be applied (None when none may); ``doubtful``: it was sent again after an
    ambiguous send that was not seen."""

    fingerprint: str
    persisted_face_id: str | None
    failure: str | None
    source: str
    sent_at: float | None = None
    doubtful: bool = False


@attrs.frozen(kw_only=True)
class ListedPerson:
    """A person of the group as listed at the start of an enrollment."""

    person_id: str
    user_data: str | None
    persisted_face_ids: tuple[str, ...]


@attrs.frozen(kw_only=True)
class ParkedPerson:
    """A started person of a streamed source none of whose images is queued: its id (empty
    when it could not be created), images seen, faces held, and why it failed for good."""

    name: str
    person_id: str
    cursor: int
    on_service: int
    failure: str | None
    detail: str | None


_Op = tuple[Callable[[sqlite3.Connection], Any], "asyncio.Future[Any] | None"]
_CLOSE = object()


class Journal:
    """A sqlite3 journal of persons and faces, served by one worker thread.

    ``Journal()`` (path ``""``) is a private temporary file deleted on close (exactly-once
    within one run, no resume; sqlite's bounded page cache keeps memory flat). Use
    ``async with Journal(path) as journal:`` or :meth:`open` / :meth:`aclose`. :meth:`open`
    raises JournalBusy when another process holds the file, and sqlite3.Error when it is not
    a journal.
    """

    def __init__(self, path: str | os.PathLike[str] = "", *, busy_timeout: float = 2.0) -> None:
        self._path = os.fspath(path)
        self._busy_timeout = busy_timeout
        self._queue: queue.SimpleQueue[_Op | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failed: BaseException | None = None

    def __repr__(self) -> str:
        return f"Journal({self._path!r})"

    @property
    def path(self) -> str:
        """The journal's file path (``""`` when temporary)."""
        return self._path

    async def open(self) -> Journal:
        """Start the worker thread and open the file; raises JournalBusy, sqlite3.Error."""
        if self._thread is not None:
            return self
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._serve, name="face-async-journal", daemon=True)
        self._thread.start()
        try:
            await self._call(self._setup)
        except BaseException:
            await self.aclose()
            raise
        return self

    async def aclose(self) -> None:
        """Commit what is queued, close the connection and end the worker thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(_CLOSE)
        await asyncio.to_thread(thread.join)

    async def __aenter__(self) -> Journal:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # the worker thread -----------------------------------------------------------------------

    def _setup(self, db: sqlite3.Connection) -> None:
        # Runs outside a transaction (the worker calls it first, alone).
        started = time.monotonic()
        db.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
        # Hold the file's lock until close: one enrollment per journal at a time.
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode loses nothing on a process crash (kill -9); an OS crash can
            # drop the last commits, which reconciliation by fingerprint recovers.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN IMMEDIATE")  # takes the write lock now, or waits busy_timeout
            db.executescript(_SCHEMA)  # commits
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                waited = round(time.monotonic() - started, 1)
                raise JournalBusy(self._path or "(temporary)", waited) from None
            raise
        for table, column, kind in _COLUMNS:
            names = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if column not in names:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        # A bounded page cache (2 MiB) for the file and TEMP tables: what does not fit is read
        # back from disk, so memory does not grow with the number of records.
        db.execute("PRAGMA cache_size=-2048")
        db.execute("PRAGMA temp.cache_size=-2048")
        db.executescript(_TEMP_SCHEMA)

    def _serve(self) -> None:
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            first = self._queue.get()
            if first is _CLOSE:
                return
            assert isinstance(first, tuple)
            fn, future = first
            try:
                self._resolve([(future, True, fn(db))])
            except BaseException as exc:
                self._resolve([(future, False, exc)])
                self._drain_failed(exc)
                return
            self._batches(db)
        finally:
            db.close()

    def _batches(self, db: sqlite3.Connection) -> None:
        closing = False
        while not closing:
            batch: list[_Op] = []
            item = self._queue.get()
            while True:
                if item is _CLOSE:
                    closing = True
                    break
                assert isinstance(item, tuple)
                batch.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if not batch:
                continue
            results: list[tuple[asyncio.Future[Any] | None, bool, Any]] = []
            try:
                db.execute("BEGIN IMMEDIATE")
                for fn, future in batch:
                    try:
                        results.append((future, True, fn(db)))
                    except sqlite3.Error as exc:
                        results.append((future, False, exc))
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                failure = _journal_error(exc, self._path)
                self._resolve([(future, False, failure) for _, future in batch])
                self._drain_failed(failure)
                return
            self._resolve(results)

    def _drain_failed(self, exc: BaseException) -> None:
        """After a failure every later operation fails with it (until close)."""
        self._failed = exc
        while True:
            item = self._queue.get()
            if item is _CLOSE:
                return
            assert isinstance(item, tuple)
            self._resolve([(item[1], False, exc)])

    def _resolve(self, results: list[tuple[asyncio.Future[Any] | None, bool, Any]]) -> None:
        waiting = [r for r in results if r[0] is not None]
        if waiting and self._loop is not None:
            # RuntimeError: the loop is closed, nobody waits any more.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(_settle, waiting)

    def _post(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        """Queue a write whose outcome nobody waits for (committed with the next batch)."""
        if self._failed is not None:
            raise self._failed
        self._queue.put((fn, None))

    async def _call(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``fn`` on the worker and wait until its batch is committed."""
        if self._failed is not None:
            raise self._failed
        assert self._loop is not None, "the journal is not open"
        future: asyncio.Future[_T] = self._loop.create_future()
        self._queue.put((fn, future))
        return await future

    # persons ---------------------------------------------------------------------------------

    @staticmethod
    def run_key(endpoint_host: str, group_id: str, large: bool) -> str:
        """The key of one enrollment: endpoint host, group id and large flag."""
        return f"{endpoint_host}|{'large' if large else 'pg'}|{group_id}"

    async def person(self, run: str, name: str) -> JournalPerson | None:
        """The recorded person called ``name``, or None."""

        def op(db: sqlite3.Connection) -> JournalPerson | None:
            row = db.execute(
                "SELECT name, token, person_id, sent_at FROM persons WHERE run=? AND name=?",
                (run, name),
            ).fetchone()
            if row is None:
                return None
            return JournalPerson(name=row[0], token=row[1], person_id=row[2], sent_at=row[3])

        return await self._call(op)

    async def intend_person(self, run: str, name: str, token: str, sent_at: float) -> None:
        """Record, before creating it, the token the person's userData carries and when the
        create is sent. Faces recorded under an earlier id of that name are dropped."""

        def op(db: sqlite3.Connection) -> None:
            old = db.execute(
                "SELECT person_id FROM persons WHERE run=? AND name=?", (run, name)
            ).fetchone()
            if old is not None and old[0] is not None:
                db.execute("DELETE FROM faces WHERE run=? AND person=?", (run, name))
                db.execute("DELETE FROM foreign_faces WHERE run=? AND person=?", (run, name))
            db.execute(
                "INSERT INTO persons (run, name, token, person_id, sent_at) "
                "VALUES (?, ?, ?, NULL, ?) ON CONFLICT (run, name) DO UPDATE SET "
                "token=excluded.token, person_id=NULL, "
                "sent_at=excluded.sent_at",
                (run, name, token, sent_at),
            )

        await self._call(op)

    def confirm_person(
        self, run: str, name: str, token: str, person_id: str, *, settled: bool
    ) -> None:
        """Record the person's id (posted); ``settled``: no earlier create may still land.
        Faces recorded for a previous id of that name are forgotten."""

        def op(db: sqlite3.Connection) -> None:
            old = db.execute(
                "SELECT person_id FROM persons WHERE run=? AND name=?", (run, name)
            ).fetchone()
            if old is not None and old[0] not in (None, person_id):
                db.execute("DELETE FROM faces WHERE run=? AND person=?", (run, name))
                db.execute("DELETE FROM foreign_faces WHERE run=? AND person=?", (run, name))
            db.execute(
                "INSERT INTO persons (run, name, token, person_id, sent_at) "
                "VALUES (?, ?, ?, ?, NULL) ON CONFLICT (run, name) DO UPDATE SET "
                "token=excluded.token, person_id=excluded.person_id, "
                "sent_at=CASE WHEN ? THEN NULL ELSE persons.sent_at END",
                (run, name, token, person_id, settled),
            )

        self._post(op)

    def settle_person(self, run: str, name: str) -> None:
        """Record (posted) that no write of the person may still land: it was verified."""

        def op(db: sqlite3.Connection) -> None:
            db.execute("UPDATE persons SET sent_at=NULL WHERE run=? AND name=?", (run, name))
            db.execute(
                "UPDATE faces SET sent_at=NULL, doubtful=0 WHERE run=? AND person=?", (run, name)
            )

        self._post(op)

    # faces -----------------------------------------------------------------------------------

    async def faces(self, run: str, person: str) -> dict[str, JournalFace]:
        """The recorded faces of a person by fingerprint."""

        def op(db: sqlite3.Connection) -> dict[str, JournalFace]:
            rows = db.execute(
                "SELECT fingerprint, persisted_face_id, failure, source, sent_at, doubtful "
                "FROM faces WHERE run=? AND person=?",
                (run, person),
            ).fetchall()
            return {r[0]: _face(r) for r in rows}

        return await self._call(op)

    async def face(self, run: str, person: str, fingerprint: str) -> JournalFace | None:
        """The record of one face of a person, or None."""
        return await self._call(lambda db: _get_face(db, run, person, fingerprint))

    async def intend_face(
        self,
        run: str,
        person: str,
        fingerprint: str,
        source: str,
        sent_at: float,
        *,
        doubtful: bool = False,
    ) -> JournalFace | None:
        """Unless the face is already confirmed or failed for good, record that it is about
        to be sent (``doubtful``: again, after an ambiguous send not seen); committed before
        this returns. Returns the record as it was before."""

        def op(db: sqlite3.Connection) -> JournalFace | None:
            before = _get_face(db, run, person, fingerprint)
            if before is None or (before.persisted_face_id is None and before.failure is None):
                db.execute(
                    "INSERT INTO faces (run, person, fingerprint, persisted_face_id, failure, "
                    "source, sent_at, doubtful) VALUES (?, ?, ?, NULL, NULL, ?, ?, ?) "
                    "ON CONFLICT (run, person, fingerprint) DO UPDATE SET "
                    "sent_at=excluded.sent_at, doubtful=MAX(faces.doubtful, excluded.doubtful)",
                    (run, person, fingerprint, source, sent_at, int(doubtful)),
                )
            return before

        return await self._call(op)

    async def known_face_ids(self, run: str, person: str) -> set[str]:
        """The face ids of a person we know: confirmed ones and other writers' ones."""

        def op(db: sqlite3.Connection) -> set[str]:
            rows = db.execute(
                "SELECT persisted_face_id FROM faces WHERE run=? AND person=? AND "
                "persisted_face_id IS NOT NULL UNION SELECT persisted_face_id FROM "
                "foreign_faces WHERE run=? AND person=?",
                (run, person, run, person),
            ).fetchall()
            return {r[0] for r in rows}

        return await self._call(op)

    def confirm_face(
        self,
        run: str,
        person: str,
        fingerprint: str,
        persisted_face_id: str,
        source: str,
        *,
        settled: bool,
    ) -> None:
        """Record a face the service confirmed (posted); ``settled``: no earlier send of it
        may still land."""

        def op(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO faces (run, person, fingerprint, persisted_face_id, failure, "
                "source, sent_at) VALUES (?, ?, ?, ?, NULL, ?, NULL) "
                "ON CONFLICT (run, person, fingerprint) DO UPDATE SET "
                "persisted_face_id=excluded.persisted_face_id, failure=NULL, "
                "source=excluded.source, sent_at=CASE WHEN ? THEN NULL ELSE faces.sent_at END, "
                "doubtful=CASE WHEN ? THEN 0 ELSE faces.doubtful END",
                (run, person, fingerprint, persisted_face_id, source, settled, settled),
            )

        self._post(op)

    def fail_face(self, run: str, person: str, fingerprint: str, reason: str, source: str) -> None:
        """Record (posted) an image the service rejected for good: not sent again."""
        self._post(
            lambda db: db.execute(
                "INSERT INTO faces (run, person, fingerprint, persisted_face_id, failure, "
                "source) VALUES (?, ?, ?, NULL, ?, ?) ON CONFLICT (run, person, fingerprint) "
                "DO UPDATE SET persisted_face_id=NULL, failure=excluded.failure, "
                "source=excluded.source",
                (run, person, fingerprint, reason, source),
            )
        )

    def forget_face(self, run: str, person: str, fingerprint: str) -> None:
        """Drop a face record (posted): the service does not hold it."""
        self._post(
            lambda db: db.execute(
                "DELETE FROM faces WHERE run=? AND person=? AND fingerprint=?",
                (run, person, fingerprint),
            )
        )

    def add_foreign_face(self, run: str, person: str, persisted_face_id: str) -> None:
        """Remember (posted) a face that is not ours so that it is not read again."""
        self._post(
            lambda db: db.execute(
                "INSERT OR IGNORE INTO foreign_faces (run, person, persisted_face_id) "
                "VALUES (?, ?, ?)",
                (run, person, persisted_face_id),
            )
        )

    async def count_faces(self, run: str) -> int:
        """Faces confirmed in the enrollment."""

        def op(db: sqlite3.Connection) -> int:
            row = db.execute(
                "SELECT COUNT(*) FROM faces WHERE run=? AND persisted_face_id IS NOT NULL",
                (run,),
            ).fetchone()
            return int(row[0])

        return await self._call(op)

    # the group's listing (TEMP) ---------------------------------------------------------------

    def clear_run(self, run: str) -> None:
        """Forget (posted) the listing and the parked persons of an enrollment."""

        def op(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM listed WHERE run=?", (run,))
            db.execute("DELETE FROM parked WHERE run=?", (run,))

        self._post(op)

    def add_listed(self, run: str, persons: list[tuple[str, str, str | None, list[str]]]) -> None:
        """Record (posted) one page of the listing: (name, person id, userData, face ids)."""
        rows = [(run, n, p, u, ",".join(f)) for n, p, u, f in persons]
        self._post(
            lambda db: db.executemany(
                "INSERT INTO listed (run, name, person_id, user_data, face_ids) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        )

    async def take_listed(self, run: str, name: str) -> list[ListedPerson]:
        """The listed persons called ``name`` in listing order, forgotten once taken."""

        def op(db: sqlite3.Connection) -> list[ListedPerson]:
            rows = db.execute(
                "SELECT person_id, user_data, face_ids FROM listed WHERE run=? AND name=? "
                "ORDER BY rowid",
                (run, name),
            ).fetchall()
            if rows:
                db.execute("DELETE FROM listed WHERE run=? AND name=?", (run, name))
            return [
                ListedPerson(
                    person_id=r[0],
                    user_data=r[1],
                    persisted_face_ids=tuple(r[2].split(",")) if r[2] else (),
                )
                for r in rows
            ]

        return await self._call(op)

    # persons of a streamed source not being worked on (TEMP) ----------------------------------

    def park(self, run: str, person: ParkedPerson) -> None:
        """Remember (posted) a started person while none of its images is queued."""
        row = (
            run, person.name, person.person_id, person.cursor, person.on_service,
            person.failure, person.detail,
        )  # fmt: skip
        self._post(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO parked (run, name, person_id, cursor, on_service, "
                "failure, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    async def unpark(self, run: str, name: str) -> ParkedPerson | None:
        """The parked person called ``name`` (forgotten once taken), or None."""

        def op(db: sqlite3.Connection) -> ParkedPerson | None:
            row = db.execute(
                "SELECT name, person_id, cursor, on_service, failure, detail FROM parked "
                "WHERE run=? AND name=?",
                (run, name),
            ).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM parked WHERE run=? AND name=?", (run, name))
            return ParkedPerson(
                name=row[0], person_id=row[1], cursor=row[2], on_service=row[3],
                failure=row[4], detail=row[5],
            )  # fmt: skip

        return await self._call(op)


def _face(row: tuple[Any, ...]) -> JournalFace:
    return JournalFace(
        fingerprint=row[0], persisted_face_id=row[1], failure=row[2], source=row[3],
        sent_at=row[4], doubtful=bool(row[5]),
    )  # fmt: skip


def _get_face(db: sqlite3.Connection, run: str, person: str, fp: str) -> JournalFace | None:
    row = db.execute(
        "SELECT fingerprint, persisted_face_id, failure, source, sent_at, doubtful "
        "FROM faces WHERE run=? AND person=? AND fingerprint=?",
        (run, person, fp),
    ).fetchone()
    return None if row is None else _face(row)


def _journal_error(exc: sqlite3.Error, path: str) -> BaseException:
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return JournalBusy(path or "(temporary)", 0.0)
    return exc


def _settle(results: list[tuple[asyncio.Future[Any] | None, bool, Any]]) -> None:
    for future, ok, value in results:
        if future is None or future.done():
            continue  # a cancelled waiter
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
