"""The quota shared over Redis: clients (and a second process) against the emulator."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from helpers_redis import RedisServer

from face_async import AsyncFaceClient, RedisQuota
from face_async._http._redis_gate import RedisGate
from face_async.emulator import Emulator, Fault, RateLimit

QUOTA = 10.0
BURST = 10  # the gate's bucket: one second's worth of calls
# The emulator's bucket is exact; a call granted at t may reach it a few ms late (a connection
# being opened, a busy loop) while the next is on time. One call of slack (100 ms at 10/s)
# absorbs that jitter; clients with a local limit each would still double the rate.
SERVICE_LIMIT = RateLimit(QUOTA, burst=BURST + 1)
KEY = "scaleout-test-key-0123456789abcdef"


class Arrivals:
    """When each answer left the emulator (loop time) and its status; runs hooks per answer."""

    def __init__(self, emulator: Emulator) -> None:
        self.times: list[float] = []
        self.statuses: list[int] = []
        self.hooks: list[Callable[[int], None]] = []
        emulator.app.on_response_prepare.append(self._seen)

    async def _seen(self, request: web.Request, response: web.StreamResponse) -> None:
        if not request.path.startswith("/face/"):
            return
        self.times.append(asyncio.get_running_loop().time())
        self.statuses.append(response.status)
        for hook in self.hooks:
            hook(len(self.times))

    def between(self, start: float, end: float) -> int:
        return sum(1 for t in self.times if start < t < end)


@pytest.fixture
async def served() -> AsyncIterator[tuple[Emulator, Arrivals]]:
    emulator = Emulator(key=KEY)
    arrivals = Arrivals(emulator)  # before the app starts and its signals freeze
    async with emulator:
        yield emulator, arrivals


def rate(times: list[float]) -> float:
    """Calls per second past the initial burst (what a token bucket allows at most)."""
    span = times[-1] - times[0]
    return (len(times) - BURST) / span


async def run_calls(client: AsyncFaceClient, calls: int, workers: int = 4) -> None:
    """``calls`` cheap GETs from ``workers`` concurrent tasks."""
    left = [calls]

    async def worker() -> None:
        while left[0] > 0:
            left[0] -= 1
            await client.person_groups.list()

    await asyncio.gather(*(worker() for _ in range(workers)))


async def test_two_clients_share_the_quota(
    served: tuple[Emulator, Arrivals], redis_server: RedisServer
) -> None:
    emulator, arrivals = served
    emulator.config.rate_limit = SERVICE_LIMIT
    quota = RedisQuota(redis_server.url, tps=QUOTA)
    async with (
        AsyncFaceClient(emulator.url, key=KEY, quota=quota) as one,
        AsyncFaceClient(emulator.url, key=KEY, quota=quota) as two,
    ):
        await asyncio.gather(run_calls(one, 25), run_calls(two, 25))
        assert one.stats.rate_limited == two.stats.rate_limited == 0
    assert emulator.stats.rate_limited == 0
    assert len(arrivals.times) == 50
    measured = rate(arrivals.times)
    # Each client alone would run at the full quota: together they would be twice as fast.
    assert 0.8 * QUOTA <= measured <= 1.05 * QUOTA, measured


_WORKER = """
import asyncio, os, sys
from face_async import AsyncFaceClient, RedisQuota

async def main() -> None:
    url, redis_url, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
    quota = RedisQuota(redis_url, tps=float(sys.argv[4]))
    async with AsyncFaceClient(url, key=os.environ["FACE_APIKEY"], quota=quota) as client:
        await client.open()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        left = [calls]
        async def worker() -> None:
            while left[0] > 0:
                left[0] -= 1
                await client.person_groups.list()
        await asyncio.gather(*(worker() for _ in range(4)))
        print("done", client.stats.rate_limited, flush=True)

