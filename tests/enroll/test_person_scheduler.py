"""PersonScheduler: per-key order, global bound, no head-of-line waste, cancellation, memory."""

from __future__ import annotations

import asyncio
import functools
import gc
import tracemalloc
from collections.abc import Callable

import pytest

from face_async._enroll import PersonScheduler, _scheduler, face_list_key, person_key
from face_async._errors import FaceValidationError


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the loop run until ``predicate()`` holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0)  # yield to the tasks under test; the predicate decides


class Probe:
    """Counts calls in flight, globally and per key, and records the start order per key."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0
        self.per_key: dict[object, int] = {}
        self.peak_per_key = 0
        self.started: dict[object, list[int]] = {}

    async def call(self, key: object, index: int, gate: asyncio.Event | None = None) -> int:
        self.running += 1
        self.peak = max(self.peak, self.running)
        self.per_key[key] = self.per_key.get(key, 0) + 1
        self.peak_per_key = max(self.peak_per_key, self.per_key[key])
        self.started.setdefault(key, []).append(index)
        try:
            if gate is not None:
                await gate.wait()
            else:
                await asyncio.sleep(0)
            return index
        finally:
            self.running -= 1
            self.per_key[key] -= 1


async def test_serial_per_key_in_order_and_bounded_globally() -> None:
    sched = PersonScheduler(max_concurrency=4)
    probe = Probe()
    calls = [sched.run(f"p{i % 10}", probe.call, f"p{i % 10}", i) for i in range(200)]
    results = await asyncio.gather(*calls)
    assert results == list(range(200))
    assert probe.peak_per_key == 1
    assert probe.peak == 4 == sched.peak_running
    for key, order in probe.started.items():
        assert order == sorted(order), key
    assert sched.active_keys == 0
    assert sched.running == 0


async def test_waiting_for_a_person_holds_no_global_slot() -> None:
    sched = PersonScheduler(max_concurrency=2)
    gate = asyncio.Event()
    probe = Probe()
    # Five calls for the busy person "a", then one for "b": "b" must start while "a" blocks.
    a_calls = [asyncio.create_task(sched.run("a", probe.call, "a", i, gate)) for i in range(5)]
    b_done = asyncio.create_task(sched.run("b", probe.call, "b", 99))
    assert await asyncio.wait_for(b_done, 5) == 99
    assert probe.per_key["a"] == 1
    assert sched.running == 1
    gate.set()
    assert await asyncio.gather(*a_calls) == list(range(5))


async def test_ready_calls_get_slots_by_priority() -> None:
    sched = PersonScheduler(max_concurrency=1)
    gate = asyncio.Event()
    order: list[str] = []

    async def record(name: str) -> None:
        order.append(name)
        await gate.wait()

    blocker = asyncio.create_task(sched.run("x", record, "x"))
    await until(lambda: order == ["x"])
    tasks = [
        asyncio.create_task(sched.run_with_priority(name, prio, functools.partial(record, name)))
        for name, prio in (("low", 1), ("high", 5), ("mid", 3))
    ]
    await until(lambda: sched.queued == 3)  # every task has queued its call
    gate.set()
    await asyncio.gather(blocker, *tasks)
    assert order == ["x", "high", "mid", "low"]


async def test_exception_reaches_only_its_caller() -> None:
    sched = PersonScheduler(max_concurrency=2)

    async def work(i: int) -> int:
        await asyncio.sleep(0)
        if i == 3:
            raise KeyError(i)
        return i

    results = await asyncio.gather(
        *(sched.run("p", work, i) for i in range(6)), return_exceptions=True
    )
    assert isinstance(results[3], KeyError)
    assert [r for i, r in enumerate(results) if i != 3] == [0, 1, 2, 4, 5]
    assert sched.active_keys == 0


async def test_cancelling_a_queued_call_removes_it() -> None:
    sched = PersonScheduler(max_concurrency=1)
    gate = asyncio.Event()
    probe = Probe()
    first = asyncio.create_task(sched.run("p", probe.call, "p", 0, gate))
    second = asyncio.create_task(sched.run("p", probe.call, "p", 1, gate))
    third = asyncio.create_task(sched.run("q", probe.call, "q", 2, gate))
    await until(lambda: probe.started == {"p": [0]} and sched.queued == 2)
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    gate.set()
    assert await first == 0
    assert await third == 2
    assert probe.started == {"p": [0], "q": [2]}
    assert sched.active_keys == 0
    assert sched.running == 0


async def test_cancelling_a_running_call_frees_the_person() -> None:
    sched = PersonScheduler(max_concurrency=1)
    never = asyncio.Event()
    entered = asyncio.Event()
    probe = Probe()

    async def first_call() -> None:
        entered.set()
        await probe.call("p", 0, never)

    first = asyncio.create_task(sched.run("p", first_call))
    second = asyncio.create_task(sched.run("p", probe.call, "p", 1))
    await entered.wait()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, 5) == 1
    assert sched.active_keys == 0
    assert sched.running == 0


async def test_cancelling_the_head_waiter_lets_the_next_one_run() -> None:
    sched = PersonScheduler(max_concurrency=1)
    gate = asyncio.Event()
    probe = Probe()
    busy = asyncio.create_task(sched.run("other", probe.call, "other", 0, gate))
    head = asyncio.create_task(sched.run("p", probe.call, "p", 1))
    nxt = asyncio.create_task(sched.run("p", probe.call, "p", 2))
    await until(lambda: probe.started == {"other": [0]} and sched.queued == 2)
    head.cancel()  # queued for a global slot as the head of "p"
    with pytest.raises(asyncio.CancelledError):
        await head
    gate.set()
    assert await busy == 0
    assert await nxt == 2
    assert probe.started["p"] == [2]
    assert sched.active_keys == 0


async def test_idle_persons_keep_no_state() -> None:
    sched = PersonScheduler(max_concurrency=8)

    async def noop() -> None:
        await asyncio.sleep(0)

    async def batch(start: int) -> None:
        await asyncio.gather(*(sched.run(("p", i), noop) for i in range(start, start + 1000)))

    def retained() -> int:
        # Memory allocated by the scheduler module and still alive.
        gc.collect()
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(True, _scheduler.__file__)]
        )
        return sum(stat.size for stat in snapshot.statistics("filename"))

    tracemalloc.start()
    try:
        await batch(0)  # the first batch sizes the internal dict and heap
        before = retained()
        for start in range(1000, 10000, 1000):
            await batch(start)
        after = retained()
    finally:
        tracemalloc.stop()
    assert sched.active_keys == 0
    assert sched._ready == []
    # 9,000 distinct persons went through; what the scheduler retains must not grow with them.
    assert after - before < 4_000


def test_keys() -> None:
    assert person_key("g", "p") != person_key("g", "p", large=True)
    assert face_list_key("l") != face_list_key("l", large=True)
    with pytest.raises(FaceValidationError, match="max_concurrency") as info:
        PersonScheduler(max_concurrency=0)
    assert info.value.parameter == "max_concurrency"
