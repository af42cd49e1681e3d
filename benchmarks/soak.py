"""Scenario 6 — soak: exactly-once under faults of every kind and ``kill -9``, and loop lag.

Part 1 (exactly-once): for each seed, an emulator process (``python -m face_async.emulator``)
injects about ``fault_rate`` faults on every operation, spread over every kind (429, 500, 503,
408, a reset before or after the write committed, and ``slow``: the write applied and answered
after ``slow_s``, beyond the CLI's ``--timeout``). ``python -m face_async enroll`` runs on a
folder of photos with a journal; the first ``min_kills`` rounds are ``kill -9``-ed at a random
moment early in the run, later ones with probability ``kill_p``, and rounds go on until one
exits 0 or 1 on its own (at most ``max_rounds``). Then, the faults off, the emulator's state is
counted: duplicate faces (a fingerprint twice on a person), duplicate persons (a name twice),
lost images (a fingerprint missing).

Part 2 (loop lag): ``enroll()`` of ``lag_faces`` faces (10 per person, a lazy source) against
an emulator process, while a probe task measures how late ``asyncio.sleep(0.001)`` wakes up:
p99.9 and maximum stall. Then the same with another process holding the journal's write lock:
the largest stall until the clean ``JournalBusy``.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import _harness

KINDS = ("429", "500", "503", "408", "reset_before", "reset_after_commit", "slow")
ROOT = Path(__file__).resolve().parent.parent


def _photos(root: Path, persons: int, per_person: int, seed: int) -> dict[str, list[bytes]]:
    from face_async.emulator import make_face_image

    photos: dict[str, list[bytes]] = {}
    for p in range(persons):
        name = f"person-{seed}-{p:03d}"
        images = [make_face_image(f"soak-{seed}-{p}", variant=j) for j in range(per_person)]
        (root / name).mkdir(parents=True)
        for j, image in enumerate(images):
            (root / name / f"{j:03d}.jpg").write_bytes(image)
        photos[name] = images
    return photos


async def _count(url: str, key: str, group: str, photos: dict[str, list[bytes]]) -> dict[str, int]:
    """Duplicate faces, duplicate persons and lost images, read from the emulator."""
    from face_async import AsyncFaceClient
    from face_async._enroll import fingerprint

    async with AsyncFaceClient(url, key=key) as client:
        names: Counter[str] = Counter()
        held: dict[str, Counter[str]] = {}
        async for person in client.person_group_persons.iter(group):
            name = person.name or ""
            names[name] += 1
            faces = held.setdefault(name, Counter())
            for face_id in person.persisted_face_ids or ():
                face = await client.person_group_persons.get_face(group, person.person_id, face_id)
                faces[face.user_data or ""] += 1
    dup_faces = sum(n - 1 for faces in held.values() for n in faces.values() if n > 1)
    dup_persons = sum(n - 1 for n in names.values() if n > 1)
    lost = 0
    for name, images in photos.items():
        faces = held.get(name, Counter())
        lost += sum(1 for image in images if faces["face-async:v1:" + fingerprint(image)] == 0)
    return {"duplicate_faces": dup_faces, "duplicate_persons": dup_persons, "lost": lost}


def _set_config(url: str, key: str, config: dict[str, Any]) -> None:
    import json
    import urllib.request

    request = urllib.request.Request(
        url + "/_emulator/config", data=json.dumps(config).encode(), method="POST",
        headers={_harness.KEY_HEADER: key, "Content-Type": "application/json"},
    )  # fmt: skip
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        response.read()


def soak_seed(config: dict[str, Any], seed: int, tmp: Path) -> dict[str, Any]:
    """One seed: rounds of the CLI (some killed) until one ends by itself, then the counts."""
    rng = random.Random(f"soak:{seed}")
    rate = config["fault_rate"] / len(KINDS)
    extra = ["--seed", str(seed), "--slow-seconds", str(config["slow_s"])]
    for kind in KINDS:
        extra += ["--fault", f"{kind}:{rate}"]
    photos_dir = tmp / f"photos-{seed}"
    photos = _photos(photos_dir, config["persons"], config["faces"], seed)
    journal = tmp / f"journal-{seed}.sqlite"
    group = f"soak-{seed}"
    rounds: list[dict[str, Any]] = []
    final: int | None = None
    with _harness.EmulatorProcess(extra_args=extra) as emu:
        env = dict(os.environ)
        env.update(
            NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
            FACE_ENDPOINT=emu.url, FACE_APIKEY=emu.key, PYTHONUNBUFFERED="1",
        )  # fmt: skip
        args = [
            sys.executable, "-m", "face_async", "enroll", str(photos_dir), "--group", group,
            "--journal", str(journal), "--timeout", str(config["timeout_s"]),
            "--max-concurrency", str(config["concurrency"]), "--progress", "none",
        ]  # fmt: skip
        started = time.monotonic()
        for _ in range(config["max_rounds"]):
            if time.monotonic() - started > config["bound_s"]:
                break
            kills = sum(1 for r in rounds if r["killed"])
            if kills < config["min_kills"]:
                # The first rounds are always killed, early enough to land before the run ends
                # (a seed whose only round ran to the end would test no kill at all).
                kill_at: float | None = rng.uniform(0.2, config["kill_max_s"] / 2)
            elif rng.random() < config["kill_p"]:
                kill_at = rng.uniform(0.2, config["kill_max_s"])
            else:
                kill_at = None
            t0 = time.monotonic()
            proc = subprocess.Popen(
                args, env=env, cwd=str(tmp), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                code = proc.wait(kill_at) if kill_at is not None else None
            except subprocess.TimeoutExpired:
                code = None
            killed = False
            if code is None and kill_at is not None:
                proc.send_signal(signal.SIGKILL)
                killed = True
            code = proc.wait(config["bound_s"])
            rounds.append({"exit": code, "killed": killed, "seconds": time.monotonic() - t0})
            if not killed and code in (0, 1):
                final = code
                break
        _set_config(emu.url, emu.key, {"faults": []})
        counts = asyncio.run(_count(emu.url, emu.key, group, photos))
    return {
        "seed": seed,
        "rounds": rounds,
        "kills": sum(1 for r in rounds if r["killed"]),
        "final_exit": final,
        "images": sum(len(v) for v in photos.values()),
        **counts,
    }


async def _lag_run(url: str, key: str, faces: int, journal: Path | None) -> dict[str, Any]:
    """enroll() of ``faces`` faces with a probe of the loop; the stalls in ms."""
    from face_async import AsyncFaceClient
    from face_async._enroll import JournalBusy, enroll
    from face_async.emulator import make_face_image

    base = make_face_image("lag")

    def pairs() -> Any:
        for i in range(faces):
            yield f"lag-{i // 10:06d}", base + i.to_bytes(4, "big")

    stalls: list[float] = []
    # The main thread's CPU time over the same interval: the stall our loop caused, apart from
    # the time the OS gave other processes (a busy shared machine shows in ``stalls`` only).
    busy: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        loop = asyncio.get_running_loop()
        while not done.is_set():
            t0, c0 = loop.time(), time.thread_time()
            await asyncio.sleep(0.001)
            stalls.append((loop.time() - t0 - 0.001) * 1000)
            busy.append((time.thread_time() - c0) * 1000)

    outcome = "ok"
    async with AsyncFaceClient(url, key=key) as client:
        task = asyncio.create_task(probe())
        t0 = time.monotonic()
        try:
            report = await enroll(
                client, "lag", pairs(), large=True, max_concurrency=32, train=False,
                journal=journal,
            )  # fmt: skip
            outcome = f"ok: {report.faces_added} added"
        except JournalBusy as exc:
            outcome = f"JournalBusy after {time.monotonic() - t0:.1f} s: {exc}"
        finally:
            done.set()
            await task
    stalls.sort()
    busy.sort()
    n = len(stalls)
    return {
        "outcome": outcome,
        "samples": n,
        "p50_ms": stalls[n // 2] if n else None,
        "p999_ms": stalls[min(n - 1, int(n * 0.999))] if n else None,
        "max_ms": stalls[-1] if n else None,
        "cpu_p999_ms": busy[min(n - 1, int(n * 0.999))] if n else None,
        "cpu_max_ms": busy[-1] if n else None,
        "seconds": time.monotonic() - t0,
    }


def loop_lag(config: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """Loop stalls during an enrollment (file journal), then with the journal held."""
    out: dict[str, Any] = {}
    with _harness.EmulatorProcess() as emu:
        out["enroll"] = asyncio.run(
            _lag_run(emu.url, emu.key, config["lag_faces"], tmp / "lag.sqlite")
        )
        held = tmp / "held.sqlite"
        db = sqlite3.connect(held, isolation_level=None)
        db.execute("CREATE TABLE IF NOT EXISTS t (x)")
        holder = subprocess.Popen(
            [sys.executable, "-c",
             "import sqlite3, sys\n"
             f"db = sqlite3.connect({str(held)!r}, isolation_level=None)\n"
             "db.execute('BEGIN IMMEDIATE')\nprint('held', flush=True)\nsys.stdin.read()\n"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        db.close()
        try:
            assert holder.stdout is not None
            holder.stdout.readline()
            out["journal_held"] = asyncio.run(_lag_run(emu.url, emu.key, 100, held))
        finally:
            if holder.stdin is not None:
                holder.stdin.close()
            holder.wait(30)
    return out


def run(config: dict[str, Any]) -> dict[str, Any]:
    """Both parts; the figures per seed and the totals."""
    tmp = Path(tempfile.mkdtemp(prefix="face-soak-"))
    try:
        seeds = []
        for seed in config["seeds"]:
            _harness.log(f"soak seed {seed}")
            seeds.append(soak_seed(config, seed, tmp))
        totals = {
            key: sum(s[key] for s in seeds)
            for key in ("duplicate_faces", "duplicate_persons", "lost", "kills", "images")
        }
        totals["unfinished"] = sum(1 for s in seeds if s["final_exit"] is None)
        lag = loop_lag(config, tmp) if config.get("lag_faces") else None
        return {"config": {k: v for k, v in config.items() if k != "name"}, "seeds": seeds,
                "totals": totals, "loop_lag": lag}  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
