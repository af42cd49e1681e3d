"""The loop-lag probe of the soak scenario, run in a process of its own.

``python -m benchmarks._lag '<json>'`` imports face-async alone (the heap a service using it
would have, not the benchmark driver's), then, on one event loop:

0. the machine's floor: ``time.sleep(0.001)`` in a plain thread for ``idle_s`` seconds;
1. an idle baseline: the probe alone for ``idle_s`` seconds — the machine's own timer and
   scheduling noise (a shared VM's steal shows here);
2. ``enroll()`` of ``faces`` faces (10 per person, a lazy source, ``max_concurrency`` writes) with
   the probe running.

The probe wakes every 1 ms (``asyncio.sleep(0.001)``) and records how late it woke (wall
clock). The loop also records the thread CPU time of each of its iterations (``_run_once``,
asyncio's private iteration step; a benchmark may lean on it): the work of one iteration is
what delays every other coroutine, free of the machine's noise. Garbage collections are timed
through ``gc.callbacks``. ``start``, the collector at the start: ``fresh`` (right after the
imports: the host's first full collection, which walks every module and class, is still to
come, and comes as soon as a few more young collections have run, whatever the program does),
``collected`` (``gc.collect()`` after the imports: a process past that first full collection,
as a service running for a while is), ``frozen`` (``gc.freeze()`` after start-up, as the
``face-async`` program does). Samples go into ``array`` buffers, so that measuring adds no
objects for the collector to walk. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from array import array
from pathlib import Path
from typing import Any


class MeasuredLoop(asyncio.SelectorEventLoop):
    """A selector loop that records, while ``recording``, each iteration's thread CPU time
    and its busy wall-clock time: from the moment the selector returns (the socket or timer
    events are in) to the end of the iteration's callbacks, the time during which nothing
    else can run. The wait in the selector is left out: on a VM, waking an idle vCPU for a
    due timer takes milliseconds at times (time.sleep(0.001) in a plain thread shows it), a
    delay of the machine, not of the work the loop runs."""

    def __init__(self) -> None:
        super().__init__()
        self.cpu = array("d")
        self.cpu_no_gc = array("d")  # the same, less the garbage collections in it
        self.busy = array("d")  # wall clock from the selector's return to the iteration's end
        self.gc_seconds = 0.0  # added to by the gc callback during an iteration
        self.recording = False
        self._selected_at = 0.0
        selector = self._selector  # type: ignore[attr-defined]
        select = selector.select

        def timed_select(timeout: float | None = None) -> Any:
            events = select(timeout)
            self._selected_at = time.perf_counter()
            return events

        selector.select = timed_select

    def _run_once(self) -> None:
        if not self.recording:
            super()._run_once()  # type: ignore[misc]
            return
        self.gc_seconds = 0.0
        start = time.thread_time()
        super()._run_once()  # type: ignore[misc]
        spent = time.thread_time() - start
        self.busy.append(time.perf_counter() - self._selected_at)
        self.cpu.append(spent)
        self.cpu_no_gc.append(max(0.0, spent - self.gc_seconds))


def _stats_ms(values: array[float] | list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return {"n": 0, "p50_ms": None, "p999_ms": None, "max_ms": None}
    return {
        "n": n,
        "p50_ms": ordered[n // 2] * 1000,
        "p999_ms": ordered[min(n - 1, int(n * 0.999))] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def _cpu_times() -> list[int] | None:
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    return [int(f) for f in fields]


def _steal_pct(before: list[int] | None, after: list[int] | None) -> float | None:
    """The share of the machine's CPU time the hypervisor gave to others (Linux only)."""
    if before is None or after is None or len(before) < 8:
        return None
    delta = [b - a for a, b in zip(before, after, strict=False)]
    total = sum(delta)
    return 100.0 * delta[7] / total if total else None


def _sleep_floor(seconds: float) -> dict[str, Any]:
    """How late ``time.sleep(0.001)`` wakes in a plain thread, no event loop: the machine's
    own timer and scheduling floor, which no loop on it can beat."""
    lateness = array("d")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.perf_counter()
        time.sleep(0.001)
        lateness.append(max(0.0, time.perf_counter() - start - 0.001))
    return _stats_ms(lateness)


