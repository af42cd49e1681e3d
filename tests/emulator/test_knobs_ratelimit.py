"""The per-key token bucket: exact counts of 429s, Retry-After and the documented body."""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
import pytest

from face_async.emulator import Emulator, RateLimit
from face_async.emulator._knobs import _Bucket

KEY = "test-key"
HEADERS = {"Ocp-Apim-Subscription-Key": KEY}


async def test_burst_beyond_the_bucket_gets_exact_429s(emulator: Emulator) -> None:
    emulator.config.rate_limit_form = "status"
    emulator.config.rate_limit = RateLimit(tps=0.5, burst=3)
    base = f"{emulator.url}/face/v1.0/persongroups"
    async with aiohttp.ClientSession() as session:

        async def create(index: int) -> tuple[int, str | None, object]:
            async with session.put(f"{base}/g{index}", json={"name": "g"}, headers=HEADERS) as resp:
                return (
                    resp.status,
                    resp.headers.get("Retry-After"),
                    await resp.json(content_type=None),
                )

        results = await asyncio.gather(*(create(i) for i in range(7)))
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200, 200, 200, 429, 429, 429, 429]
    for status, retry_after, body in results:
        if status != 429:
            continue
        # Half a token per second: the next token is about 2 s away, rounded up.
        assert retry_after == "2"
        assert body == {
            "error": {
                "statusCode": 429,
                "message": "Rate limit is exceeded. Try again in 2 seconds.",
            }
        }
    assert emulator.stats.rate_limited == 4
    assert emulator.stats.responses == {200: 3, 429: 4}
    assert emulator.stats.requests == {"PersonGroup_Create": 7}
    assert len(emulator.state.person_groups) == 3  # a 429 never writes


async def test_retry_after_matches_the_message(emulator: Emulator) -> None:
    emulator.config.rate_limit_form = "status"
    emulator.config.rate_limit = RateLimit(tps=0.1)  # burst defaults to 1
    async with aiohttp.ClientSession() as session:
        statuses = []
        for _ in range(2):
            async with session.get(
                f"{emulator.url}/face/v1.0/persongroups", headers=HEADERS
            ) as resp:
                statuses.append(resp.status)
                if resp.status == 429:
                    seconds = int(resp.headers["Retry-After"])
                    message = (await resp.json())["error"]["message"]
    assert statuses == [200, 429]
    assert 9 <= seconds <= 10
    found = re.fullmatch(r"Rate limit is exceeded\. Try again in (\d+) seconds\.", message)
    assert found is not None
    assert int(found.group(1)) == seconds


async def test_gateway_form_has_a_code_and_no_retry_after(emulator: Emulator) -> None:
    # The live API gateway's 429: a string code, plain application/json, no Retry-After.
    emulator.config.rate_limit_form = "gateway"
    emulator.config.rate_limit = RateLimit(tps=0.1)
    url = f"{emulator.url}/face/v1.0/persongroups"
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            async with session.get(url, headers=HEADERS) as resp:
                status, headers, raw = resp.status, resp.headers, await resp.read()
    assert status == 429
    assert "Retry-After" not in headers
    assert headers["Content-Type"] == "application/json"
    body = json.loads(raw)
    assert set(body) == {"error"}
    assert body["error"]["code"] == "429"
    found = re.fullmatch(r"Rate limit is exceeded\. Try again in (\d+) seconds\.",
                         body["error"]["message"])  # fmt: skip
    assert found is not None
    assert 9 <= int(found.group(1)) <= 10


async def test_default_mix_alternates_gateway_and_status_forms(emulator: Emulator) -> None:
    assert emulator.config.rate_limit_form == "mix"
    emulator.config.rate_limit = RateLimit(tps=0.01)
    url = f"{emulator.url}/face/v1.0/persongroups"
    forms = []
    async with aiohttp.ClientSession() as session:
        for _ in range(5):
            async with session.get(url, headers=HEADERS) as resp:
                if resp.status == 429:
                    error = (await resp.json())["error"]
                    forms.append(("code" in error, "Retry-After" in resp.headers))
    assert forms == [(True, False), (False, True), (True, False), (False, True)]


async def test_unauthorized_calls_do_not_take_tokens(emulator: Emulator) -> None:
    emulator.config.rate_limit = RateLimit(tps=0.1, burst=1)
    url = f"{emulator.url}/face/v1.0/persongroups"
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            async with session.get(url, headers={"Ocp-Apim-Subscription-Key": "x"}) as resp:
                assert resp.status == 401
        async with session.get(url, headers=HEADERS) as resp:
            assert resp.status == 200
    assert emulator.stats.rate_limited == 0


async def test_changing_the_rate_limit_refills_the_bucket(emulator: Emulator) -> None:
    url = f"{emulator.url}/face/v1.0/persongroups"
    async with aiohttp.ClientSession() as session:
        emulator.config.rate_limit = RateLimit(tps=0.1, burst=1)
        statuses = []
        for limit in (None, RateLimit(tps=0.1, burst=2)):
            for _ in range(2):
                async with session.get(url, headers=HEADERS) as resp:
                    statuses.append(resp.status)
            emulator.config.rate_limit = limit
        async with session.get(url, headers=HEADERS) as resp:
            statuses.append(resp.status)
    # First bucket: 1 ok then 429; no limit: 2 ok; a new limit starts with a full bucket.
    assert statuses == [200, 429, 200, 200, 200]
    assert emulator.stats.rate_limited == 1


def test_bucket_refills_at_tps() -> None:
    bucket = _Bucket(RateLimit(tps=2, burst=2), now=100.0)
    assert bucket.take(100.0) == 0.0
    assert bucket.take(100.0) == 0.0
    assert bucket.take(100.0) == pytest.approx(0.5)
    assert bucket.take(100.25) == pytest.approx(0.25)
    assert bucket.take(100.5) == 0.0
    # Idle time never fills beyond the burst.
    assert bucket.take(200.0) == 0.0
    assert bucket.take(200.0) == 0.0
    assert bucket.take(200.0) > 0.0


def test_rate_limit_parse_and_capacity() -> None:
    assert RateLimit.parse("5") == RateLimit(5.0)
    assert RateLimit.parse("5:10") == RateLimit(5.0, 10)
    assert RateLimit(5).capacity == 5
    assert RateLimit(0.2).capacity == 1
    assert RateLimit(2.5, burst=7).capacity == 7
    for bad, why in [("", "float"), ("0", "> 0"), ("-1", "> 0"), ("x", "float"), ("5:y", "int")]:
        with pytest.raises(ValueError, match=why):
            RateLimit.parse(bad)
