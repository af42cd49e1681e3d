"""Scenario 5 — reliability under faults: does each client enroll every face exactly once?

The makespan scenario has a well-behaved service, so nobody duplicates a face there. A real
service also drops connections and answers 5xx. Here the emulator injects, on add-face only
and from a seeded RNG: ``reset_after_commit`` (the face is stored, then the connection drops
without an answer: the client cannot know), ``503`` and ``500`` (not stored). A client that
re-sends after an ambiguous failure stores the face twice (duplicated); one that gives up
loses it (lost). Counted in the emulator's state at the end, against the intended set.

Same clients and code paths as the makespan scenario (``benchmarks.makespan``), no rate limit,
a small latency, conflict mode on.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from benchmarks import _harness, makespan
from benchmarks._harness import EmulatorProcess, summarize


def run(config: dict[str, Any]) -> dict[str, Any]:
    plan = makespan.uniform_plan(config["persons"], config["faces"])
    result: dict[str, Any] = {"config": dict(config), "na": {}, "clients": {}}
    clients = _harness.available_clients(config["clients"], result["na"])
    faults = [f"{kind}:{probability}:*AddFace*" for kind, probability in config["faults"].items()]
    extra: list[str] = []
    for fault in faults:
        extra += ["--fault", fault]
    raw: dict[str, list[dict[str, Any]]] = {name: [] for name in clients}
    with tempfile.TemporaryDirectory(prefix="face-bench-") as tmp:
        emu = EmulatorProcess(
            latency={"*AddFace*": config["latency_s"]},
            conflict_mode="conflict",
            extra_args=extra,
            log_path=Path(tmp) / "emulator.log",
        )
        with emu:
            for round_no in range(config["runs"]):
                for name in _harness.interleaved(clients, round_no):
                    group = f"faults-{round_no}-{len(raw[name])}"
                    done = makespan.enroll_once(
                        emu,
                        name,
                        group,
                        plan,
                        concurrency=config["concurrency"],
                        tps=None,
                        bound_s=config["bound_s"],
                        na=result["na"],
                        scenario="faults",
                    )
                    if done is None:
                        continue
                    out, stats = done
                    out["faults_injected"] = dict(stats.get("faults", {}))
                    out["responses"] = dict(stats.get("responses", {}))
                    raw[name].append(out)
                    _harness.log(
                        f"faults round {round_no + 1}/{config['runs']} {name}: "
                        f"{out['wall_s']:.2f}s injected={out['faults_injected']} "
                        f"dup={out['duplicated']} lost={out['lost']} errors={out['errors']}"
                    )
    for name, runs_out in raw.items():
        if not runs_out:
            continue
        result["clients"][name] = {
            "label": makespan.LABELS[name],
            "wall_s": summarize([r["wall_s"] for r in runs_out]),
            "faults_injected": summarize([sum(r["faults_injected"].values()) for r in runs_out]),
            **makespan.audit_summaries(runs_out),
            "runs": runs_out,
        }
    result["intended_faces"] = sum(plan)
    return result
