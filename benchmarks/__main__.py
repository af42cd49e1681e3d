"""``python -m benchmarks [--smoke] [--only overhead,parse,makespan,scale] [--runs N] [--out DIR]``.

The full run (manual, on a quiet machine) writes ``benchmarks/results/`` (results.md,
results.json, PNGs). ``--smoke`` runs every scenario at tiny counts in seconds and writes to a
temporary directory unless ``--out`` is given; it exits non-zero only when the harness breaks
(a scenario raised), never on a missed target.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks import (
    SCENARIOS,
    _harness,
    _peers,
    fairness,
    faults,
    makespan,
    overhead,
    parse,
    report,
    scale,
    scaleout,
    soak,
    streamed,
)

# Full mode is sized for about 15 minutes on 2 cores (benchmarks/README.md): overhead ~2 min,
# parse ~0.5 min, makespan ~6.5 min (bound by the emulator's latency and TPS), scale ~3.5 min,
# faults ~0.5 min, fairness ~2.5 min (6 runs of 20 s each plus start-up).
FULL: dict[str, dict[str, Any]] = {
    "overhead": {
        "calls": 5000,
        "warmup": 300,
        "concurrency": 64,
        "persons": 64,
        "body_bytes": 20 * 1024,
        "runs": 3,
        "clients": list(_peers.ALL_CLIENTS),
        "timeout_s": 300,
    },
    "parse": {"faces": 100, "runs": 7, "batch_s": 0.25, "calibrate_s": 0.1, "timeout_s": 300},
    "makespan": {
        "latency_s": 0.05,
        "tps": 100.0,
        "concurrency": 64,
        "uniform_persons": 200,
        "uniform_faces": 10,
        "zipf_persons": 200,
        "zipf_top": 248,
        "zipf_exponent": 1.0,
        "runs": 3,
        "clients": list(makespan.CLIENTS),
        "bound_s": 180,
    },
    "scale": {
        "sizes": [1_000, 10_000, 100_000],
        "faces_per_person": 10,
        "concurrency": 64,
        "runs": 3,
        "bound_s": 900,
        "diagnose_size": 2_000,
    },
    "faults": {
        "persons": 50,
        "faces": 10,
        "latency_s": 0.01,
        "concurrency": 64,
        "faults": {"reset_after_commit": 0.03, "503": 0.03, "500": 0.02},
        "runs": 3,
        "clients": [*makespan.CLIENTS, makespan.PER_PERSON_RETRY],
        "bound_s": 120,
    },
    "fairness": {
        "tasks": 200,
        "duration_s": 20.0,
        "latency_s": 0.02,
        "limit": 100,
        "limit_per_host": 64,
        "runs": 3,
        "clients": list(fairness.CLIENTS),
        "grace_s": 60.0,
    },
    "soak": {
        "seeds": [1, 2, 3],
        "persons": 20,
        "faces": 4,
        "fault_rate": 0.2,
        "slow_s": 1.0,
        "timeout_s": 0.7,
        "concurrency": 8,
        "kill_p": 0.6,
        "min_kills": 2,
        "kill_max_s": 4.0,
        "max_rounds": 15,
        "bound_s": 240,
        "lag_faces": 10_000,
        "lag_runs": 3,
        "lag_idle_s": 3.0,
        "runs": 1,
    },
    # ~13 min: per run 4 modes of 1,000 calls at 20/s (~52 s each), 30 s adaptive, the pool.
    "scaleout": {
        "workers": 4,
        "calls": 1000,
        "faces_per_person": 10,
        "lanes": 5,
        "tps": 20.0,
        "body_bytes": 2048,
        "modes": list(scaleout.MODES),
        "adaptive_s": 30.0,
        "settle_s": 10.0,
        "runs": 3,
        "bound_s": 180,
        "pool": {},
    },
    # ~30 s: 3 x (interleaved + grouped) of 320 add-faces at 50 ms, 4 at a time.
    "streamed": {"persons": 8, "per_person": 40, "concurrency": 4, "latency_s": 0.05, "runs": 3},
}

SMOKE: dict[str, dict[str, Any]] = {
    "overhead": {
        **FULL["overhead"],
        "calls": 200,
        "warmup": 20,
        "concurrency": 16,
        "persons": 16,
        "runs": 1,
        "timeout_s": 60,
    },
    "parse": {**FULL["parse"], "runs": 3, "batch_s": 0.01, "calibrate_s": 0.005, "timeout_s": 60},
    "makespan": {
        **FULL["makespan"],
        "latency_s": 0.02,
        "uniform_persons": 4,
        "uniform_faces": 3,
        "zipf_persons": 4,
        "zipf_top": 6,
        "runs": 1,
        "bound_s": 30,
    },
    "scale": {
        **FULL["scale"],
        "sizes": [100, 300],
        "runs": 1,
        "bound_s": 60,
        "diagnose_size": 300,
    },
    "faults": {
        **FULL["faults"],
        "persons": 4,
        "faces": 5,
        "faults": {"reset_after_commit": 0.2, "503": 0.1},
        "runs": 1,
        "bound_s": 60,
    },
    "fairness": {**FULL["fairness"], "duration_s": 2.0, "runs": 1, "grace_s": 30.0},
    "soak": {
        **FULL["soak"],
        "persons": 6,
        "faces": 2,
        "kill_max_s": 2.0,
        "min_kills": 1,
        "max_rounds": 8,
        "bound_s": 40,
        # The probe's code path at a toy size (its figures mean nothing at 200 faces).
        "lag_faces": 200,
        "lag_runs": 1,
        "lag_idle_s": 0.2,
    },
    "scaleout": {
        **FULL["scaleout"],
        "calls": 80,
        "faces_per_person": 5,
        "lanes": 2,
        "adaptive_s": 8.0,
        "settle_s": 5.0,
        "runs": 1,
        "bound_s": 60,
        "pool": {"calls": 60, "kill_calls": 60},
    },
    "streamed": {**FULL["streamed"], "persons": 4, "per_person": 8, "runs": 1},
}

RUNNERS = {
    "overhead": overhead.run,
    "parse": parse.run,
    "makespan": makespan.run,
    "scale": scale.run,
    "faults": faults.run,
    "fairness": fairness.run,
    "soak": soak.run,
    "scaleout": scaleout.run,
    "streamed": streamed.run,
}


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny counts, seconds (CI)")
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios out of {','.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument("--runs", type=int, default=None, help="override runs per scenario")
    parser.add_argument(
        "--clients",
        default=None,
        help=f"comma-separated clients for overhead/makespan (default: all of "
        f"{','.join(_peers.ALL_CLIENTS)})",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SCENARIO.KEY=VALUE",
        help="override one setting, e.g. --set scale.sizes=1000,10000 --set makespan.tps=50 "
        "(numbers and comma lists are parsed; repeatable)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the emulator to one CPU and the client workers to another (2+ CPUs)",
    )
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also write cProfile/tracemalloc profiles of face-async (untimed extra runs; "
        "default: on for the full run, off with --smoke)",
    )
    parser.add_argument(
        "--update-readme",
        type=Path,
        default=None,
        metavar="README",
        help="replace the <!-- benchmarks:start --> ... <!-- benchmarks:end --> block of this "
        "file with the targets table and the summary plot",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default: benchmarks/results, or a temp dir with --smoke)",
    )
    return parser.parse_args(argv)


def _value(text: str) -> Any:
    if "," in text:
        return [_value(part) for part in text.split(",") if part]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _apply_overrides(configs: dict[str, dict[str, Any]], overrides: list[str]) -> None:
    for item in overrides:
        target, sep, text = item.partition("=")
        scenario, dot, key = target.partition(".")
        if not sep or not dot or scenario not in configs or key not in configs[scenario]:
            raise SystemExit(f"--set {item!r}: expected SCENARIO.KEY=VALUE with a known key")
        value = _value(text)
        if isinstance(configs[scenario][key], list) and not isinstance(value, list):
            value = [value]
        configs[scenario][key] = value


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; choose from {SCENARIOS}")
        return 2
    configs = copy.deepcopy(SMOKE if args.smoke else FULL)
    for name, cfg in configs.items():
        if args.runs is not None:
            cfg["runs"] = args.runs
        if args.clients and "clients" in cfg:
            wanted = [c.strip() for c in args.clients.split(",") if c.strip()]
            cfg["clients"] = [
                c
                for c in cfg["clients"]
                # raw aiohttp stays: it is the baseline of the overhead ratios
                if c in wanted or c.split("/")[0] in wanted or c == "aiohttp"
            ]
        cfg.setdefault("name", name)
    _apply_overrides(configs, args.set)
    out_dir = args.out
    if out_dir is None:
        out_dir = (
            Path(tempfile.mkdtemp(prefix="face-bench-smoke-"))
            if args.smoke
            else Path(__file__).resolve().parent / "results"
        )
    profile = (not args.smoke) if args.profile is None else args.profile
    if profile:
        profile_dir = out_dir / "profiles"
        profile_dir.mkdir(parents=True, exist_ok=True)
        for cfg in configs.values():
            cfg["profile_dir"] = str(profile_dir)
        configs["parse"]["profile_path"] = str(profile_dir / "profile_parse_face_async.txt")
    started = time.perf_counter()
    env = _harness.environment()
    env["mode"] = "smoke" if args.smoke else "full"
    if args.pin:
        pins = _harness.pin_cpus()
        env["pinning"] = {k: sorted(v) for k, v in pins.items()} or "not possible (< 2 CPUs)"
    env["command"] = "python -m benchmarks" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")
    results: dict[str, Any] = {"environment": env, "errors": {}}
    for name in only:
        _harness.log(f"== {name}")
        t0 = time.perf_counter()
        try:
            results[name] = RUNNERS[name](configs[name])
            results[name]["elapsed_s"] = time.perf_counter() - t0
        except Exception as exc:
            traceback.print_exc()
            results["errors"][name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        _harness.log(f"{name} took {time.perf_counter() - t0:.1f}s")
    env["total_s"] = time.perf_counter() - started
    env["load_average_end"] = _harness.load_average()
    written = report.write_report(results, out_dir)
    print(f"wrote {', '.join(str(out_dir / w) for w in written)} in {env['total_s']:.0f}s")
    if args.update_readme is not None:
        if report.update_readme(args.update_readme, results):
            print(f"updated the benchmark block of {args.update_readme}")
        else:
            print(f"{args.update_readme}: no {report.README_START} block, left unchanged")
    print((out_dir / "results.md").read_text())
    broken = dict(results["errors"])
    # face-async and the aiohttp floor are always installed: a failed worker of theirs is a
    # broken harness (or library), not a missing peer.
    for name in only:
        for client, why in (results.get(name) or {}).get("na", {}).items():
            if client in ("face-async", "aiohttp"):
                broken[f"{name}/{client}"] = why
    if broken:
        print("harness errors:", *(f"  {k}: {v}" for k, v in broken.items()), sep="\n")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
