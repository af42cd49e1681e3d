"""Scenario 9 — a streamed source grouped by person against the same images interleaved.

``enroll()`` of ``persons`` x ``per_person`` images from an iterator, ``max_concurrency`` writes
at most, against an emulator process whose add-face answers after ``latency_s`` (long against
the client's CPU per call, so that the time measures how busy the slots are). The same images
are streamed once grouped by person (every image of p0, then p1, ...) and once interleaved
(one of each person in turn); the runs alternate, each on a fresh group. Per run: the wall
time, and the add-face calls in flight on average at the emulator (the service time they held
over the span from one latency before the first confirmation to the last). Target: grouped
within 1.1x the interleaved time (median over runs), ~``max_concurrency`` writes in flight.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from benchmarks import _harness

TARGET_RATIO = 1.1


def _sources(persons: int, per_person: int) -> dict[str, list[tuple[str, bytes]]]:
    from face_async.emulator import make_face_image

    photos = {
        f"p{i}": [make_face_image(f"stream-{i}", variant=j) for j in range(per_person)]
        for i in range(persons)
    }
    return {
        "grouped": [(name, image) for name, images in photos.items() for image in images],
        "interleaved": [(name, photos[name][j]) for j in range(per_person) for name in photos],
    }


async def _one(
    emu: _harness.EmulatorProcess,
    group: str,
    pairs: list[tuple[str, bytes]],
    config: dict[str, Any],
) -> dict[str, Any]:
    from face_async import AsyncFaceClient
    from face_async._enroll import EnrollEvent, FaceAdded, enroll

    added: list[float] = []

    def on_event(event: EnrollEvent) -> None:
        if isinstance(event, FaceAdded):
            added.append(time.monotonic())

    await asyncio.to_thread(emu.reset)
    async with AsyncFaceClient(emu.url, key=emu.key) as client:
        started = time.monotonic()
        report = await enroll(
            client, group, iter(pairs), max_concurrency=config["concurrency"], train=False,
            on_event=on_event,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    stats = await asyncio.to_thread(emu.stats)
    span = (added[-1] - added[0] + config["latency_s"]) if added else 0.0
    return {
        "seconds": elapsed,
        "faces_added": report.faces_added,
        "in_flight": stats["delay_seconds"] / span if span else 0.0,
        "max_parallel_writes": stats["max_parallel_writes"],
        "max_writes_per_person": stats["max_concurrent_writes_per_person"],
        "conflicts": stats["conflicts"],
    }


def run(config: dict[str, Any]) -> dict[str, Any]:
    """Alternating grouped and interleaved runs; the ratio of the medians."""
    sources = _sources(config["persons"], config["per_person"])
    runs: dict[str, list[dict[str, Any]]] = {"grouped": [], "interleaved": []}
    latency = {"*AddFace*": config["latency_s"]}
    with _harness.EmulatorProcess(latency=latency, conflict_mode="conflict") as emu:
        for index in range(config["runs"]):
            for label in ("interleaved", "grouped"):
                runs[label].append(
                    asyncio.run(_one(emu, f"{label}-{index}", sources[label], config))
                )
    grouped = [r["seconds"] for r in runs["grouped"]]
    interleaved = [r["seconds"] for r in runs["interleaved"]]
    ratios = [g / i for g, i in zip(grouped, interleaved, strict=True)]
    return {
        "config": {k: v for k, v in config.items() if k != "name"},
        "runs": runs,
        "ratio": _harness.summarize(ratios),
        "ratio_of_medians": statistics.median(grouped) / statistics.median(interleaved),
        "in_flight_grouped": _harness.summarize([r["in_flight"] for r in runs["grouped"]]),
    }


def target_rows(result: dict[str, Any]) -> list[str]:
    """The scenario's row of the targets table."""
    cfg = result["config"]
    ratio = result["ratio_of_medians"]
    busy = result["in_flight_grouped"]
    every = [r for rs in result["runs"].values() for r in rs]
    clean = all(
        r["faces_added"] == cfg["persons"] * cfg["per_person"]
        and r["conflicts"] == 0 and r["max_writes_per_person"] == 1
        for r in every
    )  # fmt: skip
    met = clean and ratio <= TARGET_RATIO and busy["median"] >= 0.8 * cfg["concurrency"]
    return [
        f"| streamed, grouped {cfg['persons']} x {cfg['per_person']} at max_concurrency="
        f"{cfg['concurrency']}: ≤ {TARGET_RATIO}x the interleaved time, "
        f"~{cfg['concurrency']} writes in flight "
        f"| {ratio:.3f}x (runs {result['ratio']['min']:.3f}-{result['ratio']['max']:.3f}); "
        f"{busy['median']:.2f} in flight ({busy['min']:.2f}-{busy['max']:.2f}) "
        f"| {'met' if met else '**missed**'} | n/a |"
    ]