async def _probe(stalls: array[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t0 = loop.time()
        await asyncio.sleep(0.001)
        stalls.append(max(0.0, loop.time() - t0 - 0.001))


async def measure(config: dict[str, Any]) -> dict[str, Any]:
    """The idle baseline, then the enrollment, each with the probe; the figures."""
    from face_async import AsyncFaceClient
    from face_async._enroll import JournalBusy, enroll

    loop = asyncio.get_running_loop()
    assert isinstance(loop, MeasuredLoop)
    base = await asyncio.to_thread(Path(config["image"]).read_bytes)
    faces = int(config["faces"])

    def pairs() -> Any:
        for i in range(faces):
            yield f"lag-{i // 10:06d}", base + i.to_bytes(4, "big")

    collections: dict[int, array[float]] = {0: array("d"), 1: array("d"), 2: array("d")}
    started: list[float] = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            took = time.perf_counter() - started[0]
            collections[info["generation"]].append(took)
            loop.gc_seconds += took

    out: dict[str, Any] = {
        "faces": faces,
        "start": config.get("start", "fresh"),
        "max_concurrency": int(config.get("max_concurrency", 16)),
    }
    async with AsyncFaceClient(config["url"], key=config["key"]) as client:
        # 1. The idle baseline.
        idle = array("d")
        stop = asyncio.Event()
        loop.recording = True
        task = asyncio.ensure_future(_probe(idle, stop))
        await asyncio.sleep(float(config.get("idle_s", 2.0)))
        stop.set()
        await task
        loop.recording = False
        out["idle"] = _stats_ms(idle)
        # 2. The enrollment.
        out["idle_busy"] = _stats_ms(loop.busy)
        loop.cpu, loop.cpu_no_gc, loop.busy = array("d"), array("d"), array("d")
        stalls = array("d")
        stop = asyncio.Event()
        gc.callbacks.append(on_gc)
        cpu0 = _cpu_times()
        process0, thread0 = time.process_time(), time.thread_time()
        t0 = time.monotonic()
        loop.recording = True
        task = asyncio.ensure_future(_probe(stalls, stop))
        try:
            report = await enroll(
                client, config["group"], pairs(), large=True, train=False,
                max_concurrency=int(config.get("max_concurrency", 16)), journal=config["journal"],
            )  # fmt: skip
            out["outcome"] = f"ok: {report.faces_added} added"
        except JournalBusy as exc:
            out["outcome"] = f"JournalBusy after {time.monotonic() - t0:.1f} s: {exc}"
        finally:
            stop.set()
            await task
            loop.recording = False
            gc.callbacks.remove(on_gc)
        out["seconds"] = time.monotonic() - t0
        # CPU of the loop's thread and of the process's other threads (the journal's worker,
        # file reads): on a small machine they compete for the same cores.
        out["loop_cpu_s"] = time.thread_time() - thread0
        out["other_threads_cpu_s"] = time.process_time() - process0 - out["loop_cpu_s"]
        out["steal_pct"] = _steal_pct(cpu0, _cpu_times())
    out["wall"] = _stats_ms(stalls)
    out["iteration_cpu"] = _stats_ms(loop.cpu)
    out["iteration_cpu_no_gc"] = _stats_ms(loop.cpu_no_gc)
    out["iteration_busy"] = _stats_ms(loop.busy)
    out["gc"] = {
        str(gen): {"n": len(times), "max_ms": max(times) * 1000 if times else None}
        for gen, times in collections.items()
    }
    return out


def main(argv: list[str]) -> int:
    config = json.loads(argv[0])
    # Load what the run will use before freezing, as a program does at start-up.
    import face_async._enroll  # noqa: F401

    if config.get("start") in ("collected", "frozen"):
        gc.collect()
    if config.get("start") == "frozen":
        gc.freeze()
    machine = _sleep_floor(float(config.get("idle_s", 2.0)))
    loop = MeasuredLoop()
    try:
        result = loop.run_until_complete(measure(config))
        result["machine"] = machine
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
