"""A real redis-server process on a free loopback port (the fixture is in conftest.py).

The server itself lives in ``benchmarks._redis``, which the scaleout benchmark starts too.
"""

from __future__ import annotations

from benchmarks._redis import RedisServer

__all__ = ["RedisServer"]
