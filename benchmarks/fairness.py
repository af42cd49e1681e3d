"""Scenario 6 — fairness: 200 asyncio tasks looping on one endpoint at the default pool size.

The emulator (its own process) adds a fixed latency to PersonGroup_Get / LargePersonGroup_Get.
In a worker process, ``tasks`` coroutines each GET one person group in a loop until
``duration_s`` has passed (a call started before the deadline runs to its end):

- face-async: ``AsyncFaceClient(url, key=...)`` with its default pool (100 in total, 64 per
  host), admitted first come, first served by its gate;
- raw aiohttp: one ``ClientSession`` on ``TCPConnector(limit=100, limit_per_host=64)``, the
  same pool size — aiohttp's connector hands a released connection to whoever asks next, so
  the busy tasks keep it and the rest wait.

Per run: calls/s, the client's CPU per call, completed calls per task (min, max, max/min,
tasks with at most one), the wait of each call (its latency, queueing included: mean, p99, max,
max/mean) and the errors and timeouts seen. The clients are interleaved over the runs.

The worker is ``benchmarks._worker`` running :func:`task_fairness` (spec ``task: "fairness"``):
one ``RESULT {json}`` line on stdout, like every other scenario.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks import _harness
from benchmarks._harness import EmulatorProcess, HarnessError, summarize

CLIENTS = ("face-async", "aiohttp")
LABELS = {
    "face-async": "face-async (default pool: 100, 64 per host)",
    "aiohttp": "raw aiohttp, TCPConnector(limit=100, limit_per_host=64)",
}
GROUP = "fairness"

# Figures summarised over the runs (median, min-max), each a key of a run's result.
FIGURES = (
    "calls_per_s",
    "cpu_us_per_call",
    "completed_min",
    "completed_max",
    "completed_max_over_min",
    "tasks_at_most_one",
    "wait_mean_ms",
    "wait_p99_ms",
    "wait_max_ms",
    "wait_max_over_mean",
    "errors_total",
    "timeouts",
    "retries",
    "emulator_max_in_flight",
)


# ---------------------------------------------------------------------------------------------
# worker side


async def _face_async_caller(
    spec: dict[str, Any],
) -> tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[dict[str, int]]]]:
    from face_async import AsyncFaceClient

    client = AsyncFaceClient(spec["url"], key=spec["key"])
    await client.__aenter__()
    group = spec["group"]

    def call() -> Awaitable[object]:
        return client.person_groups.get(group)

    async def close() -> dict[str, int]:
        stats = client.stats
        await client.__aexit__(None, None, None)
        return {
            "timeouts": stats.timeouts,
            "retries": stats.retries,
            "connection_errors": stats.connection_errors,
            "requests": stats.requests,
        }

    return call, close


async def _aiohttp_caller(
    spec: dict[str, Any],
) -> tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[dict[str, int]]]]:
    import aiohttp

    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=spec["limit"], limit_per_host=spec["limit_per_host"])
    )
    url = f"{spec['url']}/face/v1.0/persongroups/{spec['group']}"
    headers = {_harness.KEY_HEADER: spec["key"]}

    async def call() -> object:
        async with session.get(url, headers=headers) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}")
        return body

    async def close() -> dict[str, int]:
        await session.close()
        return {}

    return call, close


def _percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank ``q`` percentile of a sorted, non-empty list."""
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


