"""Added latency: per operation glob, fixed or drawn from a seeded distribution."""

from __future__ import annotations

import asyncio
import random

import aiohttp
import pytest

from face_async.emulator import Emulator, Latency

KEY = "test-key"
HEADERS = {"Ocp-Apim-Subscription-Key": KEY}


async def timed_get(session: aiohttp.ClientSession, url: str) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with session.get(url, headers=HEADERS) as resp:
        assert resp.status == 200
        await resp.read()
    return loop.time() - started


async def test_fixed_latency_delays_matching_operations_only(emulator: Emulator) -> None:
    emulator.config.latency = {"PersonGroup_List": Latency.fixed(0.25)}
    async with aiohttp.ClientSession() as session:
        slow = await timed_get(session, f"{emulator.url}/face/v1.0/persongroups")
        await timed_get(session, f"{emulator.url}/face/v1.0/facelists")
    assert slow >= 0.25
    assert emulator.stats.delayed == {"PersonGroup_List": 1}
    assert emulator.stats.delay_seconds == pytest.approx(0.25)
    assert emulator.stats.requests == {"PersonGroup_List": 1, "FaceList_List": 1}


async def test_first_matching_glob_wins(emulator: Emulator) -> None:
    emulator.config.latency = {
        "PersonGroup_List": Latency.fixed(0.0),
        "*_List": Latency.fixed(0.2),
    }
    async with aiohttp.ClientSession() as session:
        await timed_get(session, f"{emulator.url}/face/v1.0/persongroups")
        elapsed = await timed_get(session, f"{emulator.url}/face/v1.0/facelists")
    assert elapsed >= 0.2
    assert emulator.stats.delayed == {"PersonGroup_List": 1, "FaceList_List": 1}
    assert emulator.stats.delay_seconds == pytest.approx(0.2)


async def test_distribution_latency_is_seeded_and_bounded(emulator: Emulator) -> None:
    async def total_delay(seed: int) -> float:
        emulator.reset()
        emulator.config.seed = seed
        emulator.config.latency = {"*": Latency.parse("uniform:0.001:0.02")}
        async with aiohttp.ClientSession() as session:
            for _ in range(5):
                await timed_get(session, f"{emulator.url}/face/v1.0/persongroups")
        assert emulator.stats.delayed == {"PersonGroup_List": 5}
        return emulator.stats.delay_seconds

    first = await total_delay(3)
    assert 5 * 0.001 <= first <= 5 * 0.02
    assert await total_delay(3) == first
    assert await total_delay(4) != first


def test_latency_parse_and_sample() -> None:
    rng = random.Random(1)
    assert Latency.parse("0.5") == Latency.fixed(0.5)
    assert Latency.parse("fixed:0.5") == Latency.fixed(0.5)
    assert Latency.parse("uniform:0.1:0.2") == Latency("uniform", 0.1, 0.2)
    assert Latency.parse("normal:0.1:0.01") == Latency.normal(0.1, 0.01)
    assert Latency.parse("lognormal:0.05:0.5") == Latency.lognormal(0.05, 0.5)
    assert Latency.fixed(0.3).sample(rng) == 0.3
    draws = [Latency.uniform(0.1, 0.2).sample(rng) for _ in range(200)]
    assert all(0.1 <= d <= 0.2 for d in draws)
    assert all(Latency.normal(0.0, 1.0).sample(rng) >= 0.0 for _ in range(200))
    lognormal = sorted(Latency.lognormal(0.05, 0.5).sample(rng) for _ in range(401))
    assert 0.04 < lognormal[200] < 0.06  # the median
    for bad, why in [
        ("", "float"),
        ("x", "float"),
        ("uniform:0.2:0.1", "low <= high"),
        ("gamma:1:2", "SECONDS or"),
        ("-1", ">= 0"),
        ("uniform:1", "SECONDS or"),
    ]:
        with pytest.raises(ValueError, match=why):
            Latency.parse(bad)
