"""Scenario 3 — enrollment makespan: persons x faces against a slow, rate-limited emulator.

The emulator adds a fixed latency to every add-face, answers a second concurrent add-face on one
person with 409 ConcurrentOperationConflict (conflict mode) and rate-limits every call
(token bucket, 429 with Retry-After). The clients:

- face-async: ``enroll(client, group, source, large=True, max_concurrency=C, train=False)`` on
  ``AsyncFaceClient(url, key=..., tps=TPS)`` (the client's own limiter at the service's TPS);
- azure-ai-vision-face 1.0.0b2 (aio): the straightforward ``asyncio.gather`` — create the
  persons, then every add-face gathered under a ``Semaphore(C)``; azure-core's retry policy as
  shipped (it retries 429 after Retry-After; 409 is not retried), no application-level retry;
- azure-ai-vision-face, "per-person": the careful hand-written alternative — one coroutine per
  person adding its faces one after another (no 409 by construction), all persons gathered,
  calls bounded by the same ``Semaphore(C)``; still no client-side rate limit;
- (faults scenario only) the same per-person loops with a retry of up to 3 attempts on any
  error — what a careful user adds, and what duplicates a face after an ambiguous failure;
- azure-cognitiveservices-vision-face 0.6.1: the same plan in a ``ThreadPoolExecutor(C)``;
  msrest's retry as shipped (429 and 409 are not retried).

A call that raises is a lost face unless the emulator has it. At the end the emulator's state
is compared with the intended set: duplicated faces (the same photo stored twice on a person),
lost faces (intended but not stored) and extra persons (a name created twice).

The floor is the issue's: max(max_p faces_p x latency, sum(faces) / TPS,
sum(faces) x latency / C). It leaves out the person creates, which are calls under the same TPS
(at the emulator and in face-async's limiter), so the bound that counts every call the job
makes is reported beside it: max(max_p faces_p x latency, (sum(faces) + persons - burst) / TPS +
latency, sum(faces) x latency / C), where burst is what the emulator's token bucket holds at the
start (one second's worth of calls) and the last face still takes one latency after its token.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import _harness, _peers
from benchmarks._harness import EmulatorProcess, HarnessError, summarize

PER_PERSON = "azure-ai-vision-face/per-person"
PER_PERSON_RETRY = "azure-ai-vision-face/per-person+retry"
CLIENTS = (
    "face-async",
    "azure-ai-vision-face",
    PER_PERSON,
    "azure-cognitiveservices-vision-face",
)
LABELS = {
    "face-async": "face-async enroll()",
    "azure-ai-vision-face": "azure-ai-vision-face 1.0.0b2, asyncio.gather",
    PER_PERSON: "azure-ai-vision-face 1.0.0b2, gather of per-person loops",
    PER_PERSON_RETRY: "azure-ai-vision-face 1.0.0b2, per-person loops + retry on error",
    "azure-cognitiveservices-vision-face": "azure-cognitiveservices-vision-face 0.6.1, threads",
}


def uniform_plan(persons: int, faces: int) -> list[int]:
    return [faces] * persons


def zipf_plan(persons: int, top: int, exponent: float = 1.0) -> list[int]:
    """Faces per person falling as 1/rank^s from ``top`` (at least 1 each)."""
    return [max(1, round(top / (rank**exponent))) for rank in range(1, persons + 1)]


def makespan_floor(
    face_counts: list[int], *, latency: float, concurrency: int, tps: float | None = None
) -> float:
    """The issue's floor: the least time adding these per-person face counts can take.

    ``max(max_p faces_p * latency, sum(faces) / tps, sum(faces) * latency / concurrency)``:
    one person's faces are added one after the other, the rate limit caps the calls per second
    and ``concurrency`` calls run at once (moved here from the library).
    """
    if not face_counts:
        return 0.0
    total = sum(face_counts)
    return max(
        max(face_counts) * latency, total / tps if tps else 0.0, total * latency / concurrency
    )


def floors(plan: list[int], latency: float, tps: float, concurrency: int) -> dict[str, float]:
    """The issue's floor, and the bound that counts every call (see the module docstring)."""
    total = sum(plan)
    chain = max(plan) * latency
    rate = total / tps
    parallel = total * latency / concurrency
    # The emulator's bucket starts full: one second's worth of calls (its default burst).
    burst = max(1.0, tps)
    all_calls = max(0.0, total + len(plan) - burst) / tps + latency
    return {
        "floor_s": makespan_floor(plan, latency=latency, concurrency=concurrency, tps=tps),
        "all_calls_bound_s": max(chain, all_calls, parallel),
        "chain_s": chain,
        "rate_s": rate,
        "parallel_s": parallel,
        "all_calls_rate_s": all_calls,
        "burst": burst,
    }


