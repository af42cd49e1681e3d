"""A throwaway redis-server on a free loopback port, for the tests and the benchmarks."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

__all__ = ["RedisServer", "redis_binary"]


def redis_binary() -> str | None:
    """The redis-server on PATH, or None."""
    return shutil.which("redis-server")


class RedisServer:
    """One redis-server process: ``url`` to reach it, :meth:`stop` to kill it (idempotent).

    ``directory`` is its working directory (nothing is saved there). Raises RuntimeError if
    the server does not say it is ready.
    """

    def __init__(self, binary: str, directory: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        command = [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(directory),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert self.process.stdout is not None
        # The server says when it listens; a bounded read of its log, no polling of the port.
        seen = []
        for _ in range(200):
            line = self.process.stdout.readline()
            seen.append(line)
            if "Ready to accept connections" in line or not line:
                break
        if "Ready to accept connections" not in seen[-1]:
            self.stop()
            raise RuntimeError("redis-server did not start:\n" + "".join(seen))

    def stop(self) -> None:
        """Kill the server (idempotent) and reap it."""
        if self.process.returncode is None:
            self.process.kill()
            self.process.communicate(timeout=10)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
