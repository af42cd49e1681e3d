"""Scenario 4 — scale: 1k, 10k and 100k faces through face-async's ``enroll()``.

Zero latency, no rate limit: the client is the bottleneck. The source is lazy (a generator of
(person, photo) pairs made on the fly, each photo with a distinct fingerprint; streamed by
``enroll()``), so the client's memory should stay
flat while the wall time grows linearly. Reported per size: wall time, client CPU, faces/s,
RSS after start-up (before the enrollment) and the process's peak RSS (VmHWM).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import _harness
from benchmarks._harness import EmulatorProcess, HarnessError, summarize


def _lazy_pairs(group: str, persons: int, faces_per_person: int, block: int) -> Iterator[Any]:
    """(person name, photo) pairs made on the fly, each photo with a distinct fingerprint.

    Persons come in blocks of ``block``, their faces interleaved within the block (face 0 of
    each, then face 1 of each, ...), so a streamed enrollment has ``block`` persons to work on
    in parallel without the whole source in memory.
    """
    from face_async.emulator import make_face_image

    for start in range(0, persons, block):
        members = range(start, min(persons, start + block))
        for j in range(faces_per_person):
            for p in members:
                yield f"s{p:06d}", make_face_image(f"{group}/s{p}", variant=j)


async def _run(spec: dict[str, Any]) -> dict[str, Any]:
    from benchmarks._worker import _rss_now_kib
    from face_async.emulator import make_face_image

    make_face_image("warm-up")  # imports done before any baseline
    from face_async import AsyncFaceClient
    from face_async._enroll import enroll

    faces_per_person = spec["faces_per_person"]
    persons = spec["faces"] // faces_per_person
    journal = spec.get("journal")  # None: enroll()'s default (an in-memory journal)
    tracing = bool(spec.get("tracemalloc"))
    peak_snapshot: list[Any] = []
    baseline: list[Any] = []
    on_event = None
    if tracing:
        import tracemalloc

        tracemalloc.start(8)
        peak = [0]
        seen = [0]
        sample_every = max(25, spec["faces"] // 40)

        def on_event(_: object) -> None:
            # Keep the snapshot taken at the highest traced memory (sampled ~40 times a run).
            seen[0] += 1
            if seen[0] % sample_every:
                return
            current = tracemalloc.get_traced_memory()[0]
            if current > peak[0]:
                peak[0] = current
                peak_snapshot[:] = [tracemalloc.take_snapshot()]

    async with AsyncFaceClient(spec["url"], key=spec["key"]) as client:
        # Warm the connection and the imports before the baseline.
        await client.large_person_groups.get(spec["group"])
        source = _lazy_pairs(spec["group"], persons, faces_per_person, spec["concurrency"])
        rss_before = _rss_now_kib()
        if tracing:
            import tracemalloc

            baseline.append(tracemalloc.take_snapshot())
        cpu0, t0 = time.process_time(), time.perf_counter()
        report = await asyncio.wait_for(
            enroll(
                client,
                spec["group"],
                source,
                large=True,
                max_concurrency=spec["concurrency"],
                train=False,
                journal=journal,
                on_event=on_event,
            ),
            spec["bound_s"],
        )
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        rss_after = _rss_now_kib()
    from benchmarks.makespan import _report_summary

    if tracing and peak_snapshot:
        _write_tracemalloc(peak_snapshot[0], baseline[0], spec)
    return {
        "faces": persons * faces_per_person,
        "persons": persons,
        "wall_s": wall,
        "cpu_s": cpu,
        "faces_per_s": persons * faces_per_person / wall if wall else None,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "report": _report_summary(report),
    }


def _write_tracemalloc(snapshot: Any, baseline: Any, spec: dict[str, Any]) -> None:
    growth = snapshot.compare_to(baseline, "traceback")
    total = sum(stat.size_diff for stat in growth)
    with open(spec["tracemalloc_path"], "w") as fh:
        fh.write(
            f"# face-async enroll() of {spec['faces']:,} faces: Python memory grown since the "
            f"start of the enrollment, at the highest sampled point ({total / 2**20:+.1f} MiB "
            "traced; sqlite's own memory is not traced), largest first\n\n"
        )
        for stat in growth[:12]:
            fh.write(f"{stat.size_diff / 2**20:+8.2f} MiB in {stat.count_diff:>+9,} blocks\n")
            for line in stat.traceback.format()[-8:]:
                fh.write(f"    {line}\n")
            fh.write("\n")


def task_scale(spec: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(_run(spec))


def _diagnose(emu: EmulatorProcess, config: dict[str, Any], size: int, tmp: Path) -> dict[str, Any]:
    """Why memory grows: the same enrollment with a file journal, then under tracemalloc."""
    out: dict[str, Any] = {"faces": size}
    base = {
        "task": "scale",
        "url": emu.url,
        "key": emu.key,
        "faces": size,
        "faces_per_person": config["faces_per_person"],
        "concurrency": config["concurrency"],
        "bound_s": config["bound_s"],
    }
    profile_dir = Path(config["profile_dir"])
    variants: dict[str, dict[str, Any]] = {
        "file_journal": {"journal": str(tmp / "journal.sqlite3")},
        "tracemalloc": {
            "tracemalloc": True,
            "tracemalloc_path": str(profile_dir / "profile_scale_memory.txt"),
        },
    }
    for name, extra in variants.items():
        emu.reset()
        group = f"scale-diag-{name.replace('_', '-')}"
        emu.create_large_group(group)
        try:
            res = _harness.run_worker({**base, **extra, "group": group}, timeout=config["bound_s"])
        except HarnessError as exc:
            out[name] = f"failed: {str(exc).splitlines()[-1]}"
            continue
        out[name] = {
            "wall_s": res["wall_s"],
            "rss_before_mib": (res["rss_before_kib"] or 0) / 1024,
            "rss_peak_mib": res["rss_peak_kib"] / 1024,
        }
        _harness.log(f"scale diagnostic {name} at {size}: {out[name]}")
    if (profile_dir / "profile_scale_memory.txt").exists():
        out["profile"] = "profile_scale_memory.txt"
    return out


def run(config: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"config": dict(config), "sizes": {}, "na": {}}
    ok, why = _harness.peer_available("face-async")
    if not ok:
        result["na"]["face-async"] = why
        return result
    with tempfile.TemporaryDirectory(prefix="face-bench-") as tmp:
        emu = EmulatorProcess(conflict_mode="conflict", log_path=Path(tmp) / "emulator.log")
        with emu:
            raw: dict[int, list[dict[str, Any]]] = {size: [] for size in config["sizes"]}
            for round_no in range(config["runs"]):
                for size in config["sizes"]:
                    emu.reset()
                    group = f"scale-{size}-{round_no}"
                    emu.create_large_group(group)
                    spec = {
                        "task": "scale",
                        "url": emu.url,
                        "key": emu.key,
                        "group": group,
                        "faces": size,
                        "faces_per_person": config["faces_per_person"],
                        "concurrency": config["concurrency"],
                        "bound_s": config["bound_s"],
                    }
                    emu_cpu0 = emu.cpu_seconds()
                    try:
                        out = _harness.run_worker(spec, timeout=config["bound_s"] + 60)
                    except HarnessError as exc:
                        result["na"][str(size)] = f"worker failed: {str(exc).splitlines()[-1]}"
                        _harness.log(f"scale {size}: {exc}")
                        continue
                    emu_cpu1 = emu.cpu_seconds()
                    if emu_cpu0 is not None and emu_cpu1 is not None:
                        out["emulator_cpu_s"] = emu_cpu1 - emu_cpu0
                    stats = emu.stats()
                    summary = stats.get("state", {}).get("large_person_groups", {}).get(group, {})
                    out["stored"] = int(summary.get("faces", 0))
                    out["duplicated"] = int(summary.get("duplicates", 0))
                    out["lost"] = max(0, out["faces"] - (out["stored"] - out["duplicated"]))
                    raw[size].append(out)
                    _harness.log(
                        f"scale {size} round {round_no + 1}/{config['runs']}: "
                        f"{out['wall_s']:.1f}s, {out['faces_per_s']:.0f} faces/s, "
                        f"RSS {out['rss_before_kib'] / 1024:.0f} -> peak "
                        f"{out['rss_peak_kib'] / 1024:.0f} MiB, lost={out['lost']} "
                        f"dup={out['duplicated']}"
                    )
            diagnose = config.get("diagnose_size")
            if diagnose and config.get("profile_dir"):
                result["diagnostics"] = _diagnose(emu, config, int(diagnose), Path(tmp))
            for size, runs_out in raw.items():
                if not runs_out:
                    continue
                result["sizes"][str(size)] = {
                    "faces": size,
                    "wall_s": summarize([r["wall_s"] for r in runs_out]),
                    "cpu_s": summarize([r["cpu_s"] for r in runs_out]),
                    "faces_per_s": summarize([r["faces_per_s"] for r in runs_out]),
                    "cpu_us_per_face": summarize([r["cpu_s"] / size * 1e6 for r in runs_out]),
                    "emulator_cpu_us_per_face": summarize(
                        [
                            r["emulator_cpu_s"] / size * 1e6
                            for r in runs_out
                            if "emulator_cpu_s" in r
                        ]
                    ),
                    "rss_before_mib": summarize(
                        [r["rss_before_kib"] / 1024 for r in runs_out if r["rss_before_kib"]]
                    ),
                    "rss_peak_mib": summarize([r["rss_peak_kib"] / 1024 for r in runs_out]),
                    "duplicated": summarize([r["duplicated"] for r in runs_out]),
                    "lost": summarize([r["lost"] for r in runs_out]),
                    "runs": runs_out,
                }
    return result
