"""A real redis-server on a free loopback port, started per test and stopped after."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_redis import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "no redis-server on PATH (.ci/run installs it: apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must not skip the shared-quota tests: {reason}")
        pytest.skip(reason)
    server = RedisServer(binary, tmp_path)
    try:
        yield server
    finally:
        server.stop()
