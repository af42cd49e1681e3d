"""The fair gate: rate, 429 pause and pool slots in one queue (on a real event loop)."""

from __future__ import annotations

import asyncio
import itertools
import math

import pytest

from face_async._errors import FaceValidationError
from face_async._http._gate import Gate, GateRegistry


async def _through(gate: Gate, order: list[int], tag: int, priority: int = 0) -> None:
    await gate.acquire(priority)
    order.append(tag)
    gate.release()


async def test_pause_holds_every_acquirer_until_it_passes() -> None:
    gate = Gate()
    loop = asyncio.get_running_loop()
    gate.pause(0.15)
    gate.pause(0.01)  # an earlier deadline never shortens a pause
    assert gate.pauses == 1
    started = loop.time()
    await asyncio.gather(*(_through(gate, [], i) for i in range(5)))
    assert loop.time() - started >= 0.14


async def test_pause_extended_while_waiting_is_honoured() -> None:
    gate = Gate()
    loop = asyncio.get_running_loop()
    gate.pause(0.05)
    started = loop.time()
    waiter = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)  # the waiter is queued on the first deadline
    gate.pause(0.2)
    await waiter
    gate.release()
    assert loop.time() - started >= 0.19
    assert gate.pauses == 2


async def test_a_pause_holds_callers_already_queued_for_the_rate() -> None:
    # The leak this gate fixes: callers waiting for a token were not held by a 429 pause.
    gate = Gate(tps=5)
    loop = asyncio.get_running_loop()
    for _ in range(5):  # empty the bucket
        await gate.acquire()
        gate.release()
    admitted: list[float] = []

    async def caller() -> None:
        await gate.acquire()
        admitted.append(loop.time())
        gate.release()

    tasks = [asyncio.create_task(caller()) for _ in range(6)]
    await asyncio.sleep(0)  # all six are queued behind the empty bucket
    assert gate.waiting == 6
    paused_at = loop.time()
    gate.pause(0.5)
    await asyncio.gather(*tasks)
    assert min(admitted) >= paused_at + 0.49


async def test_tps_starts_nearly_full_then_spaces_calls_evenly() -> None:
    gate = Gate(tps=20)
    loop = asyncio.get_running_loop()
    started = loop.time()
    admitted: list[float] = []
    for _ in range(40):
        await gate.acquire()
        admitted.append(loop.time() - started)
        gate.release()
    at_once = sum(1 for t in admitted if t < 0.01)
    assert 10 <= at_once < 20  # under a second's worth at the start, like a full bucket
    later = admitted[at_once:]
    gaps = [b - a for a, b in itertools.pairwise(later)]
    assert min(gaps) >= 0.049 - 0.05  # spaced by 1/tps, a late call made up within 50 ms
    # Never more than a bucket of tps calls allows: tps * (1 + t) by time t.
    for count, t in enumerate(admitted, start=1):
        assert count <= 20 * (1 + t) - 1 + 1e-9


async def test_the_time_the_start_burst_takes_is_not_lost() -> None:
    # The start credit refills at tps until it runs dry, like the service's bucket does while
    # the burst goes out: a burst that takes 40 ms of the loop's time (0.4 ms per call) leaves
    # the rate where a bucket of tps calls would be, not 4 calls behind it.
    tps = 100
    gate = Gate(tps=tps)
    loop = asyncio.get_running_loop()
    started = loop.time()
    admitted: list[float] = []
    while loop.time() - started < 0.5:
        await gate.acquire()
        admitted.append(loop.time() - started)
        gate.release()
        if len(admitted) <= 100:
            busy_until = loop.time() + 0.0004
            while loop.time() < busy_until:  # the work of each call of the burst
                pass
    for count, t in enumerate(admitted, start=1):
        assert count <= tps * (1 + t) - 1 + 1e-9  # never ahead of a bucket less one call
    assert len(admitted) >= tps * 1.5 - 3  # and at most a call or two behind it


async def test_a_late_call_costs_no_capacity() -> None:
    # The event loop lets calls out late (here: a busy 30 ms between calls on a 10 ms
    # spacing would otherwise reset the schedule each time); over 2 s the rate holds.
    gate = Gate(tps=100)
    loop = asyncio.get_running_loop()
    started = loop.time()
    count = 0
    while loop.time() - started < 1.0:
        await gate.acquire()
        gate.release()
        count += 1
        if count % 10 == 0:
            busy_until = loop.time() + 0.03
            while loop.time() < busy_until:  # the loop is blocked, as by a slow callback
                pass
    assert count >= 0.95 * 100 * 1.0 + gate._credit


