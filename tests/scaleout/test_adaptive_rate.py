"""The adaptive rate: its curve on a fake clock, then clients against the emulator's limit."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import pytest
from helpers_redis import RedisServer

from face_async import AdaptiveRate, AsyncFaceClient, FaceValidationError, RedisQuota
from face_async._http._adaptive import (
    BETA,
    SCALE,
    AdaptiveGate,
    AdaptiveRedisGate,
    CubicRate,
)
from face_async.emulator import Emulator, Fault, RateLimit

KEY = "adaptive-test-key-0123456789abcdef"
LIMIT = 20.0


# --- the curve, on a fake clock --------------------------------------------------------------


def send(rate: CubicRate, start: float, end: float, per_second: float) -> float:
    """Calls sent evenly from ``start`` to ``end``; returns the rate after the last one."""
    calls = int((end - start) * per_second)
    for i in range(calls):
        rate.sent(start + i / per_second)
    return rate.rate


def test_without_429s_the_rate_grows_along_the_cubic_up_to_the_ceiling() -> None:
    rate = CubicRate(AdaptiveRate(initial_tps=10, max_tps=50))
    assert rate.sent(100.0) == 10.0  # the curve starts at the first call
    # Sent as fast as allowed: never app-limited, so the curve alone sets the rate.
    assert rate.curve(102.0) == pytest.approx(10 + SCALE * 2**3)
    now, grown = 100.0, []
    for _ in range(200):  # bounded: 20 s of calls at the rate in force
        now += 1.0 / rate.rate
        grown.append(rate.sent(now))
        if now > 120.0:
            break
    assert grown == sorted(grown)  # never shrinks without a 429
    assert rate.rate == 50.0  # the ceiling holds
    # 10 + 0.4 * t**3 reaches 50 at t = (40 / 0.4) ** (1/3), about 4.6 s
    assert rate.curve(100.0 + (40 / SCALE) ** (1 / 3)) == pytest.approx(50.0)


def test_a_429_cuts_to_beta_of_the_measured_rate_once_per_event() -> None:
    rate = CubicRate(AdaptiveRate(initial_tps=40, max_tps=100))
    send(rate, 0.0, 3.0, per_second=25.0)  # the caller sends 25/s, below the curve
    assert rate.measured == pytest.approx(25.0, rel=0.05)
    assert rate.rate <= 2 * rate.measured  # app-limited: at most twice what is sent
    assert rate.throttled(3.0, hold=1.0)
    assert rate.rate == pytest.approx(BETA * rate.measured, rel=0.01)
    cut = rate.rate
    # More 429s during the pause answer calls sent before the cut: no second cut.
    assert not rate.throttled(3.2, hold=1.0)
    assert not rate.throttled(3.9, hold=1.0)
    assert rate.cuts == 1
    assert rate.rate == cut
    # A 429 after the pause is a new event.
    assert rate.throttled(4.5, hold=1.0)
    assert rate.cuts == 2
    assert rate.rate == pytest.approx(BETA * cut)


def test_after_a_cut_the_curve_regains_the_old_rate_at_k_then_probes_above() -> None:
    rate = CubicRate(AdaptiveRate(initial_tps=20, max_tps=100))
    rate.sent(0.0)
    assert rate.throttled(0.0)  # no measure yet: the rate in force is what was found
    assert rate.rate == pytest.approx(14.0)
    k = (20 * (1 - BETA) / SCALE) ** (1 / 3)
    assert rate.curve(0.0) == pytest.approx(14.0)
    assert rate.curve(k) == pytest.approx(20.0)
    # Flat near the old rate (where the limit probably is), steeper after.
    assert rate.curve(k + 0.5) - rate.curve(k) < 0.1
    assert rate.curve(k + 3.0) - rate.curve(k + 2.5) > 2.0


def test_the_floor_keeps_the_rate_above_zero() -> None:
    rate = CubicRate(AdaptiveRate(initial_tps=1, min_tps=0.5))
    for i in range(50):
        rate.throttled(float(i), hold=0.5)
    assert rate.cuts == 50
    assert rate.rate == 0.5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_tps": 0},
        {"min_tps": -1},
        {"max_tps": math.inf},
        {"initial_tps": True},
        {"initial_tps": 5, "min_tps": 6},
        {"initial_tps": 50, "max_tps": 40},
    ],
)
def test_bad_settings_raise(kwargs: dict[str, float]) -> None:
    with pytest.raises(FaceValidationError):
        AdaptiveRate(**kwargs)


def test_client_refuses_tps_with_rate_and_a_non_rate() -> None:
    with pytest.raises(FaceValidationError, match="not both") as info:
        AsyncFaceClient("http://127.0.0.1:9", key=KEY, tps=5, rate=AdaptiveRate())
    assert info.value.parameter == "rate"
    with pytest.raises(FaceValidationError, match="AdaptiveRate"):
        AsyncFaceClient("http://127.0.0.1:9", key=KEY, rate=5)  # type: ignore[arg-type]


# --- against the emulator --------------------------------------------------------------------


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(key=KEY) as emulator:
        yield emulator


async def hammer(client: AsyncFaceClient, seconds: float, workers: int = 8) -> None:
    """``workers`` tasks calling a cheap GET back to back for ``seconds``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds

    async def worker() -> None:
        while loop.time() < end:
            await client.person_groups.list()

    await asyncio.gather(*(worker() for _ in range(workers)))