def person_name(index: int) -> str:
    return f"person-{index:05d}"


def images_for(group: str, plan: list[int]) -> list[list[bytes]]:
    """Distinct photos (distinct fingerprints) of each person: variant j of identity p."""
    from face_async.emulator import make_face_image

    return [
        [make_face_image(f"{group}/{person_name(p)}", variant=j) for j in range(count)]
        for p, count in enumerate(plan)
    ]


# ---------------------------------------------------------------------------------------------
# worker side


async def _enroll_face_async(spec: dict[str, Any], images: list[list[bytes]]) -> dict[str, Any]:
    from face_async import AsyncFaceClient
    from face_async._enroll import enroll

    group = spec["group"]
    source = {person_name(p): faces for p, faces in enumerate(images)}
    errors: Counter[str] = Counter()
    # The critical path: when each person's faces were confirmed (FaceAdded events).
    added: dict[str, list[float]] = {}
    t0 = time.perf_counter()

    def on_event(event: object) -> None:
        if type(event).__name__ == "FaceAdded":
            person = str(getattr(event, "person", ""))
            added.setdefault(person, []).append(time.perf_counter() - t0)

    async with AsyncFaceClient(spec["url"], key=spec["key"], tps=spec["tps"]) as client:
        t0 = time.perf_counter()
        try:
            report = await asyncio.wait_for(
                enroll(
                    client,
                    group,
                    source,
                    large=True,
                    max_concurrency=spec["concurrency"],
                    train=False,  # the peers do not train either; the floor has no training
                    on_event=on_event,
                ),
                spec["bound_s"],
            )
        except Exception as exc:
            errors[_peers.error_name(exc)] += 1
            report = None
        wall = time.perf_counter() - t0
        client_stats = client.stats.as_dict()
    return {
        "wall_s": wall,
        "errors": dict(errors),
        "client_stats": client_stats,
        "report": _report_summary(report),
        "critical_path": _critical_path(added),
    }


def _critical_path(added: dict[str, list[float]]) -> dict[str, Any] | None:
    """The person with the most faces: when its first and last face were confirmed, and the
    median step between consecutive confirmations (the emulator's latency is its lower bound;
    the median, not the mean, so that a few faces confirmed together do not pull it down)."""
    if not added:
        return None
    person, times = max(added.items(), key=lambda item: len(item[1]))
    times.sort()
    steps = [b - a for a, b in itertools.pairwise(times)]
    return {
        "person": person,
        "faces": len(times),
        "first_s": times[0],
        "last_s": times[-1],
        "median_step_ms": statistics.median(steps) * 1000 if steps else None,
    }


def _report_summary(report: object) -> dict[str, Any] | None:
    if report is None:
        return None
    out: dict[str, Any] = {}
    for name in dir(report):
        if name.startswith("_"):
            continue
        value = getattr(report, name, None)
        if isinstance(value, int | float | str | bool) and not callable(value):
            out[name] = value
        elif isinstance(value, list | tuple | dict):
            out[name] = len(value)
    return out


