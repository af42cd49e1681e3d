"""Scenario 1 — per-call overhead: add-face with a 20 KB body, 64 concurrent, zero latency.

Each client's workload runs in its own process; the emulator is a third process. Runs are
interleaved (A B C ..., then the order rotated) so machine noise spreads over every client, and
each client's CPU per call is divided by raw aiohttp's from the same round: the ratio is paired.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from benchmarks import _harness, _peers
from benchmarks._harness import EmulatorProcess, HarnessError, summarize


def make_body(size: int) -> bytes:
    """A valid JPEG of one face, padded to ``size`` bytes (the emulator reads its metadata)."""
    from face_async.emulator import make_face_image

    return make_face_image("overhead-body", min_bytes=size)


def run(config: dict[str, Any]) -> dict[str, Any]:
    calls = config["calls"]
    warmup = config["warmup"]
    runs = config["runs"]
    concurrency = config["concurrency"]
    persons_count = config["persons"]
    result: dict[str, Any] = {"config": dict(config), "clients": {}, "na": {}}
    clients = _harness.available_clients(config["clients"], result["na"])
    raw: dict[str, list[dict[str, Any]]] = {name: [] for name in clients}

    with tempfile.TemporaryDirectory(prefix="face-bench-") as tmp:
        body_path = Path(tmp) / "body.jpg"
        body = make_body(config["body_bytes"])
        body_path.write_bytes(body)
        result["body_bytes"] = len(body)
        emu = EmulatorProcess(conflict_mode="wait", log_path=Path(tmp) / "emulator.log")

        def spec_for(name: str, group: str, **extra: Any) -> dict[str, Any]:
            """A fresh group of ``persons`` persons on the reset emulator; the worker's spec."""
            emu.reset()
            emu.create_large_group(group)
            return {
                "task": "overhead",
                "client": name,
                "url": emu.url,
                "key": emu.key,
                "group": group,
                "persons": emu.create_large_persons(group, persons_count),
                "calls": calls,
                "warmup": warmup,
                "concurrency": concurrency,
                "body_path": str(body_path),
                **extra,
            }

        with emu:
            for round_no in range(runs):
                for name in _harness.interleaved(clients, round_no):
                    if name in result["na"]:
                        continue
                    slug = name.replace("_", "-").replace("/", "-")
                    spec = spec_for(name, f"ovh-{round_no}-{slug}"[:64].lower())
                    emu_cpu0 = emu.cpu_seconds()
                    try:
                        out = _harness.run_worker(spec, timeout=config["timeout_s"])
                    except HarnessError as exc:
                        result["na"][name] = f"worker failed: {str(exc).splitlines()[-1][:200]}"
                        _harness.log(f"overhead {name}: {exc}")
                        continue
                    emu_cpu1 = emu.cpu_seconds()
                    if emu_cpu0 is not None and emu_cpu1 is not None:
                        out["emulator_cpu_s"] = emu_cpu1 - emu_cpu0
                    out["round"] = round_no
                    stats = emu.stats()
                    out["emulator_responses"] = stats.get("responses", {})
                    raw[name].append(out)
                    _harness.log(
                        f"overhead round {round_no + 1}/{runs} {name}: "
                        f"{out['cpu_us_per_call']:.0f} us/call CPU, "
                        f"{out['calls_per_s']:.0f} calls/s, errors={out['errors']}"
                    )

            profile_dir = config.get("profile_dir")
            if profile_dir:
                # One extra, untimed face-async run under cProfile: where its CPU goes.
                for name in ("face-async", "aiohttp"):
                    if name not in clients or name in result["na"]:
                        continue
                    path = Path(profile_dir) / f"profile_overhead_{name.replace('-', '_')}.txt"
                    spec = spec_for(name, f"ovh-profile-{name}", profile_path=str(path))
                    try:
                        _harness.run_worker(spec, timeout=config["timeout_s"])
                        result.setdefault("profiles", []).append(path.name)
                    except HarnessError as exc:
                        _harness.log(f"overhead profile {name}: {exc}")

    base_by_round = {r["round"]: r for r in raw.get("aiohttp", [])}
    for name in clients:
        if name in result["na"] and not raw.get(name):
            continue
        runs_out = raw[name]
        cpu = [r["cpu_us_per_call"] for r in runs_out]
        rate = [r["calls_per_s"] for r in runs_out]
        paired = [(r, base_by_round[r["round"]]) for r in runs_out if r["round"] in base_by_round]
        cpu_ratio = [_harness.ratio(r["cpu_us_per_call"], b["cpu_us_per_call"]) for r, b in paired]
        rate_ratio = [_harness.ratio(r["calls_per_s"], b["calls_per_s"]) for r, b in paired]
        errors: dict[str, int] = {}
        for r in runs_out:
            for k, v in r["errors"].items():
                errors[k] = errors.get(k, 0) + v
        result["clients"][name] = {
            "label": _peers.LABELS.get(name, name),
            "cpu_us_per_call": summarize(cpu),
            "calls_per_s": summarize(rate),
            "cpu_ratio_to_aiohttp": summarize([x for x in cpu_ratio if x is not None]),
            "calls_per_s_ratio_to_aiohttp": summarize([x for x in rate_ratio if x is not None]),
            "errors": errors,
            "rss_peak_mib": summarize([r["rss_peak_kib"] / 1024 for r in runs_out]),
            # The emulator's CPU over the whole worker (warm-up included), per measured call:
            # when it nears the wall time per call, calls/s measures the emulator, not the client.
            "emulator_cpu_us_per_call": summarize(
                [
                    r["emulator_cpu_s"] / (calls + warmup) * 1e6
                    for r in runs_out
                    if "emulator_cpu_s" in r
                ]
            ),
            "runs": runs_out,
        }
    return result