async def test_fractional_tps_is_one_call_per_period() -> None:
    gate = Gate(tps=1 / 3)  # F0: 20 calls per minute
    assert gate.tps == pytest.approx(1 / 3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await gate.acquire()
    gate.release()
    assert loop.time() - started < 1.0  # the first call goes at once, not after 3 s


async def test_slots_bound_in_flight_and_serve_first_come_first_served() -> None:
    gate = Gate(slots=2)
    await gate.acquire()
    await gate.acquire()
    order: list[int] = []
    tasks = [asyncio.create_task(_through(gate, order, i)) for i in range(5)]
    await asyncio.sleep(0)
    assert gate.in_flight == 2
    assert gate.waiting == 5
    assert order == []
    gate.release()
    gate.release()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
    assert gate.in_flight == 0


async def test_a_returning_caller_queues_behind_those_waiting() -> None:
    gate = Gate(slots=1)
    await gate.acquire()
    order: list[int] = []
    waiting = [asyncio.create_task(_through(gate, order, i)) for i in range(3)]
    await asyncio.sleep(0)
    gate.release()  # the head (0) is admitted ...
    again = asyncio.create_task(_through(gate, order, 99))  # ... and we come straight back
    await asyncio.gather(*waiting, again)
    assert order == [0, 1, 2, 99]


async def test_higher_priority_is_admitted_first_equal_priority_in_order() -> None:
    gate = Gate(slots=1)
    await gate.acquire()
    order: list[int] = []
    specs = [(0, 0), (1, 5), (2, 0), (3, 5), (4, 9)]
    tasks = [asyncio.create_task(_through(gate, order, tag, prio)) for tag, prio in specs]
    await asyncio.sleep(0)
    gate.release()
    await asyncio.gather(*tasks)
    assert order == [4, 1, 3, 0, 2]


async def test_a_cancelled_waiter_holds_nothing() -> None:
    gate = Gate(slots=1)
    await gate.acquire()
    cancelled = asyncio.create_task(gate.acquire())
    order: list[int] = []
    behind = asyncio.create_task(_through(gate, order, 1))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    gate.release()
    await behind
    assert order == [1]
    assert gate.in_flight == 0


async def test_admitted_then_cancelled_gives_the_slot_back() -> None:
    gate = Gate(slots=1)
    await gate.acquire()
    admitted = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    gate.release()  # admits the waiter: its ticket is set ...
    admitted.cancel()  # ... but it is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await admitted
    assert gate.in_flight == 0


def test_bad_settings_are_refused() -> None:
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(FaceValidationError):
            Gate(tps=bad)
    with pytest.raises(FaceValidationError):
        Gate(slots=-1)


def test_registry_keys_by_endpoint_and_credential() -> None:
    registry = GateRegistry(slots=7)
    a = registry.get("https://a", "key:1", None)
    assert registry.get("https://a", "key:1", None) is a
    assert registry.get("https://a", "key:2", None) is not a
    assert registry.get("https://b", "key:1", None) is not a
    assert a.slots == 7
    assert registry.get("https://a", "key:1", 5.0).tps == 5.0  # the latest setting wins
    assert len(registry) == 3


async def test_a_lowered_limit_cuts_the_start_credit() -> None:
    gate = Gate(tps=100)
    gate.set_tps(5)  # enroll(tps=5) on a client made with tps=100
    loop = asyncio.get_running_loop()
    started = loop.time()
    admitted = []
    for _ in range(6):
        await gate.acquire()
        admitted.append(loop.time() - started)
        gate.release()
    assert sum(1 for t in admitted if t < 0.1) == 4  # a second's worth of 5 less one
    assert Gate(tps=None)._credit_cap == 0  # no limit, no credit: a later limit spaces calls


async def test_the_start_credit_refills_only_from_the_first_answer() -> None:
    # The service's bucket counts from the first call's arrival, which a connection's set-up
    # may delay past the calls behind it; the first answer comes after it for sure. A credit
    # spent before any answer waits for one, then refills from that moment.
    gate = Gate(tps=10)
    for _ in range(9):  # the whole credit, in flight, nothing answered yet
        await gate.acquire()
    loop = asyncio.get_running_loop()
    tenth = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    assert gate.waiting == 1
    assert gate._delay(loop.time() + 60.0) == math.inf  # no refill without an answer
    answered = loop.time()
    gate.release()  # the first answer
    await tenth
    assert loop.time() - answered >= 0.099  # a tenth of a second's refill


async def _three_calls(gate: Gate) -> float:
    """Seconds from the first to the third of three calls through ``gate``."""
    loop = asyncio.get_running_loop()
    times = []
    for _ in range(3):
        await gate.acquire()
        times.append(loop.time())
        gate.release()
    return times[-1] - times[0]


@pytest.mark.parametrize("end", ["a 429 pause", "a quiet second"])
async def test_the_start_credit_ends_with_a_pause_or_a_second_after_the_first_answer(
    end: str,
) -> None:
    # Kept up by light traffic or refilled during a pause, the credit would be a refilled
    # burst (two seconds' worth in one against a per-second quota); after a 429 the service
    # has said its bucket is not where the gate thought. From then on calls are spaced.
    gate = Gate(tps=10)
    await gate.acquire()
    gate.release()  # the first answer: 8 calls of credit left
    if end == "a 429 pause":
        gate.pause(0.2)
    else:
        await asyncio.sleep(1.05)  # the time that passes is what is tested
    # Spaced 1/tps (after a quiet time the late-call window may let one out 50 ms early),
    # not three at once.
    assert await _three_calls(gate) >= 0.14
