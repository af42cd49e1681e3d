"""The commands of ``face-async``: enroll, identify and demo (the emulator is its own module)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from face_async._cli._exit import EXIT_FAILURES, EXIT_OK, EXIT_RETRYABLE, Refused, UsageError
from face_async._cli._parser import REDIS_URL_ENV, SHARD_INDEX_ENV
from face_async._cli._photos import scan_photos
from face_async._cli._progress import Progress
from face_async._cli._report import JsonReport, summary_counts, summary_table
from face_async._enroll import EnrollEvent, EnrollReport, default_journal_path, enroll
from face_async._enroll._sources import ERROR, OUTCOME_UNKNOWN
from face_async._env import ENDPOINT_ENV, endpoint_from_env, key_from_env
from face_async._errors import Conflict, LargePersonGroupNotFound, NotFound, PersonGroupNotFound
from face_async._images import is_url

if TYPE_CHECKING:
    from face_async._client import AsyncFaceClient
    from face_async._models import DetectedFace

__all__ = [
    "demo_command",
    "enroll_command",
    "enroll_exit_code",
    "identify_command",
    "identify_image",
]

# Failures a rerun may fix: the write is in doubt, or the service or network failed.
_RERUN_FIXES = frozenset({OUTCOME_UNKNOWN, ERROR})


def enroll_exit_code(report: EnrollReport) -> int:
    """0 all enrolled; 3 a rerun may finish the job; 1 some images can never be enrolled."""
    if report.ok:
        return EXIT_OK
    if any(failure.reason in _RERUN_FIXES for failure in report.failures):
        return EXIT_RETRYABLE
    return EXIT_FAILURES


_LIST_LIMIT = 10  # files left out listed on screen (all of them go to --report)


def _credentials(args: argparse.Namespace) -> tuple[str, str]:
    endpoint = args.endpoint or endpoint_from_env()
    if not endpoint:
        raise UsageError(
            f"no endpoint: pass --endpoint URL|REGION or set {ENDPOINT_ENV}",
            hint="for the local emulator: `face-async emulator` prints the variables to export",
        )
    key = key_from_env(args.key_env)
    if key is None:
        raise UsageError(
            f"no key: set the {args.key_env} environment variable",
            hint="the key is read from the environment only, never from the command line",
        )
    return endpoint, key


def _client(args: argparse.Namespace, **options: Any) -> AsyncFaceClient:
    from face_async._client import AsyncFaceClient

    endpoint, key = _credentials(args)
    return AsyncFaceClient(
        endpoint, key=key, timeout=args.timeout, allow_insecure_http=args.allow_insecure_http,
        **options,
    )  # fmt: skip


@contextlib.contextmanager
def _report_file(path: str | None) -> Iterator[TextIO | None]:
    if path is None:
        yield None
        return
    try:
        file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"cannot write the report {path!r}: {exc.strerror}") from None
    with file:
        yield file


def _shard_of_args(args: argparse.Namespace) -> tuple[int, int] | None:
    """``--shard I/N``, or ``--shards N`` with I from JOB_COMPLETION_INDEX; UsageError else."""
    if args.shard is not None and args.shards is not None:
        raise UsageError("pass --shard I/N or --shards N, not both")
    if args.shards is None:
        shard: tuple[int, int] | None = args.shard
        return shard
    text = os.environ.get(SHARD_INDEX_ENV, "").strip()
    if not text.isdigit() or not int(text) < args.shards:
        raise UsageError(
            f"--shards {args.shards} needs {SHARD_INDEX_ENV} set to 0 to {args.shards - 1}, "
            f"got {text!r}",
            hint="a Kubernetes Indexed Job sets it; elsewhere pass --shard I/N",
        )
    return int(text), args.shards


def _quota(args: argparse.Namespace) -> Any:
    """The RedisQuota of ``--redis-url`` / FACE_REDIS_URL (with ``--tps``), or None."""
    url = args.redis_url or os.environ.get(REDIS_URL_ENV) or None
    if url is None:
        return None
    if args.tps is None:
        raise UsageError(
            "a shared Redis quota needs --tps (the resource's calls per second)",
            hint="S0 resources allow 10 calls per second by default",
        )
    try:
        from face_async._http._redis_gate import RedisQuota

        return RedisQuota(url, tps=args.tps)
    except ImportError:
        raise UsageError(
            "--redis-url needs redis-py", hint="pip install 'face-async[redis]'"
        ) from None


async def _train_only(client: AsyncFaceClient, args: argparse.Namespace) -> int:
    groups = client.large_person_groups if args.large else client.person_groups
    try:
        await groups.train(args.group)
    except Conflict:  # a training is running: train again after it, with every face
        await groups.wait_for_training(args.group, timeout=600.0, poll_interval=0.5)
        await groups.train(args.group)
    final = await groups.wait_for_training(
        args.group, timeout=600.0, poll_interval=0.5, max_poll_interval=5.0
    )
    status = getattr(final.status, "value", final.status)
    print(f"trained {args.group}: {status}", flush=True)
    return EXIT_OK


async def enroll_command(args: argparse.Namespace) -> int:
    """``face-async enroll``: scan, enroll, summarize; 0 all enrolled, 1 some images failed."""
    shard = _shard_of_args(args)
    quota = _quota(args)
    # Usage errors before reading any folder; with a shared quota, --tps is the quota's.
    client = _client(args, tps=None if quota is not None else args.tps, quota=quota)
    if args.train_only:
        async with client:
            return await _train_only(client, args)
    photos = Path(args.photos_dir)
    try:
        scan = await asyncio.to_thread(scan_photos, photos)
    except BaseException:
        await client.aclose()
        raise
    journal = args.journal or default_journal_path(
        args.endpoint or endpoint_from_env() or "", args.group, shard=shard
    )
    out = sys.stdout
    started = time.monotonic()
    with _report_file(args.report) as report_file:
        report_out = None if report_file is None else JsonReport(report_file, photos)
        if scan.skipped:
            print(f"skipping {len(scan.skipped)} files not enrolled:", file=out)
            for path, why in scan.skipped[: _LIST_LIMIT if not args.verbose else None]:
                print(f"  {path}  ({why})", file=out)
            if len(scan.skipped) > _LIST_LIMIT and not args.verbose:
                more = len(scan.skipped) - _LIST_LIMIT
                print(f"  ... and {more} more (-v or --report lists them all)", file=out)
            out.flush()
            if report_out is not None:
                for path, why in scan.skipped:
                    report_out.left_out(path, why)
        progress = Progress(args.progress, out, root=photos)

        def on_event(event: EnrollEvent) -> None:
            if report_out is not None:
                report_out.event(event)
            progress(event)

        try:
            async with client:
                with progress.logs_through():
                    report = await enroll(
                        client, args.group, dict(scan.persons), large=args.large,
                        journal=journal, max_concurrency=args.max_concurrency,
                        train=not args.no_train and shard is None,
                        recognition_model=args.recognition_model,
                        detection_model=args.detection_model, on_event=on_event, shard=shard,
                    )  # fmt: skip
        except BaseException as exc:
            progress.close()
            if report_out is not None:
                report_out.summary({
                    "group": args.group, "completed": False,
                    "error": f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
                    "files_skipped": len(scan.skipped), **progress.counts,
                    "elapsed_seconds": round(time.monotonic() - started, 3),
                })  # fmt: skip
            raise
        progress.close()
        code = enroll_exit_code(report)
        if report_out is not None:
            report_out.summary(
                {**summary_counts(report, len(scan.skipped)), "completed": True, "exit_code": code}
            )
    print(summary_table(report, photos, left_out=len(scan.skipped)), file=out, flush=True)
    if shard is not None and not args.no_train:
        print(
            f"shard {shard[0]}/{shard[1]} done; once every shard is done, train once: "
            f"face-async enroll {args.photos_dir} --group {args.group} --train-only",
            file=out, flush=True,
        )  # fmt: skip
    return code


async def _group_recognition_model(client: AsyncFaceClient, group_id: str, *, large: bool) -> str:
    """The recognition model of the group; raises Refused with a hint when it is missing."""
    try:
        if large:
            group: Any = await client.large_person_groups.get(
                group_id, return_recognition_model=True
            )
        else:
            group = await client.person_groups.get(group_id, return_recognition_model=True)
    except (PersonGroupNotFound, LargePersonGroupNotFound) as exc:
        try:
            if large:
                await client.person_groups.get(group_id)
            else:
                await client.large_person_groups.get(group_id)
        except NotFound:
            raise Refused(
                str(exc), hint=f"run `face-async enroll PHOTOS_DIR --group {group_id}` first"
            ) from None
        if large:
            raise Refused(
                str(exc), hint="a person group (not large) of that name exists: remove --large"
            ) from None
        raise Refused(
            str(exc), hint="a large person group of that name exists: add --large"
        ) from None
    model = group.recognition_model
    return str(getattr(model, "value", model) or "recognition_01")


async def identify_image(
    client: AsyncFaceClient,
    image: Path | bytes | str,
    group_id: str,
    *,
    large: bool,
    candidates: int = 1,
    recognition_model: str = "recognition_01",
    detection_model: str = "detection_01",
) -> list[tuple[DetectedFace, list[tuple[str, float]]]]:
    """Detect the faces of an image and identify them: [(face, [(name, confidence)])]."""
    faces = await client.face.detect(
        image, recognition_model=recognition_model, detection_model=detection_model
    )
    faces = [face for face in faces if face.face_id is not None][:10]
    if not faces:
        return []
    face_ids = [face.face_id for face in faces if face.face_id is not None]
    if large:
        results = await client.face.identify(
            face_ids, large_person_group_id=group_id, max_num_of_candidates_returned=candidates
        )
    else:
        results = await client.face.identify(
            face_ids, person_group_id=group_id, max_num_of_candidates_returned=candidates
        )
    persons: Any = client.large_person_group_persons if large else client.person_group_persons
    names: dict[str, str] = {}
    by_face = {r.face_id: r for r in results}
    out: list[tuple[DetectedFace, list[tuple[str, float]]]] = []
    for face in faces:
        result = by_face.get(face.face_id or "")
        found: list[tuple[str, float]] = []
        for candidate in result.candidates if result is not None else []:
            if candidate.person_id not in names:
                person = await persons.get(group_id, candidate.person_id)
                names[candidate.person_id] = person.name or candidate.person_id
            found.append((names[candidate.person_id], candidate.confidence))
        out.append((face, found))
    return out


def _describe(face: DetectedFace, found: list[tuple[str, float]]) -> str:
    r = face.face_rectangle
    where = f"face at ({r.left},{r.top} {r.width}x{r.height})"
    if not found:
        return f"{where}: unknown"
    return f"{where}: " + ", ".join(f"{name} ({conf:.2f})" for name, conf in found)


async def identify_command(args: argparse.Namespace) -> int:
    """``face-async identify``: 0 when every image had a face, 1 when some had none or failed."""
    from face_async._errors import BadRequest

    images: list[Path | str] = []
    for text in args.images:
        if is_url(text):
            images.append(text)
            continue
        path = Path(text)
        if not await asyncio.to_thread(path.is_file):
            raise UsageError(f"no such image file: {text!r}")
        images.append(path)
    failed = 0
    async with _client(args) as client:
        model = await _group_recognition_model(client, args.group, large=args.large)
        for text, image in zip(args.images, images, strict=True):
            try:
                results = await identify_image(
                    client, image, args.group, large=args.large, candidates=args.candidates,
                    recognition_model=model, detection_model=args.detection_model,
                )  # fmt: skip
            except BadRequest as exc:
                if exc.code is not None and exc.code.endswith(("NotTrained", "BadArgument")):
                    raise
                print(f"{text}: failed: {exc}", flush=True)
                failed += 1
                continue
            if not results:
                print(f"{text}: no face found", flush=True)
                failed += 1
            for face, found in results:
                print(f"{text}: {_describe(face, found)}", flush=True)
    return EXIT_FAILURES if failed else EXIT_OK


_DEMO_NAMES = (
    "Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov",
    "Donald Knuth", "Margaret Hamilton", "John McCarthy", "Frances Allen", "Ken Thompson",
    "Radia Perlman", "Dennis Ritchie", "Katherine Johnson", "Tim Berners-Lee",
    "Shafi Goldwasser", "Leslie Lamport", "Hedy Lamarr", "Niklaus Wirth", "Sophie Wilson",
    "Guido van Rossum",
)  # fmt: skip


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
        (names[1 % persons], "landscape.jpg", make_face_image("nobody", faces=0, variant=91),
         "no face"),
        (names[2 % persons], "corrupt.jpg", b"\x00not a photo" * 200, "not an image"),
        (names[3 % persons], "thumbnail.png",
         make_face_image(names[3 % persons], fmt="png", min_bytes=0)[:600], "under 1 KB"),
    ]  # fmt: skip
    for name, filename, data, _ in bad:
        (root / name / filename).write_bytes(data)
    return [(f"{name}/{filename}", why) for name, filename, _, why in bad]


async def demo_command(args: argparse.Namespace) -> int:
    """``face-async demo``: the whole job against the embedded emulator."""
    from face_async._client import AsyncFaceClient
    from face_async.emulator import Emulator, Latency, make_face_image

    out = sys.stdout
    with tempfile.TemporaryDirectory(prefix="face-async-demo-") as tmp:
        root = Path(tmp) / "photos"
        bad = await asyncio.to_thread(_demo_photos, root, args.persons, args.photos)
        print(f"face-async demo: {args.persons} persons x {args.photos} photos in {root}", file=out)
        print("  planted bad images: " + "; ".join(f"{p} ({why})" for p, why in bad), file=out)
        async with Emulator() as emu:
            emu.config.latency = {"*AddFace*": Latency.fixed(args.latency)}
            print(f"  local Face API emulator at {emu.url} (no key, no network needed)\n",
                  file=out, flush=True)  # fmt: skip
            progress = Progress(args.progress, out, root=root, plain="ticks")
            async with AsyncFaceClient(emu.url, key=emu.key) as client:
                try:
                    with progress.logs_through():
                        report = await enroll(
                            client, "demo", root, max_concurrency=8, on_event=progress,
                            journal=os.path.join(tmp, "journal.sqlite"),
                        )  # fmt: skip
                finally:
                    progress.close()
                print(summary_table(report, root), file=out)
                names = sorted(path.name for path in root.iterdir())
                probes = sorted({names[0], names[len(names) // 2], names[-1]})
                print("\nidentifying new photos:", file=out)
                model = await _group_recognition_model(client, "demo", large=False)
                for name in [*probes, "a stranger"]:
                    photo = make_face_image(name, variant=77)
                    results = await identify_image(
                        client, photo, "demo", large=False,
                        recognition_model=model,
                        detection_model="detection_03",
                    )  # fmt: skip
                    who = results[0][1][0] if results and results[0][1] else None
                    said = f"{who[0]} (confidence {who[1]:.2f})" if who else "unknown"
                    print(f"  new photo of {name:<18} -> {said}", file=out, flush=True)
    return EXIT_OK
