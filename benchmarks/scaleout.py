"""Scenario 7 — scaleout: one resource's quota shared by several processes, and an unknown one.

The emulator runs in its own process with a rate limit of ``tps`` calls/s (a token bucket of
one second's worth, its default); a redis-server is started on a free loopback port.

- ``multi``: ``workers`` processes (``python -m benchmarks.scaleout``), started together, add
  ``calls`` faces in all (each its own persons, ``lanes`` at a time, one write per person at a
  time), in each mode of ``modes``: ``redis`` (``quota=RedisQuota(url, tps=tps)``, one bucket
  for all), ``local_quota`` (each process ``tps=tps``: what N replicas do today), ``local_share``
  (each ``tps=tps/workers``: a static split, right only while every replica is busy) and
  ``redis_adaptive`` (``quota=RedisQuota`` with ``rate=AdaptiveRate()``: a shared rate found by
  trial). Figures: aggregate calls/s (calls / makespan, from the first start to the last end),
  as a fraction of ``tps``; 429s counted at the emulator, as a share of the calls; failed calls.
- ``adaptive``: one process with ``rate=AdaptiveRate()`` (starting at 10/s) adds faces for
  ``adaptive_s`` seconds against the same, unknown, limit. Figures: successful calls/s after
  the first ``settle_s`` seconds as a fraction of ``tps``, and the share of 429s among the
  requests sent after ``settle_s``.
- ``pool``: figures of ``benchmarks._scaleout_pool.run(config["pool"])`` when that module
  exists (3 emulators behind one pool, one killed mid-run), shown in the same section.

The modes are interleaved over the runs; each run starts from a reset emulator.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import _harness
from benchmarks._harness import EmulatorProcess, HarnessError, fmt_summary, summarize
from benchmarks._redis import RedisServer, redis_binary

GROUP = "scaleout"
MODES = ("redis", "local_quota", "local_share", "redis_adaptive")
LABELS = {
    "redis": "Redis gate: quota=RedisQuota(url, tps={tps:g}) in each process",
    "local_quota": "local gate: tps={tps:g} in each process",
    "local_share": "local gate: tps={share:g} in each process (quota / processes)",
    "redis_adaptive": "Redis gate + AdaptiveRate(): a shared rate found by trial",
}
MULTI_FIGURES = (
    "calls_per_s",
    "quota_fraction",
    "makespan_s",
    "rate_limited",
    "rate_limited_pct",
    "failed",
)
ADAPTIVE_FIGURES = (
    "calls_per_s_after",
    "limit_fraction",
    "rate_limited_pct_after",
    "rate_limited",
    "cuts",
    "final_tps",
)
#: Floors of the issue (medians of the runs).
TARGETS = {
    "redis_quota_fraction": 0.95,
    "redis_rate_limited_pct": 0.5,
    "adaptive_limit_fraction": 0.85,
    "adaptive_rate_limited_pct": 3.0,
}


# ---------------------------------------------------------------------------------------------
# worker side


def _client(spec: dict[str, Any]) -> Any:
    from face_async import AdaptiveRate, AsyncFaceClient, RedisQuota

    mode, tps = spec["mode"], spec["tps"]
    common: dict[str, Any] = {"key": spec["key"]}
    if mode == "redis":
        return AsyncFaceClient(spec["url"], quota=RedisQuota(spec["redis_url"], tps=tps), **common)
    if mode == "redis_adaptive":
        quota = RedisQuota(spec["redis_url"], tps=tps)
        return AsyncFaceClient(spec["url"], quota=quota, rate=AdaptiveRate(), **common)
    if mode == "adaptive":
        return AsyncFaceClient(spec["url"], rate=AdaptiveRate(), **common)
    if mode == "local_quota":
        return AsyncFaceClient(spec["url"], tps=tps, **common)
    if mode == "local_share":
        return AsyncFaceClient(spec["url"], tps=tps / spec["workers"], **common)
    raise ValueError(f"unknown mode {mode!r}")


async def _work(spec: dict[str, Any]) -> dict[str, Any]:
    from face_async.emulator import make_face_image

    body = make_face_image("scaleout", min_bytes=spec["body_bytes"])
    client = _client(spec)
    loop = asyncio.get_running_loop()
    errors: Counter[str] = Counter()
    done: list[float] = []
    async with client:
        print("READY", flush=True)
        # The orchestrator says GO once every worker is ready: they start together.
        await loop.run_in_executor(None, sys.stdin.readline)
        started_wall, started = time.time(), loop.time()
        stop_at = started + spec["duration_s"] if spec.get("duration_s") else None
        persons: list[str] = spec["persons"]
        lanes = spec["lanes"]
        marks: dict[str, float] = {}

        async def lane(index: int) -> None:
            # One write per person at a time: each lane owns its persons.
            for person in persons[index::lanes]:
                for _ in range(spec["faces"]):
                    if stop_at is not None and loop.time() >= stop_at:
                        return
                    try:
                        await client.large_person_group_persons.add_face(GROUP, person, body)
                    except Exception as exc:  # counted; the lane goes on
                        errors[type(exc).__name__] += 1
                        continue
                    done.append(loop.time() - started)

        async def mark() -> None:
            # Counters at the end of the settling time (adaptive runs).
            await asyncio.sleep(spec["settle_s"])
            marks.update(
                requests=client.stats.requests,
                rate_limited=client.stats.rate_limited,
                done=len(done),
                at=loop.time() - started,
            )

        marker = loop.create_task(mark()) if spec.get("settle_s") else None
        try:
            await asyncio.gather(*(lane(i) for i in range(lanes)))
        finally:
            if marker is not None:
                marker.cancel()
                await asyncio.gather(marker, return_exceptions=True)
        elapsed = loop.time() - started
        ended_wall = started_wall + elapsed
        stats = client.stats
        gate = client.endpoint.gate
        cubic = getattr(gate, "cubic", None)
        return {
            "mode": spec["mode"],
            "start": started_wall,
            "end": ended_wall,
            "elapsed_s": elapsed,
            "calls": len(done),
            "failed": sum(errors.values()),
            "errors": dict(errors),
            "requests": stats.requests,
            "rate_limited": stats.rate_limited,
            "retries": stats.retries,
            "marks": marks,
            "cuts": None if cubic is None else cubic.cuts,
            "final_tps": gate.tps,
        }


def _worker_main() -> int:
    cpus = os.environ.get("FACE_BENCH_CPUS")  # --pin: the workers' CPU
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
    spec = json.loads(sys.stdin.readline())
    try:
        result = asyncio.run(_work(spec))
    except Exception:
        traceback.print_exc()
        return 1
    print("RESULT " + json.dumps(result), flush=True)
    return 0


# ---------------------------------------------------------------------------------------------
# orchestrator side


def _start_workers(specs: list[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
    """Start one worker per spec, wait until all are READY, say GO; return their RESULTs."""
    env = dict(os.environ)
    env["NO_PROXY"] = env["no_proxy"] = f"{_harness.LOOPBACK},localhost"
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYTHONHASHSEED", "0")
    if _harness.PINNING.get("worker"):
        env["FACE_BENCH_CPUS"] = ",".join(str(c) for c in sorted(_harness.PINNING["worker"]))
    procs: list[subprocess.Popen[str]] = []
    try:
        for spec in specs:
            proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.scaleout"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=str(Path(__file__).resolve().parent.parent),
            )
            procs.append(proc)
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(spec) + "\n")
            proc.stdin.flush()
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()  # "" if the worker died: its stderr says why
            if line.strip() != "READY":
                _, err = proc.communicate(timeout=30)
                tail = "\n".join(err.strip().splitlines()[-15:])
                raise HarnessError(f"scaleout worker did not start:\n{tail}")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("GO\n")
            proc.stdin.flush()
        results = []
        deadline = time.monotonic() + timeout
        for proc in procs:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            for line in reversed(out.splitlines()):
                if line.startswith("RESULT "):
                    results.append(json.loads(line[len("RESULT ") :]))
                    break
            else:
                tail = "\n".join(err.strip().splitlines()[-15:])
                raise HarnessError(f"scaleout worker exited {proc.returncode}:\n{tail}")
        return results
    except subprocess.TimeoutExpired as exc:
        raise HarnessError("scaleout workers timed out") from exc
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def _prepare(emu: EmulatorProcess, persons: int, config: dict[str, Any]) -> list[str]:
    """A fresh emulator with ``persons`` persons, created before the rate limit is set."""
    emu.reset()
    _set_config(emu, {"rate_limit": None})
    emu.create_large_group(GROUP)
    ids = emu.create_large_persons(GROUP, persons)
    _set_config(emu, {"rate_limit": str(config["tps"])})
    return ids


def _set_config(emu: EmulatorProcess, knobs: dict[str, Any]) -> None:
    status, body = emu.request("POST", "/_emulator/config", knobs)
    if status != 200:
        raise HarnessError(f"POST /_emulator/config -> {status}: {str(body)[:300]}")


def _spec(
    emu: EmulatorProcess, redis_url: str, config: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "url": emu.url,
        "key": emu.key,
        "redis_url": redis_url,
        "tps": config["tps"],
        "workers": config["workers"],
        "lanes": config["lanes"],
        "body_bytes": config["body_bytes"],
        **extra,
    }


def _run_multi(
    emu: EmulatorProcess, redis_url: str, mode: str, config: dict[str, Any]
) -> dict[str, Any]:
    workers = config["workers"]
    per_worker = config["calls"] // workers
    faces = config["faces_per_person"]
    persons_each = -(-per_worker // faces)
    ids = _prepare(emu, workers * persons_each, config)
    before = emu.stats()
    specs = [
        _spec(
            emu,
            redis_url,
            config,
            mode=mode,
            faces=faces,
            persons=ids[i * persons_each : (i + 1) * persons_each],
        )
        for i in range(workers)
    ]
    outs = _start_workers(specs, timeout=config["bound_s"])
    stats = emu.stats()
    calls = sum(o["calls"] for o in outs)
    makespan = max(o["end"] for o in outs) - min(o["start"] for o in outs)
    limited = stats["rate_limited"] - before["rate_limited"]
    calls_per_s = calls / makespan if makespan > 0 else None
    return {
        "mode": mode,
        "calls": calls,
        "failed": sum(o["failed"] for o in outs),
        "errors": dict(sum((Counter(o["errors"]) for o in outs), Counter())),
        "makespan_s": makespan,
        "calls_per_s": calls_per_s,
        "quota_fraction": None if calls_per_s is None else calls_per_s / config["tps"],
        "rate_limited": limited,
        "rate_limited_pct": 100.0 * limited / calls if calls else None,
        "client_rate_limited": sum(o["rate_limited"] for o in outs),
        "requests": sum(o["requests"] for o in outs),
        "start_spread_s": max(o["start"] for o in outs) - min(o["start"] for o in outs),
        "workers": outs,
    }


def _run_adaptive(emu: EmulatorProcess, redis_url: str, config: dict[str, Any]) -> dict[str, Any]:
    duration, settle = config["adaptive_s"], config["settle_s"]
    faces = config["faces_per_person"]
    # Enough persons for the run at twice the limit (the lanes stop at the deadline).
    ids = _prepare(emu, int(duration * config["tps"] * 2 / faces) + config["lanes"], config)
    spec = _spec(
        emu, redis_url, config, mode="adaptive", faces=faces, persons=ids,
        duration_s=duration, settle_s=settle,
    )  # fmt: skip
    (out,) = _start_workers([spec], timeout=duration + config["bound_s"])
    marks = out["marks"]
    after_s = out["elapsed_s"] - marks["at"]
    ok_after = out["calls"] - marks["done"]
    sent_after = out["requests"] - marks["requests"]
    limited_after = out["rate_limited"] - marks["rate_limited"]
    per_s = ok_after / after_s if after_s > 0 else None
    return {
        "calls": out["calls"],
        "failed": out["failed"],
        "errors": out["errors"],
        "elapsed_s": out["elapsed_s"],
        "calls_per_s_after": per_s,
        "limit_fraction": None if per_s is None else per_s / config["tps"],
        "rate_limited": out["rate_limited"],
        "rate_limited_after": limited_after,
        "rate_limited_pct_after": 100.0 * limited_after / sent_after if sent_after else None,
        "cuts": out["cuts"],
        "final_tps": out["final_tps"],
    }


def _run_pool(config: dict[str, Any], result: dict[str, Any]) -> None:
    # ---- hook: the pool part (3 emulators at 10 TPS behind one pool, one killed mid-run) ----
    # benchmarks/_scaleout_pool.py (written separately) provides run(config) -> dict; its
    # figures go into this scenario's results and report section as they are.
    if importlib.util.find_spec("benchmarks._scaleout_pool") is None:
        result["pool"] = None
        return
    module = importlib.import_module("benchmarks._scaleout_pool")
    try:
        result["pool"] = module.run(dict(config.get("pool") or {}, runs=config["runs"]))
    except Exception as exc:
        traceback.print_exc()
        result["pool"] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}


def run(config: dict[str, Any]) -> dict[str, Any]:
    binary = redis_binary()
    if binary is None:
        raise HarnessError("no redis-server on PATH (apt-get install redis-server)")
    modes = [m for m in config["modes"] if m in MODES]
    result: dict[str, Any] = {"config": dict(config), "modes": {}, "adaptive": None}
    raw: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    adaptive: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="face-bench-") as tmp,
        RedisServer(binary, Path(tmp)) as redis,
        EmulatorProcess(log_path=Path(tmp) / "emulator.log") as emu,
    ):
        for round_no in range(config["runs"]):
            for mode in _harness.interleaved(modes, round_no):
                out = _run_multi(emu, redis.url, mode, config)
                out["round"] = round_no
                raw[mode].append(out)
                _harness.log(
                    f"scaleout round {round_no + 1}/{config['runs']} {mode}: "
                    f"{out['calls_per_s'] or 0:.2f} calls/s ({out['quota_fraction'] or 0:.3f}"
                    f" of the quota), {out['rate_limited']} 429s, makespan "
                    f"{out['makespan_s']:.1f} s, failed {out['failed']}"
                )
            if config.get("adaptive_s"):
                out = _run_adaptive(emu, redis.url, config)
                out["round"] = round_no
                adaptive.append(out)
                _harness.log(
                    f"scaleout round {round_no + 1}/{config['runs']} adaptive: "
                    f"{out['calls_per_s_after'] or 0:.2f} calls/s after "
                    f"{config['settle_s']:g} s ({out['limit_fraction'] or 0:.3f} of the "
                    f"limit), {out['rate_limited_pct_after'] or 0:.2f} % 429s after, "
                    f"{out['cuts']} cuts"
                )
    share = config["tps"] / config["workers"]
    for mode in modes:
        runs = raw[mode]
        row: dict[str, Any] = {
            "label": LABELS[mode].format(tps=config["tps"], share=share),
            "runs": runs,
        }
        for key in MULTI_FIGURES:
            row[key] = summarize([r[key] for r in runs if r.get(key) is not None])
        result["modes"][mode] = row
    if adaptive:
        row = {"runs": adaptive}
        for key in ADAPTIVE_FIGURES:
            row[key] = summarize([r[key] for r in adaptive if r.get(key) is not None])
        result["adaptive"] = row
    _run_pool(config, result)
    return result


# ---------------------------------------------------------------------------------------------
# report (called by benchmarks.report)


def _med(summary: dict[str, Any] | None) -> float | None:
    return None if not summary else summary.get("median")


def _ok(value: float | None, floor: float, *, at_most: bool = False) -> bool:
    if value is None:
        return False
    return value <= floor if at_most else value >= floor


def target_rows(res: dict[str, Any]) -> list[str]:
    """Rows of the targets table (| target | face-async | verdict | peers |)."""
    rows = []
    redis = res.get("modes", {}).get("redis")
    if redis:
        local = res["modes"].get("local_quota")
        fraction, limited = _med(redis["quota_fraction"]), _med(redis["rate_limited_pct"])
        good = _ok(fraction, TARGETS["redis_quota_fraction"]) and _ok(
            limited, TARGETS["redis_rate_limited_pct"], at_most=True
        )
        beside = (
            f"local tps=quota per process: {fmt_summary(local['quota_fraction'], 3)}x, "
            f"{fmt_summary(local['rate_limited_pct'], 1, ' %')} 429s"
            if local
            else "n/a"
        )
        rows.append(
            f"| shared quota over Redis, {res['config']['workers']} processes: aggregate ≥ "
            f"{TARGETS['redis_quota_fraction']}x quota, 429s ≤ "
            f"{TARGETS['redis_rate_limited_pct']} % "
            f"| {fmt_summary(redis['quota_fraction'], 3)}x, "
            f"{fmt_summary(redis['rate_limited_pct'], 2, ' %')} 429s "
            f"| {'met' if good else '**missed**'} | {beside} |"
        )
    adaptive = res.get("adaptive")
    if adaptive:
        fraction = _med(adaptive["limit_fraction"])
        limited = _med(adaptive["rate_limited_pct_after"])
        good = _ok(fraction, TARGETS["adaptive_limit_fraction"]) and _ok(
            limited, TARGETS["adaptive_rate_limited_pct"], at_most=True
        )
        rows.append(
            f"| adaptive rate, unknown limit: ≥ {TARGETS['adaptive_limit_fraction']}x the limit, "
            f"429s ≤ {TARGETS['adaptive_rate_limited_pct']:g} % after the first "
            f"{res['config']['settle_s']:g} s "
            f"| {fmt_summary(adaptive['limit_fraction'], 3)}x, "
            f"{fmt_summary(adaptive['rate_limited_pct_after'], 2, ' %')} 429s "
            f"| {'met' if good else '**missed**'} | n/a (no peer adapts) |"
        )
    pool = res.get("pool")
    if isinstance(pool, dict) and "fraction_of_quota" in pool:
        fraction = _med(pool["fraction_of_quota"])
        failed = pool["failed_calls_on_kill"]
        good = _ok(fraction, 0.9) and failed.get("max") == 0
        rows.append(
            "| pool of resources: ≥ 0.9x the summed quota; 0 failed calls when one dies "
            f"| {fmt_summary(pool['fraction_of_quota'], 3)}x; "
            f"{fmt_summary(failed, 0)} failed "
            f"| {'met' if good else '**missed**'} | n/a (no peer pools) |"
        )
    return rows


def _pool_lines(pool: Any) -> list[str]:
    if pool is None:
        return ["Pool of resources: not measured (benchmarks/_scaleout_pool.py is not there)."]
    if isinstance(pool, dict) and "error" in pool:
        return [f"Pool of resources: the run failed ({pool['error']})."]
    if isinstance(pool, dict) and isinstance(pool.get("lines"), list):
        return [str(line) for line in pool["lines"]]
    if isinstance(pool, dict) and "fraction_of_quota" in pool:
        cfg = pool.get("config", {})
        return [
            f"Pool: {cfg.get('resources', '?')} emulators at {cfg.get('tps', '?')} calls/s each "
            "behind one `AsyncFaceClient.pool(...)` (detect calls); then the same on fresh "
            "emulators with one SIGKILLed mid-run (benchmarks/_scaleout_pool.py).",
            "",
            "| calls/s | x summed quota | 429s | failed calls, one killed "
            "| calls/s after the kill | x surviving quota |",
            "|---|---|---|---|---|---|",
            f"| {fmt_summary(pool.get('calls_per_s'), 1)} "
            f"| {fmt_summary(pool.get('fraction_of_quota'), 3)} "
            f"| {fmt_summary(pool.get('rate_limited'), 0)} "
            f"| {fmt_summary(pool.get('failed_calls_on_kill'), 0)} "
            f"| {fmt_summary(pool.get('calls_per_s_after_kill'), 1)} "
            f"| {fmt_summary(pool.get('fraction_after_kill'), 3)} |",
        ]
    # Figures as the pool module gave them, one per line.
    lines = ["Pool of resources (figures from benchmarks/_scaleout_pool.py):", ""]
    for key, value in pool.items() if isinstance(pool, dict) else []:
        if key in ("config", "runs"):
            continue
        shown = fmt_summary(value, 3) if isinstance(value, dict) and "median" in value else value
        lines.append(f"- {key}: {shown}")
    return lines


def report_lines(res: dict[str, Any]) -> list[str]:
    """The scenario's section of results.md (tables and notes)."""
    cfg = res["config"]
    out = [
        f"{cfg['workers']} worker processes add {cfg['calls']} faces in all against one "
        f"emulator limited to {cfg['tps']:g} calls/s (a token bucket of one second's worth), "
        f"{cfg['lanes']} concurrent lanes per process; medians (min-max) of {cfg['runs']} "
        "run(s). 429s are counted at the emulator, as a share of the calls.",
        "",
        "| mode | calls/s | x quota | makespan s | 429s | 429s % | failed |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in res.get("modes", {}).values():
        out.append(
            f"| {row['label']} | {fmt_summary(row['calls_per_s'], 2)} "
            f"| {fmt_summary(row['quota_fraction'], 3)} | {fmt_summary(row['makespan_s'], 1)} "
            f"| {fmt_summary(row['rate_limited'], 0)} "
            f"| {fmt_summary(row['rate_limited_pct'], 2)} | {fmt_summary(row['failed'], 0)} |"
        )
    adaptive = res.get("adaptive")
    if adaptive:
        out += [
            "",
            f"Adaptive rate: one process with `rate=AdaptiveRate()` (from 10 calls/s) adds faces "
            f"for {cfg['adaptive_s']:g} s against the same limit, which it is not told; figures "
            f"after the first {cfg['settle_s']:g} s.",
            "",
            "| calls/s after | x limit | 429s % after | 429s in all | cuts | final rate |",
            "|---|---|---|---|---|---|",
            f"| {fmt_summary(adaptive['calls_per_s_after'], 2)} "
            f"| {fmt_summary(adaptive['limit_fraction'], 3)} "
            f"| {fmt_summary(adaptive['rate_limited_pct_after'], 2)} "
            f"| {fmt_summary(adaptive['rate_limited'], 0)} | {fmt_summary(adaptive['cuts'], 0)} "
            f"| {fmt_summary(adaptive['final_tps'], 1)} |",
        ]
    out += ["", *_pool_lines(res.get("pool"))]
    return out


def plot(ax: Any, res: dict[str, Any]) -> None:
    """Aggregate calls/s per mode (and the adaptive run) against the quota, with 429 shares."""
    names: list[str] = []
    values: list[float] = []
    errs: list[list[float]] = [[], []]
    notes: list[str] = []
    for mode, row in res.get("modes", {}).items():
        summary = row["calls_per_s"]
        if summary.get("median") is None:
            continue
        names.append(mode.replace("_", "\n"))
        values.append(summary["median"])
        errs[0].append(summary["median"] - summary["min"])
        errs[1].append(summary["max"] - summary["median"])
        notes.append(f"{_med(row['rate_limited_pct']) or 0:.1f}% 429")
    adaptive = res.get("adaptive")
    if adaptive and _med(adaptive["calls_per_s_after"]) is not None:
        summary = adaptive["calls_per_s_after"]
        names.append("adaptive\n(1 process)")
        values.append(summary["median"])
        errs[0].append(summary["median"] - summary["min"])
        errs[1].append(summary["max"] - summary["median"])
        notes.append(f"{_med(adaptive['rate_limited_pct_after']) or 0:.1f}% 429")
    bars = ax.bar(names, values, yerr=errs, capsize=3, color="tab:blue")
    for bar, note in zip(bars, notes, strict=True):
        ax.annotate(note, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                    va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")  # fmt: skip
    tps = res["config"]["tps"]
    ax.axhline(tps, color="grey", lw=0.8, ls=":", label=f"quota: {tps:g}/s")
    ax.axhline(tps * TARGETS["redis_quota_fraction"], color="green", lw=0.8, ls="--",
               label="floor (Redis gate)")  # fmt: skip
    ax.set_ylabel("successful calls/s (all processes)")
    ax.set_title(f"7. scaleout: {res['config']['workers']} processes, one {tps:g}/s quota")
    ax.legend(fontsize=7)


if __name__ == "__main__":
    sys.exit(_worker_main())
