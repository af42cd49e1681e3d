"""Progress of an enrollment: a tqdm bar on a terminal, one line per event, ticks, or nothing.

Everything the progress shows goes to one stream (the bar and its messages to stderr, lines and
ticks to stdout), and log records are routed through the bar (tqdm's ``logging_redirect_tqdm``)
so that a warning never lands in the middle of it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from face_async._cli._report import relative
from face_async._enroll import (
    EnrollEvent,
    EnrollStarted,
    FaceAdded,
    FaceFailed,
    FaceSkipped,
    OutcomeReconciled,
    PersonCreated,
    PersonReused,
    TrainingFinished,
    TrainingStarted,
    WaitingForLateWrites,
)
from face_async._enroll._sources import OUTCOME_UNKNOWN

__all__ = ["MODES", "Progress", "cli_logging", "have_tqdm"]

MODES = ("auto", "bar", "lines", "ticks", "none")
LOGGER = "face_async"


def have_tqdm() -> bool:
    """Whether tqdm is installed (the ``cli`` extra)."""
    try:
        import tqdm  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def cli_logging(verbose: int) -> Iterator[None]:
    """Route the library's log records to stderr while a command runs: errors only by default,
    ``-v`` warnings and retries, ``-vv`` every request. The logger is restored afterwards, so
    ``main()`` called in-process leaves no trace."""
    level = {0: logging.ERROR, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logger = logging.getLogger(LOGGER)
    saved = logger.level, logger.propagate
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logger.setLevel(level)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def _waiting(event: WaitingForLateWrites) -> str:
    return (
        f"waiting   {event.seconds:.0f} s for writes of an interrupted run that may still "
        f"land, then checking {event.persons} persons"
    )


def _event_line(event: EnrollEvent, root: Path | None) -> str | None:
    source = relative(getattr(event, "source", None) or "", root)
    if isinstance(event, FaceAdded):
        return f"added     {event.person}  {source}"
    if isinstance(event, FaceSkipped):
        return f"present   {event.person}  {source}  (already enrolled)"
    if isinstance(event, FaceFailed):
        return f"failed    {event.person}  {source}  {event.reason}: {event.detail}"
    if isinstance(event, PersonCreated):
        return f"created   {event.person}"
    if isinstance(event, PersonReused):
        return f"reused    {event.person}"
    if isinstance(event, OutcomeReconciled):
        what = "applied" if event.applied else "not applied, sending again"
        return f"reconciled {event.person}  {source or '(person)'}  {what}"
    if isinstance(event, WaitingForLateWrites):
        return _waiting(event)
    if isinstance(event, TrainingStarted):
        return f"training  {event.group_id}"
    if isinstance(event, TrainingFinished):
        return f"trained   {event.group_id}  {event.status}"
    return None


class Progress:
    """Shows enrollment events; ``mode`` is one of :data:`MODES` ("auto": a bar when stderr
    is a terminal and tqdm is installed, else ``plain``)."""

    def __init__(
        self, mode: str, out: TextIO, *, root: Path | None = None, plain: str = "lines"
    ) -> None:
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() and have_tqdm() else plain
        if mode == "bar" and not have_tqdm():
            mode = "lines"
        self.mode = mode
        self.out = sys.stderr if mode == "bar" else out
        self.root = root
        self.bar: Any = None
        self.total: int | None = None
        self.done = 0
        self.counts = {"added": 0, "already_enrolled": 0, "failed": 0}
        self._step = 1
        # Images reported outcome_unknown: the final check may still find them added.
        self._unknown: set[tuple[str, str]] = set()

    @contextlib.contextmanager
    def logs_through(self) -> Iterator[None]:
        """Route the library's log records through the bar while it runs."""
        if self.mode != "bar":
            yield
            return
        from tqdm.contrib.logging import (  # type: ignore[import-untyped,unused-ignore]
            logging_redirect_tqdm,
        )

        with logging_redirect_tqdm(loggers=[logging.getLogger(LOGGER)]):
            yield

    def write(self, text: str) -> None:
        """One line, above the bar when there is one."""
        if self.bar is not None:
            self.bar.write(text, file=self.out)
        else:
            print(text, file=self.out, flush=True)

    def __call__(self, event: EnrollEvent) -> None:
        if isinstance(event, FaceAdded | FaceFailed) and self._was_unknown(event):
            self._settled(event)
            return
        if isinstance(event, FaceAdded):
            self.counts["added"] += 1
        elif isinstance(event, FaceSkipped):
            self.counts["already_enrolled"] += 1
        elif isinstance(event, FaceFailed):
            self.counts["failed"] += 1
            if event.reason == OUTCOME_UNKNOWN:
                self._unknown.add((event.person, event.source))
        if self.mode == "none":
            return
        if isinstance(event, EnrollStarted):
            self._started(event)
        elif self.mode == "lines":
            line = _event_line(event, self.root)
            if line is not None:
                self.write(line)
        elif self.mode == "ticks":
            self._tick(event)
        else:
            self._bar(event)

    def _was_unknown(self, event: FaceAdded | FaceFailed) -> bool:
        return (event.person, event.source) in self._unknown

    def _settled(self, event: FaceAdded | FaceFailed) -> None:
        # An image reported outcome_unknown, then found applied by the final check or sent
        # again after it: counted (and shown) once, with its final outcome.
        self.counts["failed"] -= 1
        if isinstance(event, FaceAdded):
            self._unknown.discard((event.person, event.source))
            self.counts["added"] += 1
            outcome = "added"
        else:
            if event.reason != OUTCOME_UNKNOWN:
                self._unknown.discard((event.person, event.source))
            self.counts["failed"] += 1
            outcome = f"failed: {event.reason}: {event.detail}"
        if self.mode != "none":
            tally = f" ({self._tally()})" if self.mode == "ticks" else ""
            self.write(f"settled   {relative(event.source, self.root)}  {outcome}{tally}")

    def _started(self, event: EnrollStarted) -> None:
        self.total = event.images
        what = f"{event.images} images of {event.persons} persons" if event.images else "images"
        self.write(f"enrolling {what} into {event.group_id}")
        self._step = max(1, (self.total or 100) // 5)
        if self.mode == "bar":
            from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]

            self.bar = tqdm(
                total=event.images, unit="img", desc="enrolling", file=self.out,
                dynamic_ncols=True, leave=True,
            )  # fmt: skip

    def _tally(self) -> str:
        return ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in self.counts.items())

    def _tick(self, event: EnrollEvent) -> None:
        if isinstance(event, FaceFailed):
            source = relative(event.source, self.root)
            self.write(f"  failed   {source}  {event.reason}: {event.detail}")
        elif isinstance(event, WaitingForLateWrites):
            self.write("  " + _waiting(event))
        elif isinstance(event, TrainingStarted):
            self.write(f"  training {event.group_id}")
        elif isinstance(event, TrainingFinished):
            self.write(f"  trained  {event.group_id}: {event.status}")
        if not isinstance(event, FaceAdded | FaceSkipped | FaceFailed):
            return
        self.done += 1
        if self.done % self._step == 0 or self.done == self.total:
            of = f"/{self.total}" if self.total else ""
            self.write(f"  done {self.done}{of} images ({self._tally()})")

    def _bar(self, event: EnrollEvent) -> None:
        if isinstance(event, FaceAdded | FaceSkipped | FaceFailed):
            if self.bar is not None:
                self.bar.update(1)
            if isinstance(event, FaceFailed):
                source = relative(event.source, self.root)
                self.write(f"failed  {source}  {event.reason}: {event.detail}")
        elif isinstance(event, WaitingForLateWrites):
            self.write(_waiting(event))
        elif isinstance(event, TrainingStarted):
            # The image bar is finished: close it as it stands, then say what runs now.
            self.close()
            self.write(f"images done ({self._tally()}); training {event.group_id}...")
        elif isinstance(event, TrainingFinished):
            self.write(f"trained {event.group_id}: {event.status}")

    def close(self) -> None:
        """Close the bar (it stays on the screen)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
