"""The ``face-async`` command line: enroll, identify, emulator, demo.

Exit codes: 0 success; 1 some images were not enrolled (enroll) or no face was found
(identify); 2 usage error (bad arguments, no key, no endpoint); 3 the service or the network
failed (for enroll the journal keeps what was confirmed: run the same command again);
130 interrupted (Ctrl-C).

The subscription key is read from an environment variable (``FACE_API_KEY``, or the one named
by ``--key-env``), never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TextIO, cast

import attrs

from face_async._enroll import (
    EnrollEvent,
    EnrollReport,
    EnrollStarted,
    FaceAdded,
    FaceFailed,
    FaceSkipped,
    OutcomeReconciled,
    PersonCreated,
    PersonReused,
    RateLimitWait,
    TrainingFinished,
    TrainingStarted,
    enroll,
)
from face_async._errors import FaceError, FaceValidationError

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_USAGE = 2
EXIT_ERROR = 3
EXIT_INTERRUPTED = 130

DEFAULT_JOURNAL = ".face-async-journal.sqlite"


class _UsageError(Exception):
    """A usage problem found after parsing (missing key or endpoint)."""


# --- progress ------------------------------------------------------------------------------------


class Progress:
    """Shows enrollment events: a tqdm bar, one line per event, or nothing."""

    def __init__(
        self, mode: str, out: TextIO, *, root: Path | None = None, plain: str = "lines"
    ) -> None:
        self.out = out
        self.bar: Any = None
        self.root = None if root is None else os.fspath(root) + os.sep
        self.total: int | None = None
        self.done = 0
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() and _have_tqdm() else plain
        if mode == "bar" and not _have_tqdm():
            mode = "lines"
        self.mode = mode

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=self.out)
        else:
            print(text, file=self.out, flush=True)

    def __call__(self, event: EnrollEvent) -> None:
        if self.mode == "none":
            return
        if isinstance(event, EnrollStarted):
            if self.mode == "bar":
                from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]

                self.bar = tqdm(
                    total=event.images,
                    unit="img",
                    desc="enrolling",
                    file=sys.stderr,
                    dynamic_ncols=True,
                )
            elif event.images is not None:
                self.total = event.images
                self.write(
                    f"enrolling {event.images} images of {event.persons} persons "
                    f"into {event.group_id}"
                )
            return
        if self.root is not None and hasattr(event, "source"):
            source = event.source or ""
            if source.startswith(self.root):
                event = attrs.evolve(cast(Any, event), source=source[len(self.root) :])
        if self.mode == "ticks":
            self._tick(event)
            return
        if self.bar is not None:
            if isinstance(event, FaceAdded | FaceSkipped | FaceFailed):
                self.bar.update(1)
            if isinstance(event, FaceFailed):
                self.write(f"failed    {event.source}  {event.reason}")
            elif isinstance(event, TrainingStarted):
                self.bar.set_description("training")
            elif isinstance(event, TrainingFinished):
                self.close()
            return
        line = _event_line(event)
        if line is not None:
            self.write(line)

    def _tick(self, event: EnrollEvent) -> None:
        if isinstance(event, FaceFailed):
            self.write(f"  failed   {event.source}  {event.reason}")
        if not isinstance(event, FaceAdded | FaceSkipped | FaceFailed):
            return
        self.done += 1
        step = max(1, (self.total or 100) // 5)
        if self.done % step == 0 or self.done == self.total:
            of = f"/{self.total}" if self.total else ""
            self.write(f"  enrolled {self.done}{of} images")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _event_line(event: EnrollEvent) -> str | None:
    if isinstance(event, FaceAdded):
        return f"added     {event.person}  {event.source}"
    if isinstance(event, FaceSkipped):
        return f"skipped   {event.person}  {event.source}  {event.reason}"
    if isinstance(event, FaceFailed):
        return f"failed    {event.person}  {event.source}  {event.reason}: {event.detail}"
    if isinstance(event, PersonCreated):
        return f"created   {event.person}"
    if isinstance(event, PersonReused):
        return f"reused    {event.person}"
    if isinstance(event, OutcomeReconciled):
        what = "applied" if event.applied else "not applied, sending again"
        return f"reconciled {event.person}  {event.source or '(person)'}  {what}"
    if isinstance(event, RateLimitWait):
        return f"waiting   {event.person}  {event.seconds:g} s (rate limited, 429)"
    if isinstance(event, TrainingStarted):
        return f"training  {event.group_id}"
    if isinstance(event, TrainingFinished):
        return f"trained   {event.group_id}  {event.status}"
    return None


def _have_tqdm() -> bool:
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def summary_table(report: EnrollReport, root: Path | None = None) -> str:
    """The final summary of an enrollment as a small text table."""
    rows = [
        ("group", f"{report.group_id}{' (large)' if report.large else ''}"),
        ("persons created", str(report.persons_created)),
        ("persons reused", str(report.persons_reused)),
        ("faces added", str(report.faces_added)),
        ("faces skipped", str(report.faces_skipped)),
        ("faces failed", str(report.faces_failed)),
        ("ambiguous writes reconciled", str(report.reconciled)),
        ("retries / 429s", f"{report.retries} / {report.rate_limited}"),
        ("training", report.training_status or "not run"),
        ("elapsed", f"{report.elapsed:.2f} s"),
        ("calls per second", f"{report.calls_per_second:.1f} ({report.calls} calls)"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"  {name:<{width}}  {value}" for name, value in rows]
    rule = "  " + "-" * (width + 2 + max(len(value) for _, value in rows))
    out = [rule, *lines, rule]
    if report.failures:
        out.append("  failed images:")
        prefix = "" if root is None else os.fspath(root) + os.sep
        for f in report.failures:
            source = f.source[len(prefix) :] if prefix and f.source.startswith(prefix) else f.source
            out.append(f"    {source}  {f.reason}")
    return "\n".join(out)


# --- commands ------------------------------------------------------------------------------------


def _credentials(args: argparse.Namespace) -> tuple[str, str]:
    endpoint = args.endpoint or os.environ.get("FACE_API_ENDPOINT")
    if not endpoint:
        raise _UsageError("no endpoint: pass --endpoint URL|REGION or set FACE_API_ENDPOINT")
    key = os.environ.get(args.key_env)
    if not key:
        raise _UsageError(f"no key: set the {args.key_env} environment variable")
    return endpoint, key


async def _enroll_command(args: argparse.Namespace) -> int:
    from face_async._client import AsyncFaceClient

    endpoint, key = _credentials(args)
    photos = Path(args.photos_dir)
    if not await asyncio.to_thread(photos.is_dir):
        raise _UsageError(f"{args.photos_dir!r} is not a directory")
    progress = Progress(args.progress, sys.stdout, root=photos)
    try:
        async with AsyncFaceClient(endpoint, key=key, tps=args.tps) as client:
            report = await enroll(
                client, args.group, photos, large=args.large, journal=args.journal,
                max_concurrency=args.max_concurrency, train=not args.no_train,
                on_event=progress,
            )  # fmt: skip
    finally:
        progress.close()
    print(summary_table(report, photos), flush=True)
    return EXIT_OK if report.ok else EXIT_FAILURES


async def identify_image(
    client: Any, image: Path | bytes, group_id: str, *, large: bool, candidates: int = 1
) -> list[tuple[Any, list[tuple[str, float]]]]:
    """Detect the faces of an image and identify them: [(face, [(name, confidence)])]."""
    faces = await client.face.detect(image)
    if not faces:
        return []
    group = {"large_person_group_id": group_id} if large else {"person_group_id": group_id}
    results = await client.face.identify(
        [f.face_id for f in faces[:10]], max_num_of_candidates_returned=candidates, **group
    )
    persons = client.large_person_group_persons if large else client.person_group_persons
    names: dict[str, str] = {}
    by_face = {r.face_id: r for r in results}
    out: list[tuple[Any, list[tuple[str, float]]]] = []
    for face in faces[:10]:
        result = by_face.get(face.face_id)
        found: list[tuple[str, float]] = []
        for candidate in result.candidates if result is not None else []:
            if candidate.person_id not in names:
                person = await persons.get(group_id, candidate.person_id)
                names[candidate.person_id] = person.name or candidate.person_id
            found.append((names[candidate.person_id], candidate.confidence))
        out.append((face, found))
    return out


def _describe(face: Any, found: list[tuple[str, float]]) -> str:
    r = face.face_rectangle
    where = f"face at ({r.left},{r.top} {r.width}x{r.height})"
    if not found:
        return f"{where}: unknown"
    return f"{where}: " + ", ".join(f"{name} ({conf:.2f})" for name, conf in found)


async def _identify_command(args: argparse.Namespace) -> int:
    from face_async._client import AsyncFaceClient

    endpoint, key = _credentials(args)
    image = Path(args.image)
    async with AsyncFaceClient(endpoint, key=key) as client:
        results = await identify_image(
            client, image, args.group, large=args.large, candidates=args.candidates
        )
    if not results:
        print(f"{args.image}: no face found")
        return EXIT_FAILURES
    for face, found in results:
        print(f"{args.image}: {_describe(face, found)}")
    return EXIT_OK


_DEMO_NAMES = (
    "Ada Lovelace",
    "Alan Turing",
    "Grace Hopper",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Donald Knuth",
    "Margaret Hamilton",
    "John McCarthy",
    "Frances Allen",
    "Ken Thompson",
    "Radia Perlman",
    "Dennis Ritchie",
    "Katherine Johnson",
    "Tim Berners-Lee",
    "Shafi Goldwasser",
    "Leslie Lamport",
    "Hedy Lamarr",
    "Niklaus Wirth",
    "Sophie Wilson",
    "Guido van Rossum",
)


def _demo_photos(root: Path, persons: int, photos: int) -> list[tuple[str, str]]:
    """Write the demo photo set; returns the deliberately bad images and why they are bad."""
    from face_async.emulator import make_face_image

    names = [
        _DEMO_NAMES[i % len(_DEMO_NAMES)] + ("" if i < len(_DEMO_NAMES) else f" {i}")
        for i in range(persons)
    ]
    for name in names:
        folder = root / name
        folder.mkdir(parents=True)
        for j in range(photos):
            (folder / f"photo-{j + 1}.jpg").write_bytes(make_face_image(name, variant=j))
    bad = [
        (names[0], "group-photo.jpg", make_face_image(names[0], faces=2, variant=90), "two faces"),
        (
            names[1 % persons],
            "landscape.jpg",
            make_face_image("nobody", faces=0, variant=91),
            "no face",
        ),
        (names[2 % persons], "corrupt.jpg", b"\x00not a photo" * 200, "not an image"),
        (
            names[3 % persons],
            "thumbnail.png",
            make_face_image(names[3 % persons], fmt="png", min_bytes=0)[:600],
            "under 1 KB",
        ),
    ]
    for name, filename, data, _ in bad:
        (root / name / filename).write_bytes(data)
    return [(f"{name}/{filename}", why) for name, filename, _, why in bad]


async def _demo_command(args: argparse.Namespace) -> int:
    from face_async._client import AsyncFaceClient
    from face_async.emulator import Emulator, make_face_image

    out = sys.stdout
    with tempfile.TemporaryDirectory(prefix="face-async-demo-") as tmp:
        root = Path(tmp) / "photos"
        bad = _demo_photos(root, args.persons, args.photos)
        print(f"face-async demo: {args.persons} persons x {args.photos} photos in {root}", file=out)
        print("  planted bad images: " + "; ".join(f"{p} ({why})" for p, why in bad), file=out)
        async with Emulator() as emu:
            emu.config.latency = {"*AddFace*": args.latency}
            print(
                f"  local Face API emulator at {emu.url} (no key, no network needed)\n",
                file=out,
                flush=True,
            )
            progress = Progress(args.progress, out, root=root, plain="ticks")
            async with AsyncFaceClient(emu.url, key=emu.key) as client:
                try:
                    report = await enroll(
                        client, "demo", root, max_concurrency=8, on_event=progress
                    )
                finally:
                    progress.close()
                print(summary_table(report, root), file=out)
                names = sorted(path.name for path in root.iterdir())
                probes = sorted({names[0], names[len(names) // 2], names[-1]})
                print("\nidentifying new photos:", file=out)
                for name in [*probes, "a stranger"]:
                    photo = make_face_image(name, variant=77)
                    results = await identify_image(client, photo, "demo", large=False)
                    who = results[0][1][0] if results and results[0][1] else None
                    said = f"{who[0]} (confidence {who[1]:.2f})" if who else "unknown"
                    print(f"  new photo of {name:<18} -> {said}", file=out, flush=True)
    return EXIT_OK


# --- parser and entry point ----------------------------------------------------------------------


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _add_connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--group", required=True, metavar="ID", help="person group id")
    parser.add_argument("--large", action="store_true", help="a LargePersonGroup")
    parser.add_argument(
        "--endpoint", metavar="URL|REGION",
        help="endpoint URL or region name (default: $FACE_API_ENDPOINT)",
    )  # fmt: skip
    parser.add_argument(
        "--key-env", default="FACE_API_KEY", metavar="NAME",
        help="environment variable holding the subscription key (default: %(default)s)",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``face-async``."""
    parser = argparse.ArgumentParser(
        prog="face-async",
        description="Azure Face API v1.0 from the command line: bulk enrollment, "
                    "identification, a local emulator and a demo.",
        epilog="exit codes: 0 ok, 1 some images failed / no face, 2 usage, "
               "3 service or network error (rerun to continue), 130 interrupted",
    )  # fmt: skip
    from face_async import __version__

    parser.add_argument("--version", action="version", version=f"face-async {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "enroll",
        help="enroll a folder of photos, one folder per person",
        description="Enroll PHOTOS_DIR/<person name>/*.{jpg,jpeg,png,gif,bmp}"
        " exactly once; rerun the same command to resume.",
    )
    p.add_argument("photos_dir", metavar="PHOTOS_DIR")
    _add_connection(p)
    p.add_argument(
        "--journal",
        default=DEFAULT_JOURNAL,
        metavar="FILE",
        help="sqlite journal that makes reruns resume (default: %(default)s)",
    )
    p.add_argument(
        "--max-concurrency",
        type=_positive_int,
        default=16,
        metavar="N",
        help="writes in flight at once, one per person (default: %(default)s)",
    )
    p.add_argument(
        "--tps",
        type=_positive_float,
        default=None,
        metavar="N",
        help="client-side calls per second limit (default: none)",
    )
    p.add_argument("--no-train", action="store_true", help="do not train the group")
    p.add_argument(
        "--progress",
        choices=("auto", "bar", "lines", "none"),
        default="auto",
        help="progress display (default: bar on a terminal, else lines)",
    )
    p.set_defaults(handler=_enroll_command)

    p = commands.add_parser("identify", help="identify the faces of a photo in a group")
    p.add_argument("image", metavar="IMAGE")
    _add_connection(p)
    p.add_argument(
        "--candidates",
        type=_positive_int,
        default=1,
        metavar="N",
        help="candidates per face (default: %(default)s)",
    )
    p.set_defaults(handler=_identify_command)

    from face_async.emulator import _cli as emulator_cli

    p = commands.add_parser(
        "emulator",
        help="run the local Face API emulator",
        description="Run the local Face API v1.0 emulator.",
    )
    emulator_cli.configure_parser(p)
    p.set_defaults(sync_handler=emulator_cli.run)

    p = commands.add_parser(
        "demo", help="enroll and identify a generated photo set locally (no key, no network)"
    )
    p.add_argument("--persons", type=_positive_int, default=20, help="(default: %(default)s)")
    p.add_argument(
        "--photos", type=_positive_int, default=5, help="photos per person (default: %(default)s)"
    )
    p.add_argument(
        "--latency",
        type=float,
        default=0.02,
        help="emulated seconds per add-face call (default: %(default)s)",
    )
    p.add_argument(
        "--progress",
        choices=("auto", "bar", "lines", "ticks", "none"),
        default="auto",
        help="(default: bar on a terminal, else ticks)",
    )
    p.set_defaults(handler=_demo_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``face-async``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    sync_handler: Callable[[argparse.Namespace], int] | None = getattr(args, "sync_handler", None)
    try:
        if sync_handler is not None:
            return int(sync_handler(args))
        handler: Callable[[argparse.Namespace], Coroutine[Any, Any, int]] = args.handler
        return asyncio.run(handler(args))
    except KeyboardInterrupt:
        print("interrupted; run the same command again to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (_UsageError, FaceValidationError) as exc:
        print(f"face-async: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (FaceError, OSError) as exc:
        print(f"face-async: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
