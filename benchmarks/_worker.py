"""One client workload in a process of its own: ``python -m benchmarks._worker < spec.json``.

The spec (JSON on stdin) names the task and the client; the worker prints one line
``RESULT {json}`` on stdout. CPU time is ``time.process_time()`` of this process (all its
threads) around the measured workload only, after a warm-up; wall time is ``perf_counter``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import traceback
from collections import Counter
from typing import Any

from benchmarks import _peers


def _rss_peak_kib() -> int:
    """Peak RSS of this process in KiB.

    VmHWM (the address space's high-water mark) rather than ``ru_maxrss``: on Linux the latter
    survives execve, so a worker would report its parent's RSS at fork time when that is larger.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _rss_now_kib() -> int | None:
    try:
        with open("/proc/self/statm") as fh:
            import os

            pages = int(fh.read().split()[1])
            return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return None


# ---------------------------------------------------------------------------------------------
# overhead: N add-face calls, C concurrent, one body


async def _overhead_async(spec: dict[str, Any], body: bytes) -> dict[str, Any]:
    peer = await _peers.make_async_peer(spec["client"], spec["url"], spec["key"])
    group, persons = spec["group"], spec["persons"]
    concurrency = spec["concurrency"]
    errors: Counter[str] = Counter()

    async def run(total: int) -> None:
        indices = iter(range(total))

        async def lane() -> None:
            for i in indices:
                try:
                    await peer.add_face(group, persons[i % len(persons)], body)
                except Exception as exc:
                    errors[_peers.error_name(exc)] += 1

        await asyncio.gather(*(lane() for _ in range(concurrency)))

    try:
        await run(spec["warmup"])
        errors.clear()
        profiler = None
        if spec.get("profile_path"):
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        await run(spec["calls"])
        cpu1, wall1 = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.disable()
            _write_profile(profiler, spec)
    finally:
        await peer.aclose()
    return {"cpu_s": cpu1 - cpu0, "wall_s": wall1 - wall0, "errors": dict(errors)}


def _write_profile(profiler: Any, spec: dict[str, Any]) -> None:
    import io
    import pstats

    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    stats.sort_stats("tottime").print_stats(30)
    with open(spec["profile_path"], "w") as fh:
        fh.write(
            f"# {spec['client']}: {spec['calls']} add-face calls, {spec['concurrency']} "
            "concurrent, under cProfile (timings inflated), by own time\n"
        )
        fh.write(buffer.getvalue())


def _overhead_threads(spec: dict[str, Any], body: bytes) -> dict[str, Any]:
    peer = _peers.make_sync_peer(spec["client"], spec["url"], spec["key"])
    group, persons = spec["group"], spec["persons"]
    concurrency = spec["concurrency"]
    errors: Counter[str] = Counter()
    lock = threading.Lock()

    def run(total: int) -> None:
        indices = iter(range(total))  # next() on a range iterator is atomic under the GIL

        def lane() -> None:
            for i in indices:
                try:
                    peer.add_face(group, persons[i % len(persons)], body)
                except Exception as exc:
                    with lock:
                        errors[_peers.error_name(exc)] += 1

        threads = [threading.Thread(target=lane) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    try:
        run(spec["warmup"])
        errors.clear()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        run(spec["calls"])
        cpu1, wall1 = time.process_time(), time.perf_counter()
    finally:
        peer.close()
    return {"cpu_s": cpu1 - cpu0, "wall_s": wall1 - wall0, "errors": dict(errors)}


def task_overhead(spec: dict[str, Any]) -> dict[str, Any]:
    with open(spec["body_path"], "rb") as fh:
        body = fh.read()
    if spec["client"] in _peers.SYNC_CLIENTS:
        result = _overhead_threads(spec, body)
    else:
        result = asyncio.run(_overhead_async(spec, body))
    calls = spec["calls"]
    result["calls"] = calls
    result["cpu_us_per_call"] = result["cpu_s"] / calls * 1e6
    result["calls_per_s"] = calls / result["wall_s"] if result["wall_s"] > 0 else None
    return result


# ---------------------------------------------------------------------------------------------


TASKS = {
    "overhead": task_overhead,
}


def _load_task(task: str) -> None:
    # The heavier tasks live in their scenario modules; imported on demand so the overhead
    # worker loads nothing but the client under test.
    import importlib

    if task in ("parse", "makespan", "scale", "fairness"):
        module = importlib.import_module(f"benchmarks.{task}")
        TASKS[task] = getattr(module, f"task_{task}")


def main() -> int:
    import os

    cpus = os.environ.get("FACE_BENCH_CPUS")
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
    spec = json.loads(sys.stdin.read())
    task = spec["task"]
    try:
        if task not in TASKS:
            _load_task(task)
        result = TASKS[task](spec)
    except Exception:
        traceback.print_exc()
        return 1
    result.setdefault("rss_peak_kib", _rss_peak_kib())
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
