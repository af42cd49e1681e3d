"""Scale-out, pool part: three emulator processes at 10 TPS each behind one pooled client.

Throughput: after each resource's initial burst is spent, ``calls`` detects at ``concurrency``;
the sustained calls/s (after the first second's worth of completions) as a fraction of the
summed quota. Failover: ``kill_calls`` detects on fresh emulators,
one of them SIGKILLed after a third have completed; failed calls and calls/s after the kill (as
a fraction of the surviving quota). The client runs in this process; each emulator in its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks import _harness
from benchmarks._harness import EmulatorProcess, summarize

DEFAULTS: dict[str, Any] = {
    "runs": 3,
    "resources": 3,
    "tps": 10.0,
    "calls": 300,
    "kill_calls": 300,
    "concurrency": 40,
    "cool_down_s": 30.0,
    "timeout_s": 300,
}
#: The floors of issue 12: aggregate >= 0.9 x the summed quota; 0 failed calls when one dies.
FLOOR_FRACTION = 0.9


@contextlib.contextmanager
def _emulators(count: int, tps: float, log_dir: Path) -> Iterator[list[EmulatorProcess]]:
    started: list[EmulatorProcess] = []
    try:
        for i in range(count):
            emu = EmulatorProcess(
                key=f"pool-bench-key-{i}", rate_limit=tps, log_path=log_dir / f"emu{i}.log"
            )
            started.append(emu.start())
        yield started
    finally:
        for emu in started:
            emu.stop()


async def _bounded(
    n: int,
    concurrency: int,
    call: Callable[[], Awaitable[object]],
    finished: list[float] | None = None,
) -> int:
    """Run ``n`` calls, ``concurrency`` at once; the number that raised. The completion times
    of the calls that succeeded are appended to ``finished``."""
    limit = asyncio.Semaphore(concurrency)
    failed = 0

    async def one() -> None:
        nonlocal failed
        async with limit:
            try:
                await call()
            except Exception:  # counted: a failed call is the figure
                failed += 1
            else:
                if finished is not None:
                    finished.append(time.perf_counter())

    await asyncio.gather(*(one() for _ in range(n)))
    return failed


def _client(emus: list[EmulatorProcess], config: dict[str, Any]) -> Any:
    from face_async import AsyncFaceClient, Resource

    resources = [
        Resource(emu.url, key=emu.key, tps=config["tps"], name=f"emu{i}")
        for i, emu in enumerate(emus)
    ]
    return AsyncFaceClient.pool(resources, cool_down=config["cool_down_s"])


async def _throughput(emus: list[EmulatorProcess], config: dict[str, Any]) -> dict[str, Any]:
    from face_async.emulator import make_face_image

    image = make_face_image("pool-bench")
    quota = config["tps"] * len(emus)
    async with _client(emus, config) as client:
        # Spend every resource's initial burst first: the figure is the sustained rate.
        await _bounded(
            int(quota) + len(emus), config["concurrency"], lambda: client.face.detect(image)
        )
        finished: list[float] = []
        failed = await _bounded(
            config["calls"], config["concurrency"], lambda: client.face.detect(image), finished
        )
        stats = client.stats.as_dict()
        members = client.resource_pool.stats()
    # The sustained rate: from the completion after one second's worth of calls (any refilled
    # burst) to the last one.
    skip = min(int(quota), len(finished) // 2)
    calls_per_s = (len(finished) - 1 - skip) / (finished[-1] - finished[skip])
    return {
        "calls_per_s": calls_per_s,
        "fraction_of_quota": calls_per_s / quota,
        "failed": failed,
        "rate_limited": stats["rate_limited"],
        "per_resource_calls": {name: m["calls"] for name, m in members.items()},
    }


async def _failover(emus: list[EmulatorProcess], config: dict[str, Any]) -> dict[str, Any]:
    from face_async.emulator import make_face_image

    image = make_face_image("pool-bench")
    total = config["kill_calls"]
    victim = emus[-1]
    surviving_quota = config["tps"] * (len(emus) - 1)
    done = 0
    killed_at: float | None = None
    done_at_kill = 0

    async with _client(emus, config) as client:

        async def detect() -> None:
            nonlocal done, killed_at, done_at_kill
            await client.face.detect(image)
            done += 1
            if done == total // 3 and killed_at is None:
                os.kill(victim.pid, signal.SIGKILL)  # a hard death, mid-run
                killed_at, done_at_kill = time.perf_counter(), done

        failed = await _bounded(total, config["concurrency"], detect)
        end = time.perf_counter()
        members = client.resource_pool.stats()
    assert killed_at is not None, "the kill never happened"
    after = done - done_at_kill
    calls_per_s_after = after / (end - killed_at)
    return {
        "failed": failed,
        "calls_per_s_after_kill": calls_per_s_after,
        "fraction_of_surviving_quota": calls_per_s_after / surviving_quota,
        "victim_cool_downs": members[f"emu{len(emus) - 1}"]["cool_downs"],
        "per_resource_calls": {name: m["calls"] for name, m in members.items()},
    }


def run(config: dict[str, Any]) -> dict[str, Any]:
    """Both parts, ``runs`` times each; medians (min-max) and whether the floors are met."""
    config = {**DEFAULTS, **config}
    throughput: list[dict[str, Any]] = []
    failover: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="face-bench-pool-") as tmp:
        for run_no in range(config["runs"]):
            with _emulators(config["resources"], config["tps"], Path(tmp)) as emus:
                out = asyncio.run(_throughput(emus, config))
            throughput.append(out)
            _harness.log(
                f"scaleout pool run {run_no + 1}/{config['runs']}: "
                f"{out['calls_per_s']:.1f} calls/s ({out['fraction_of_quota']:.2f} x quota), "
                f"429s={out['rate_limited']}, failed={out['failed']}"
            )
            with _emulators(config["resources"], config["tps"], Path(tmp)) as emus:
                out = asyncio.run(_failover(emus, config))
            failover.append(out)
            _harness.log(
                f"scaleout pool kill {run_no + 1}/{config['runs']}: failed={out['failed']}, "
                f"{out['calls_per_s_after_kill']:.1f} calls/s after "
                f"({out['fraction_of_surviving_quota']:.2f} x the surviving quota)"
            )
    fraction = summarize([r["fraction_of_quota"] for r in throughput])
    failed_after_kill = [r["failed"] for r in failover]
    return {
        "config": config,
        "quota": config["tps"] * config["resources"],
        "calls_per_s": summarize([r["calls_per_s"] for r in throughput]),
        "fraction_of_quota": fraction,
        "rate_limited": summarize([r["rate_limited"] for r in throughput]),
        "failed_calls_on_kill": summarize(failed_after_kill),
        "calls_per_s_after_kill": summarize([r["calls_per_s_after_kill"] for r in failover]),
        "fraction_after_kill": summarize([r["fraction_of_surviving_quota"] for r in failover]),
        "floors": {
            "fraction_of_quota>=0.9": fraction["median"] is not None
            and fraction["median"] >= FLOOR_FRACTION,
            "failed_calls_on_kill==0": bool(failed_after_kill) and max(failed_after_kill) == 0,
        },
        "runs": {"throughput": throughput, "failover": failover},
    }