async def _gather_azure(spec: dict[str, Any], images: list[list[bytes]]) -> dict[str, Any]:
    peer = await _peers.make_async_peer("azure-ai-vision-face", spec["url"], spec["key"])
    group = spec["group"]
    sem = asyncio.Semaphore(spec["concurrency"])
    errors: Counter[str] = Counter()

    async def create(p: int) -> str | None:
        async with sem:
            try:
                person_id: str = await peer.create_person(group, person_name(p))
                return person_id
            except Exception as exc:
                errors["create " + _peers.error_name(exc)] += 1
                return None

    async def add(person_id: str, image: bytes) -> None:
        async with sem:
            try:
                await peer.add_face(group, person_id, image)
            except Exception as exc:
                errors["add " + _peers.error_name(exc)] += 1

    async def workload() -> None:
        ids = await asyncio.gather(*(create(p) for p in range(len(images))))
        await asyncio.gather(
            *(
                add(pid, image)
                for pid, faces in zip(ids, images, strict=True)
                if pid is not None
                for image in faces
            )
        )

    async def add_with_retry(person_id: str, image: bytes) -> None:
        # What a careful user wraps around a call: up to 3 attempts on any error.
        for attempt in range(3):
            async with sem:
                try:
                    await peer.add_face(group, person_id, image)
                    return
                except Exception as exc:
                    errors["add " + _peers.error_name(exc)] += 1
            await asyncio.sleep(0.05 * (attempt + 1))

    async def person_loop(p: int) -> None:
        person_id = await create(p)
        if person_id is None:
            return
        for image in images[p]:
            if spec["client"] == PER_PERSON_RETRY:
                await add_with_retry(person_id, image)
            else:
                await add(person_id, image)

    async def per_person_workload() -> None:
        await asyncio.gather(*(person_loop(p) for p in range(len(images))))

    t0 = time.perf_counter()
    try:
        per_person = spec["client"] in (PER_PERSON, PER_PERSON_RETRY)
        chosen = per_person_workload() if per_person else workload()
        await asyncio.wait_for(chosen, spec["bound_s"])
    except asyncio.TimeoutError:
        errors["bound exceeded"] += 1
    finally:
        wall = time.perf_counter() - t0
        await peer.aclose()
    return {"wall_s": wall, "errors": dict(errors)}


def _threads_old_sdk(spec: dict[str, Any], images: list[list[bytes]]) -> dict[str, Any]:
    peer = _peers.make_sync_peer(spec["client"], spec["url"], spec["key"])
    group = spec["group"]
    errors: Counter[str] = Counter()

    def create(p: int) -> str | None:
        try:
            person_id: str = peer.create_person(group, person_name(p))
            return person_id
        except Exception as exc:
            errors["create " + _peers.error_name(exc)] += 1
            return None

    def add(item: tuple[str, bytes]) -> None:
        try:
            peer.add_face(group, item[0], item[1])
        except Exception as exc:
            errors["add " + _peers.error_name(exc)] += 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=spec["concurrency"]) as pool:
        ids = list(pool.map(create, range(len(images))))
        work = [
            (pid, image)
            for pid, faces in zip(ids, images, strict=True)
            if pid is not None
            for image in faces
        ]
        list(pool.map(add, work))
    wall = time.perf_counter() - t0
    peer.close()
    return {"wall_s": wall, "errors": dict(errors)}


def task_makespan(spec: dict[str, Any]) -> dict[str, Any]:
    images = images_for(spec["group"], spec["plan"])
    client = spec["client"]
    if client == "face-async":
        return asyncio.run(_enroll_face_async(spec, images))
    if client in ("azure-ai-vision-face", PER_PERSON, PER_PERSON_RETRY):
        return asyncio.run(_gather_azure(spec, images))
    return _threads_old_sdk(spec, images)


# ---------------------------------------------------------------------------------------------
# orchestrator side


def audit(stats: dict[str, Any], group: str, plan: list[int]) -> dict[str, int]:
    """Compare the emulator's state with the intended set of faces."""
    summary = stats.get("state", {}).get("large_person_groups", {}).get(group)
    intended = {person_name(p): count for p, count in enumerate(plan)}
    if not summary:
        return {"stored": 0, "duplicated": 0, "lost": sum(plan), "extra_persons": 0}
    stored_distinct: Counter[str] = Counter()
    names: Counter[str] = Counter()
    duplicated = stored = 0
    for person in summary.get("per_person", {}).values():
        name = str(person.get("name"))
        faces = int(person.get("faces", 0))
        dupes = int(person.get("duplicates", 0))
        names[name] += 1
        stored += faces
        duplicated += dupes
        stored_distinct[name] += faces - dupes
    lost = sum(max(0, count - stored_distinct.get(name, 0)) for name, count in intended.items())
    extra_persons = sum(n - 1 for n in names.values() if n > 1)
    return {
        "stored": stored,
        "duplicated": duplicated,
        "lost": lost,
        "extra_persons": extra_persons,
    }