async def test_converges_on_an_unknown_limit_with_few_429s(emulator: Emulator) -> None:
    emulator.config.rate_limit = RateLimit(LIMIT)  # bursts of one second's worth
    stats = emulator.stats
    async with AsyncFaceClient(emulator.url, key=KEY, rate=AdaptiveRate()) as client:
        gate = client.endpoint.gate
        assert isinstance(gate, AdaptiveGate)
        await hammer(client, 6.0)  # finding the limit: from 10/s, over it, cut
        assert gate.cubic.cuts >= 1
        ok_before, limited_before = stats.responses[200], stats.rate_limited
        loop = asyncio.get_running_loop()
        started = loop.time()
        await hammer(client, 8.0)
        elapsed = loop.time() - started
    ok = stats.responses[200] - ok_before
    limited = stats.rate_limited - limited_before
    assert ok / elapsed >= 0.85 * LIMIT, (ok / elapsed, gate.cubic)
    assert limited / (ok + limited) <= 0.03, (limited, ok)


async def test_a_burst_of_429s_cuts_the_rate(emulator: Emulator) -> None:
    emulator.config.faults = [Fault("429", count=4)]
    async with AsyncFaceClient(emulator.url, key=KEY, rate=AdaptiveRate(initial_tps=20)) as client:
        await asyncio.gather(*(client.person_groups.list() for _ in range(4)))
        gate = client.endpoint.gate
        assert isinstance(gate, AdaptiveGate)
        assert client.stats.rate_limited == 4
        # The calls are spaced 50 ms apart and held by each pause: each 429 came on its own.
        assert 1 <= gate.cubic.cuts <= 4
        assert gate.tps is not None
        # Each cut is to 0.7 of the rate; the curve climbs back during each 1 s pause.
        assert gate.tps < 20.0


async def test_429s_during_the_pause_of_a_cut_do_not_cut_again() -> None:
    gate = AdaptiveGate(AdaptiveRate(initial_tps=20))
    try:
        gate.pause(1.0)  # the first 429 of a burst, as the transport reports it
        assert gate.cubic.cuts == 1
        assert gate.tps == pytest.approx(14.0)
        for _ in range(5):  # the answers to the calls already in flight
            gate.pause(1.0)
        assert gate.cubic.cuts == 1
        assert gate.tps == pytest.approx(14.0)
        assert gate.pauses >= 1
    finally:
        gate.close()


async def test_without_429s_it_grows_to_the_ceiling(emulator: Emulator) -> None:
    config = AdaptiveRate(initial_tps=5, max_tps=30)
    async with AsyncFaceClient(emulator.url, key=KEY, rate=config) as client:
        gate = client.endpoint.gate
        assert isinstance(gate, AdaptiveGate)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(40):  # bounded: 40 rounds of 0.25 s
            await hammer(client, 0.25, workers=16)
            if gate.tps == config.max_tps:
                break
        reached = loop.time() - started
    assert gate.tps == config.max_tps
    assert gate.cubic.cuts == 0
    assert emulator.stats.rate_limited == 0
    # 5 + 0.4 * t**3 = 30 at t ~ 4 s; the measured rate lags by an interval or two.
    assert reached < 7.0, reached


async def test_a_view_with_tps_gets_a_fixed_gate(emulator: Emulator) -> None:
    async with AsyncFaceClient(emulator.url, key=KEY, rate=AdaptiveRate()) as client:
        view = client.with_endpoint(emulator.url.replace("127.0.0.1", "localhost"), key=KEY, tps=3)
        assert not isinstance(view.endpoint.gate, AdaptiveGate)
        assert view.endpoint.gate.tps == 3
        assert isinstance(client.endpoint.gate, AdaptiveGate)


async def test_shared_through_redis_a_429_in_one_client_cuts_the_other(
    emulator: Emulator, redis_server: RedisServer
) -> None:
    quota = RedisQuota(redis_server.url, tps=LIMIT)
    config = AdaptiveRate(initial_tps=20)
    async with (
        AsyncFaceClient(emulator.url, key=KEY, quota=quota, rate=config) as one,
        AsyncFaceClient(emulator.url, key=KEY, quota=quota, rate=config) as two,
    ):
        await asyncio.gather(one.person_groups.list(), two.person_groups.list())
        gate_one, gate_two = one.endpoint.gate, two.endpoint.gate
        assert isinstance(gate_one, AdaptiveRedisGate)
        assert isinstance(gate_two, AdaptiveRedisGate)
        assert gate_two.tps is not None
        assert gate_two.tps >= LIMIT
        loop = asyncio.get_running_loop()
        # What the transport does on a 429 in client one: pause (and share the pause).
        gate_one.pause(1.5)
        await asyncio.wait(set(gate_one._writes))  # the pause is in Redis
        assert gate_one.cubic.cuts == 1
        started = loop.time()
        # Client two meets the shared pause in Redis, waits it out and cuts its rate too.
        await two.person_groups.list()
        assert loop.time() - started >= 1.0
        assert two.stats.rate_limited == 0
        assert emulator.stats.rate_limited == 0
        assert gate_two.cubic.cuts == 1
        assert gate_one.tps == pytest.approx(LIMIT * BETA, rel=0.02)
        # Two sent again after the pause, by when the curve had climbed most of the way back.
        assert gate_two.tps is not None
        assert gate_two.tps < LIMIT
