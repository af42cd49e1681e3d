"""A real redis-server process on a free loopback port (the fixture is in conftest.py)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path


class RedisServer:
    """One redis-server process: ``url`` to reach it, :meth:`stop` to kill it mid-test."""

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