async def _loop(spec: dict[str, Any]) -> dict[str, Any]:
    maker = _face_async_caller if spec["client"] == "face-async" else _aiohttp_caller
    call, close = await maker(spec)
    tasks = spec["tasks"]
    completed = [0] * tasks
    waits: list[float] = []
    errors: Counter[str] = Counter()
    timed_out = False
    loop = asyncio.get_running_loop()
    try:
        await call()  # warm-up: one connection and the imports, before the clock starts
        started = loop.time()
        stop_at = started + spec["duration_s"]

        async def looping(index: int) -> None:
            while loop.time() < stop_at:
                t0 = loop.time()
                try:
                    await call()
                except Exception as exc:  # counted, and the task goes on looping
                    errors[type(exc).__name__] += 1
                    continue
                waits.append(loop.time() - t0)
                completed[index] += 1

        cpu0 = time.process_time()
        try:
            await asyncio.wait_for(
                asyncio.gather(*(looping(i) for i in range(tasks))),
                spec["duration_s"] + spec["grace_s"],
            )
        except asyncio.TimeoutError:
            timed_out = True  # calls still running past the grace period were cancelled
        wall = loop.time() - started
        cpu = time.process_time() - cpu0
    finally:
        client_stats = await close()
    ordered = sorted(waits)
    low, high = min(completed), max(completed)
    mean = statistics.fmean(ordered) if ordered else None
    worst = ordered[-1] if ordered else None
    return {
        "client": spec["client"],
        "tasks": tasks,
        "duration_s": spec["duration_s"],
        "wall_s": wall,
        "cpu_s": cpu,
        "calls": len(ordered),
        "calls_per_s": len(ordered) / wall if wall > 0 else None,
        "cpu_us_per_call": cpu / len(ordered) * 1e6 if ordered else None,
        "completed_min": low,
        "completed_max": high,
        "completed_max_over_min": high / low if low else None,
        "tasks_at_most_one": sum(1 for n in completed if n <= 1),
        "completed_sorted": sorted(completed),
        "wait_mean_ms": None if mean is None else mean * 1e3,
        "wait_p50_ms": _percentile(ordered, 50) * 1e3 if ordered else None,
        "wait_p99_ms": _percentile(ordered, 99) * 1e3 if ordered else None,
        "wait_max_ms": None if worst is None else worst * 1e3,
        "wait_max_over_mean": worst / mean if mean else None,
        "errors": dict(errors),
        "errors_total": sum(errors.values()),
        # face-async counts every timed-out attempt (retried ones too); aiohttp raises them.
        "timeouts": client_stats.get(
            "timeouts", sum(n for kind, n in errors.items() if "Timeout" in kind)
        ),
        "retries": client_stats.get("retries", 0),
        "client_stats": client_stats,
        "timed_out": timed_out,
    }


def task_fairness(spec: dict[str, Any]) -> dict[str, Any]:
    """The worker's task: the looping callers of one client, timed."""
    return asyncio.run(_loop(spec))


# ---------------------------------------------------------------------------------------------
# orchestrator side


def _summaries(runs_out: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key in FIGURES:
        row[key] = summarize([r[key] for r in runs_out if r.get(key) is not None])
    # A task that never completed a call makes max/min infinite: say so rather than drop it.
    row["starved_runs"] = sum(1 for r in runs_out if r["completed_min"] == 0)
    errors: Counter[str] = Counter()
    for r in runs_out:
        errors.update(r["errors"])
    row["errors"] = dict(errors)
    return row


def run(config: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"config": dict(config), "clients": {}, "na": {}}
    clients = _harness.available_clients(config["clients"], result["na"])
    raw: dict[str, list[dict[str, Any]]] = {name: [] for name in clients}
    latency = {op: config["latency_s"] for op in ("PersonGroup_Get", "LargePersonGroup_Get")}
    with tempfile.TemporaryDirectory(prefix="face-bench-") as tmp:
        emu = EmulatorProcess(latency=latency, log_path=Path(tmp) / "emulator.log")
        with emu:
            for round_no in range(config["runs"]):
                for name in _harness.interleaved(clients, round_no):
                    spec = {
                        "task": "fairness",
                        "client": name,
                        "url": emu.url,
                        "key": emu.key,
                        "group": GROUP,
                        "tasks": config["tasks"],
                        "duration_s": config["duration_s"],
                        "grace_s": config["grace_s"],
                        "limit": config["limit"],
                        "limit_per_host": config["limit_per_host"],
                    }
                    emu.reset()  # counters and state: the group is created afresh
                    status, body = emu.request(
                        "PUT", f"/face/v1.0/persongroups/{GROUP}", {"name": GROUP}
                    )
                    if status != 200:
                        raise HarnessError(f"create person group -> {status}: {str(body)[:300]}")
                    try:
                        out = _harness.run_worker(
                            spec, timeout=config["duration_s"] + config["grace_s"] + 60
                        )
                    except HarnessError as exc:
                        result["na"][name] = f"worker failed: {str(exc).splitlines()[-1][:200]}"
                        _harness.log(f"fairness {name}: {exc}")
                        continue
                    stats = emu.stats()
                    out["emulator_max_in_flight"] = stats.get("max_in_flight")
                    out["emulator_requests"] = stats.get("total_requests")
                    out["round"] = round_no
                    raw[name].append(out)
                    _harness.log(
                        f"fairness round {round_no + 1}/{config['runs']} {name}: "
                        f"{out['calls_per_s'] or 0:.0f} calls/s, completed per task "
                        f"{out['completed_min']}-{out['completed_max']}, "
                        f"{out['tasks_at_most_one']} tasks <= 1 call, wait mean "
                        f"{out['wait_mean_ms'] or 0:.0f} ms max {out['wait_max_ms'] or 0:.0f} ms, "
                        f"errors={out['errors']} timeouts={out['timeouts']}"
                    )
    for name in clients:
        if not raw[name]:
            continue
        result["clients"][name] = {
            "label": LABELS.get(name, name),
            **_summaries(raw[name]),
            "runs": raw[name],
        }
    return result
