"""The per (endpoint, credential) gate: TPS limit and the shared 429 pause."""

from __future__ import annotations

import asyncio

import pytest

from face_async._errors import FaceValidationError
from face_async._ratelimit import GateRegistry, RateGate


async def test_pause_holds_every_acquirer_until_it_passes() -> None:
    gate = RateGate()
    loop = asyncio.get_running_loop()
    gate.pause(0.15)
    gate.pause(0.01)  # an earlier deadline never shortens a pause
    assert gate.pauses == 1
    started = loop.time()
    await asyncio.gather(*(gate.acquire() for _ in range(5)))
    assert loop.time() - started >= 0.14


async def test_pause_extended_while_waiting_is_honoured() -> None:
    gate = RateGate()
    loop = asyncio.get_running_loop()
    gate.pause(0.05)
    started = loop.time()
    waiter = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)  # let the waiter start sleeping on the first deadline
    gate.pause(0.2)
    await waiter
    assert loop.time() - started >= 0.19
    assert gate.pauses == 2


async def test_tps_limit_spaces_calls() -> None:
    gate = RateGate(tps=20)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(25):  # a burst of 20, then 20 per second
        await gate.acquire()
    assert loop.time() - started >= 0.2


async def test_fractional_tps_is_one_call_per_period() -> None:
    gate = RateGate(tps=1 / 3)  # F0: 20 calls per minute
    assert gate.tps == pytest.approx(1 / 3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await gate.acquire()
    assert loop.time() - started < 1.0  # the first call goes at once, not after 3 s


def test_bad_tps_is_refused() -> None:
    with pytest.raises(FaceValidationError):
        RateGate(tps=0)
    with pytest.raises(FaceValidationError):
        RateGate(tps=-1.0)


def test_registry_keys_by_endpoint_and_credential() -> None:
    gates = GateRegistry()
    a = gates.get("https://a/face/v1.0", "key:1", None)
    assert gates.get("https://a/face/v1.0", "key:1", None) is a
    assert gates.get("https://a/face/v1.0", "key:2", None) is not a
    assert gates.get("https://b/face/v1.0", "key:1", None) is not a
    assert len(gates) == 3
    again = gates.get("https://a/face/v1.0", "key:1", 10.0)
    assert again is a
    assert a.tps == 10.0
