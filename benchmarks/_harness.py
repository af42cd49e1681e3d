"""Process management, timing summaries and the environment record (no client code here).

The orchestrator (``python -m benchmarks``) uses only the standard library to talk to the
emulator (urllib over 127.0.0.1), so its own imports never colour a measurement.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

KEY = "bench-key"
KEY_HEADER = "Ocp-Apim-Subscription-Key"
LOOPBACK = "127.0.0.1"

# The packages whose versions explain a result.
PACKAGES = (
    "face-async",
    "aiohttp",
    "attrs",
    "cattrs",
    "orjson",
    "redis",
    "azure-ai-vision-face",
    "azure-core",
    "azure-cognitiveservices-vision-face",
    "msrest",
    "cognitive_face",
    "requests",
    "urllib3",
    "matplotlib",
    "psutil",
)

# Importable module of each peer, for availability checks without importing it here.
PEER_MODULES = {
    "face-async": "face_async",
    "aiohttp": "aiohttp",
    "azure-ai-vision-face": "azure.ai.vision.face.aio",
    "azure-cognitiveservices-vision-face": "azure.cognitiveservices.vision.face",
    "cognitive_face": "cognitive_face",
}


# Optional CPU pinning (``--pin``): the emulator on one core, the client workers on another.
PINNING: dict[str, set[int]] = {}


def pin_cpus() -> dict[str, set[int]]:
    """Pin the emulator to the first usable CPU and the workers to the second (if there are 2+)."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return {}
    if len(cpus) < 2:
        return {}
    PINNING.update({"emulator": {cpus[0]}, "worker": {cpus[1]}})
    return PINNING


class HarnessError(RuntimeError):
    """The harness itself broke (emulator did not start, worker crashed, ...)."""


# ---------------------------------------------------------------------------------------------
# Summaries


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """Median, min and max of the runs (and the runs themselves, for results.json)."""
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0, "values": []}
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
        "values": list(values),
    }


def fmt_num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def fmt_summary(summary: Mapping[str, Any] | None, digits: int = 1, unit: str = "") -> str:
    """``median (min-max)``; a single run prints its value alone."""
    if not summary or summary.get("median") is None:
        return "n/a"
    med = fmt_num(summary["median"], digits)
    if summary["n"] <= 1:
        return f"{med}{unit}"
    return f"{med}{unit} ({fmt_num(summary['min'], digits)}-{fmt_num(summary['max'], digits)})"


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


# ---------------------------------------------------------------------------------------------
# The emulator, in its own process


class EmulatorProcess:
    """``python -m face_async.emulator --port 0 --key K ...`` in a child process on 127.0.0.1."""

    def __init__(
        self,
        *,
        key: str = KEY,
        latency: Mapping[str, float] | None = None,
        rate_limit: float | None = None,
        conflict_mode: str | None = None,
        extra_args: Sequence[str] = (),
        log_path: Path | None = None,
    ) -> None:
        self.key = key
        self.args = [sys.executable, "-m", "face_async.emulator", "--port", "0", "--key", key]
        for glob, seconds in (latency or {}).items():
            self.args += ["--latency", f"{glob}={seconds}"]
        if rate_limit is not None:
            self.args += ["--rate-limit", str(rate_limit)]
        if conflict_mode is not None:
            self.args += ["--conflict-mode", conflict_mode]
        self.args += list(extra_args)
        self.url = ""
        self.pid = 0
        self._proc: subprocess.Popen[str] | None = None
        self._tail: deque[str] = deque(maxlen=50)
        self._drain: threading.Thread | None = None
        self._log_path = log_path

    def start(self, timeout: float = 30.0) -> EmulatorProcess:
        env = dict(os.environ)
        env["NO_PROXY"] = env["no_proxy"] = f"{LOOPBACK},localhost"
        env["PYTHONUNBUFFERED"] = "1"
        stderr = open(self._log_path, "w") if self._log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                self.args,
                stdout=subprocess.PIPE,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                text=True,
                env=env,
                cwd=str(Path(__file__).resolve().parent.parent),
            )
        finally:
            if stderr is not subprocess.DEVNULL:
                stderr.close()  # type: ignore[union-attr]
        self.pid = self._proc.pid
        if PINNING.get("emulator"):
            with contextlib.suppress(OSError, AttributeError):
                os.sched_setaffinity(self.pid, PINNING["emulator"])
        ready = threading.Event()
        found: dict[str, str] = {}

        def drain() -> None:
            # The child's stdout must be drained for its whole life, or a chatty emulator blocks.
            proc = self._proc
            if proc is None or proc.stdout is None:
                return
            for line in proc.stdout:
                line = line.rstrip("\n")
                self._tail.append(line)
                for name in ("FACE_ENDPOINT", "FACE_APIKEY"):
                    if line.startswith(name + "="):
                        found[name] = line.split("=", 1)[1].strip()
                if "FACE_ENDPOINT" in found and "FACE_APIKEY" in found:
                    ready.set()
            ready.set()

        self._drain = threading.Thread(target=drain, daemon=True, name="emulator-stdout")
        self._drain.start()
        if not ready.wait(timeout) or "FACE_ENDPOINT" not in found:
            self.stop()
            raise HarnessError(
                f"emulator did not start within {timeout}s: {' '.join(self.args)}\n"
                + "\n".join(self._tail)
            )
        self.url = found["FACE_ENDPOINT"].rstrip("/")
        self.key = found.get("FACE_APIKEY", self.key)
        if not self.url.startswith(f"http://{LOOPBACK}:"):
            self.stop()
            raise HarnessError(f"emulator is not on loopback: {self.url}")
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        # The drain thread ends at EOF once the child is gone; then the pipe can be closed.
        if self._drain is not None:
            self._drain.join(5)
            self._drain = None
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds the emulator process has used so far (Linux /proc)."""
        try:
            with open(f"/proc/{self.pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ticks = os.sysconf("SC_CLK_TCK")
            return (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, ValueError, IndexError):
            return None

    @property
    def api(self) -> str:
        return f"{self.url}/face/v1.0"

    # -- plain HTTP, standard library only ---------------------------------------------------

    def request(
        self, method: str, path: str, body: object = None, *, timeout: float = 30.0
    ) -> tuple[int, Any]:
        """One request; ``path`` is relative to the emulator root (``/face/v1.0/...``)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header(KEY_HEADER, self.key)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        # A proxy-less opener: the benchmark never sends traffic anywhere but 127.0.0.1.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=timeout) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as err:
            raw = err.read()
            status = err.code
        text = raw.decode() if raw else ""
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text

    def stats(self) -> dict[str, Any]:
        status, body = self.request("GET", "/_emulator/stats")
        if status != 200 or not isinstance(body, dict):
            raise HarnessError(f"GET /_emulator/stats -> {status}: {str(body)[:300]}")
        return body

    def reset(self) -> None:
        status, body = self.request("POST", "/_emulator/reset")
        if status >= 300:
            raise HarnessError(f"POST /_emulator/reset -> {status}: {str(body)[:300]}")

    def create_large_group(self, group_id: str) -> None:
        status, body = self.request(
            "PUT",
            f"/face/v1.0/largepersongroups/{group_id}",
            {"name": group_id, "recognitionModel": "recognition_04"},
        )
        if status != 200:
            raise HarnessError(f"create large person group -> {status}: {str(body)[:300]}")

    def create_large_persons(self, group_id: str, count: int) -> list[str]:
        ids = []
        for i in range(count):
            status, body = self.request(
                "POST", f"/face/v1.0/largepersongroups/{group_id}/persons", {"name": f"p{i}"}
            )
            if status != 200 or not isinstance(body, dict) or "personId" not in body:
                raise HarnessError(f"create person -> {status}: {str(body)[:300]}")
            ids.append(body["personId"])
        return ids