def enroll_once(
    emu: EmulatorProcess,
    name: str,
    group: str,
    plan: list[int],
    *,
    concurrency: int,
    tps: float | None,
    bound_s: float,
    na: dict[str, str],
    scenario: str,
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """One enrollment of ``plan`` by client ``name`` into a fresh group of a reset emulator:
    the worker's answer with the audit of the emulator's state merged in, and the emulator's
    stats. None when the worker gives no result (why goes into ``na`` and the log)."""
    emu.reset()
    emu.create_large_group(group)
    spec = {
        "task": "makespan",
        "client": name,
        "url": emu.url,
        "key": emu.key,
        "group": group,
        "plan": plan,
        "concurrency": concurrency,
        "tps": tps,
        "bound_s": bound_s,
    }
    try:
        out = _harness.run_worker(spec, timeout=bound_s + 60)
    except HarnessError as exc:
        na[name] = f"worker failed: {str(exc).splitlines()[-1]}"
        _harness.log(f"{scenario} {name}: {exc}")
        return None
    stats = emu.stats()
    out.update(audit(stats, group, plan))
    return out, stats


def audit_summaries(runs_out: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Duplicated / lost faces and extra persons over the runs."""
    return {
        key: summarize([r[key] for r in runs_out])
        for key in ("duplicated", "lost", "extra_persons")
    }


def run(config: dict[str, Any]) -> dict[str, Any]:
    latency = config["latency_s"]
    tps = config["tps"]
    concurrency = config["concurrency"]
    plans = {
        "uniform": uniform_plan(config["uniform_persons"], config["uniform_faces"]),
        "zipf": zipf_plan(config["zipf_persons"], config["zipf_top"], config["zipf_exponent"]),
    }
    result: dict[str, Any] = {"config": dict(config), "na": {}, "plans": {}}
    clients = _harness.available_clients(config["clients"], result["na"])
    with tempfile.TemporaryDirectory(prefix="face-bench-") as tmp:
        emu = EmulatorProcess(
            latency={"*AddFace*": latency},
            rate_limit=tps,
            conflict_mode="conflict",
            log_path=Path(tmp) / "emulator.log",
        )
        with emu:
            for plan_name, plan in plans.items():
                floor = floors(plan, latency, tps, concurrency)
                entry: dict[str, Any] = {
                    "persons": len(plan),
                    "faces": sum(plan),
                    "max_faces_per_person": max(plan),
                    **floor,
                    "clients": {},
                }
                raw: dict[str, list[dict[str, Any]]] = {name: [] for name in clients}
                for round_no in range(config["runs"]):
                    for name in _harness.interleaved(clients, round_no):
                        group = f"ms-{plan_name}-{round_no}-{len(raw[name])}"
                        done = enroll_once(
                            emu,
                            name,
                            group,
                            plan,
                            concurrency=concurrency,
                            tps=tps,
                            bound_s=config["bound_s"],
                            na=result["na"],
                            scenario=f"makespan {plan_name}",
                        )
                        if done is None:
                            continue
                        out, stats = done
                        responses = stats.get("responses", {})
                        out["status_409"] = int(responses.get("409", 0))
                        out["status_429"] = int(responses.get("429", 0))
                        out["requests"] = int(stats.get("total_requests", 0))
                        out["max_concurrent_writes_per_person"] = stats.get(
                            "max_concurrent_writes_per_person"
                        )
                        raw[name].append(out)
                        _harness.log(
                            f"makespan {plan_name} round {round_no + 1}/{config['runs']} {name}: "
                            f"{out['wall_s']:.2f}s = {out['wall_s'] / floor['floor_s']:.3f}x "
                            f"floor {floor['floor_s']:.2f}s, "
                            f"{out['wall_s'] / floor['all_calls_bound_s']:.3f}x all-calls bound "
                            f"{floor['all_calls_bound_s']:.2f}s; "
                            f"409={out['status_409']} 429={out['status_429']} "
                            f"dup={out['duplicated']} lost={out['lost']} errors={out['errors']}"
                        )
                for name, runs_out in raw.items():
                    if not runs_out:
                        continue
                    walls = [r["wall_s"] for r in runs_out]
                    entry["clients"][name] = {
                        "label": LABELS[name],
                        "makespan_s": summarize(walls),
                        "ratio_to_floor": summarize([w / floor["floor_s"] for w in walls]),
                        "ratio_to_all_calls_bound": summarize(
                            [w / floor["all_calls_bound_s"] for w in walls]
                        ),
                        "status_409": summarize([r["status_409"] for r in runs_out]),
                        "status_429": summarize([r["status_429"] for r in runs_out]),
                        **audit_summaries(runs_out),
                        "runs": runs_out,
                    }
                result["plans"][plan_name] = entry
    return result