asyncio.run(main())
"""


async def test_a_second_process_shares_the_quota(
    served: tuple[Emulator, Arrivals], redis_server: RedisServer
) -> None:
    emulator, arrivals = served
    emulator.config.rate_limit = SERVICE_LIMIT
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WORKER, emulator.url, redis_server.url, "25", str(QUOTA),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "FACE_APIKEY": KEY},
    )  # fmt: skip
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        assert (await asyncio.wait_for(process.stdout.readline(), 60)).strip() == b"ready"
        async with AsyncFaceClient(
            emulator.url, key=KEY, quota=RedisQuota(redis_server.url, tps=QUOTA)
        ) as client:
            process.stdin.write(b"go\n")
            await process.stdin.drain()
            await run_calls(client, 25)
            out, _ = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()
    assert process.returncode == 0
    assert out.split() == [b"done", b"0"]
    assert client.stats.rate_limited == 0
    assert emulator.stats.rate_limited == 0
    assert len(arrivals.times) == 50
    measured = rate(arrivals.times)
    assert 0.8 * QUOTA <= measured <= 1.05 * QUOTA, measured


async def test_a_429_in_one_client_pauses_the_other(
    served: tuple[Emulator, Arrivals], redis_server: RedisServer
) -> None:
    emulator, arrivals = served

    def inject(count: int) -> None:
        if count == 15:  # in the steady state, past the first burst
            emulator.config.faults = [Fault("429", operations="PersonGroup_List", count=1)]

    arrivals.hooks.append(inject)
    quota = RedisQuota(redis_server.url, tps=QUOTA)
    async with (
        AsyncFaceClient(emulator.url, key=KEY, quota=quota) as one,
        AsyncFaceClient(emulator.url, key=KEY, quota=quota) as two,
    ):
        await asyncio.gather(run_calls(one, 20), run_calls(two, 20))
        limited = sorted([one.stats.rate_limited, two.stats.rate_limited])
    assert limited == [0, 1]
    assert arrivals.statuses.count(429) == 1
    paused_at = arrivals.times[arrivals.statuses.index(429)]
    # Retry-After: 1. Calls already admitted when the 429 came may still land just after it.
    assert arrivals.between(paused_at + 0.05, paused_at + 0.95) == 0
    assert arrivals.between(paused_at + 0.95, paused_at + 10) >= 20


async def test_redis_killed_falls_back_to_the_local_rate(
    served: tuple[Emulator, Arrivals],
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator, arrivals = served
    halfway = asyncio.Event()
    arrivals.hooks.append(lambda count: halfway.set() if count == 15 else None)
    caplog.set_level(logging.INFO, logger="face_async")
    async with AsyncFaceClient(
        emulator.url, key=KEY, quota=RedisQuota(redis_server.url, tps=QUOTA)
    ) as client:
        calls = asyncio.ensure_future(run_calls(client, 60))
        await halfway.wait()
        redis_server.stop()
        killed_at = asyncio.get_running_loop().time()
        await calls  # every call succeeds
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(" (")[0] for r in warnings] == ["Redis quota unreachable"]
    after = [t for t in arrivals.times if t > killed_at]
    assert len(after) >= 40
    # The local bucket counted the shared calls, so no fresh burst: bounded either way.
    # Without a limit the emulator answers hundreds of calls per second.
    assert rate(after) <= 1.05 * QUOTA, rate(after)
    assert (len(after) - 1) / (after[-1] - after[0]) >= 0.8 * QUOTA


async def test_keys_name_no_secret_and_expire(
    served: tuple[Emulator, Arrivals], redis_server: RedisServer
) -> None:
    emulator, _ = served
    async with AsyncExitStack() as stack:
        user_redis = aioredis.Redis.from_url(redis_server.url)
        stack.push_async_callback(user_redis.aclose)
        async with AsyncFaceClient(
            emulator.url, key=KEY, quota=RedisQuota(user_redis, tps=QUOTA, prefix="fa-test")
        ) as client:
            await run_calls(client, 5)
            client.endpoint.gate.pause(30.0)
            gate = client.endpoint.gate
            assert isinstance(gate, RedisGate)
            await asyncio.wait(gate._writes)
            keys = [key async for key in user_redis.scan_iter(match="*")]
            values = [await user_redis.get(key) for key in keys]
            ttls = [await user_redis.pttl(key) for key in keys]
        assert await user_redis.ping()  # the client we passed in is still ours, and open
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    names = sorted(key.decode() for key in keys)
    assert len(names) == 2
    assert all(name.startswith("fa-test:{" + emulator.url) for name in names), names
    assert [name.rsplit(":", 1)[1] for name in names] == ["pause", "tat"]
    for text in [*names, *(value.decode() for value in values if isinstance(value, bytes))]:
        assert KEY not in text
        assert digest not in text
    assert all(0 < ttl <= 31_000 for ttl in ttls), ttls


async def test_closing_leaves_no_task_and_no_connection(
    served: tuple[Emulator, Arrivals], redis_server: RedisServer
) -> None:
    emulator, _ = served
    client = AsyncFaceClient(emulator.url, key=KEY, quota=RedisQuota(redis_server.url, tps=50))
    await run_calls(client, 20)
    gate = client.endpoint.gate
    assert isinstance(gate, RedisGate)
    gate.pause(0.01)  # a shared pause being written when the client closes
    await client.aclose()
    names = [getattr(task.get_coro(), "__qualname__", "") for task in asyncio.all_tasks()]
    assert not [name for name in names if name.startswith("RedisGate")]
    assert not gate._writes
    assert gate._task is None
    async with aioredis.Redis.from_url(redis_server.url) as probe:
        connected = await probe.client_list()
    assert len(connected) == 1  # the probe itself


async def test_quota_arguments_are_checked_and_repr_hides_the_url() -> None:
    from face_async import FaceValidationError

    with pytest.raises(FaceValidationError):
        RedisQuota("redis://127.0.0.1:1", tps=0)
    with pytest.raises(FaceValidationError):
        RedisQuota("http://127.0.0.1:1", tps=10)
    with pytest.raises(FaceValidationError):
        AsyncFaceClient("http://127.0.0.1:1", key=KEY, quota="redis://x")  # type: ignore[arg-type]
    quota = RedisQuota("redis://:hunter2@127.0.0.1:1/0", tps=10)
    assert "hunter2" not in repr(quota)