# ---------------------------------------------------------------------------------------------
# Workers: one client workload per process


def run_worker(spec: Mapping[str, Any], *, timeout: float) -> dict[str, Any]:
    """Run ``python -m benchmarks._worker`` with ``spec`` on stdin; return its RESULT line."""
    env = dict(os.environ)
    env["NO_PROXY"] = env["no_proxy"] = f"{LOOPBACK},localhost"
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYTHONHASHSEED", "0")
    if PINNING.get("worker"):
        env["FACE_BENCH_CPUS"] = ",".join(str(c) for c in sorted(PINNING["worker"]))
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks._worker"],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=str(Path(__file__).resolve().parent.parent),
        )
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"worker {spec.get('task')}/{spec.get('client')} timed out") from exc
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            result.setdefault("worker_wall_s", time.perf_counter() - started)
            return result
    tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
    raise HarnessError(
        f"worker {spec.get('task')}/{spec.get('client')} exited {proc.returncode} "
        f"without a result:\n{tail}"
    )


def peer_available(name: str) -> tuple[bool, str]:
    module = PEER_MODULES.get(name, name)
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return True, ""
    return False, f"not installed (`pip install -e '.[bench]'` installs {name})"


def available_clients(clients: Sequence[str], na: dict[str, str]) -> list[str]:
    """The clients whose library is installed; each missing one goes into ``na`` with why."""
    out = []
    for name in clients:
        ok, why = peer_available(name.split("/")[0])
        if ok:
            out.append(name)
        else:
            na[name] = why
    return out


def interleaved(clients: Sequence[str], round_no: int) -> list[str]:
    """Round r runs the clients rotated by r (A B C, then B C A, ...): noise spreads evenly."""
    shift = round_no % max(1, len(clients))
    return [*clients[shift:], *clients[:shift]]


# ---------------------------------------------------------------------------------------------
# Environment record


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _git(*args: str) -> str | None:
    """``git args...`` in the source tree: its stdout, None when git fails or is missing."""
    root = Path(__file__).resolve().parent.parent
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["git", *args], capture_output=True, text=True, cwd=root, timeout=5)
        if out.returncode == 0:
            return out.stdout.strip()
    return None


def _git_commit() -> str | None:
    commit = _git("rev-parse", "--short", "HEAD")
    if commit is None:
        return None
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return commit + ("+dirty" if dirty else "")


def load_average() -> list[float] | None:
    with contextlib.suppress(OSError, AttributeError):
        return [round(x, 2) for x in os.getloadavg()]
    return None


def environment() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    if versions.get("face-async") is None:
        # Run from a source tree that is not pip-installed: read the version from the source.
        with contextlib.suppress(OSError, IndexError):
            init = Path(__file__).resolve().parent.parent / "face_async" / "__init__.py"
            for line in init.read_text().splitlines():
                if line.startswith("__version__"):
                    version = line.split("=", 1)[1].strip().strip("\"'")
                    versions["face-async"] = f"{version} (source tree)"
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    mem_total = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "memory_gib": mem_total,
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": versions,
        "git_commit": _git_commit(),
        "load_average_start": load_average(),
    }


def log(message: str) -> None:
    """Progress on stderr (stdout is left for the final summary)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)
