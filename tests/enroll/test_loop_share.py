"""LoopShare: an enrollment's steps spread over event-loop iterations.

The loop below counts its iterations (``_run_once`` is asyncio's one iteration: the only way
to know which iteration a step ran in), so the tests assert how many turns one iteration let
through, not how long anything took.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from face_async._http._loop_share import LoopShare


class _CountingLoop(asyncio.SelectorEventLoop):
    iterations = 0

    def _run_once(self) -> None:
        self.iterations += 1
        super()._run_once()  # type: ignore[misc]


def _run(main: Callable[[_CountingLoop], Awaitable[Any]]) -> Any:
    loop = _CountingLoop()
    try:
        return loop.run_until_complete(main(loop))
    finally:
        loop.close()


def _returns_at_once(share: LoopShare) -> bool:
    """Whether ``turn()`` completes without suspending."""
    coro = share.turn()
    try:
        coro.send(None)
    except StopIteration:
        return True
    coro.close()
    return False


def test_a_zero_budget_lets_one_turn_through_per_iteration_in_order() -> None:
    async def main(loop: _CountingLoop) -> list[tuple[int, int, int]]:
        share = LoopShare(budget=0.0)
        grants: list[tuple[int, int, int]] = []  # (iteration, task, round)

        async def steps(task: int) -> None:
            for round_ in range(3):
                await share.turn()
                grants.append((loop.iterations, task, round_))
                await asyncio.sleep(0)  # the step's own await (an answer, the journal)

        await asyncio.gather(*(steps(task) for task in range(12)))
        return grants

    grants = _run(main)
    assert len(grants) == 36
    per_iteration: dict[int, int] = {}
    for iteration, _, _ in grants:
        per_iteration[iteration] = per_iteration.get(iteration, 0) + 1
    assert max(per_iteration.values()) == 1
    first_round = [task for _, task, round_ in grants if round_ == 0]
    assert first_round == list(range(12))  # first come, first served


def test_a_large_budget_does_not_hold_anyone_back() -> None:
    async def main(loop: _CountingLoop) -> set[int]:
        share = LoopShare(budget=10.0)
        iterations: set[int] = set()

        async def step() -> None:
            await share.turn()
            iterations.add(loop.iterations)

        await asyncio.gather(*(step() for _ in range(50)))
        return iterations

    assert len(_run(main)) == 1


def test_cancelled_waiters_leave_the_share_usable() -> None:
    async def main(loop: _CountingLoop) -> tuple[list[int], bool]:
        share = LoopShare(budget=0.0)
        done: list[int] = []
        tasks: list[asyncio.Task[None]] = []

        async def step(task: int) -> None:
            await share.turn()
            done.append(task)
            if task == 0:
                # Cancelled while waiting (3, 4) and, possibly, right after being woken (1).
                for victim in (1, 3, 4):
                    tasks[victim].cancel()

        tasks.extend(asyncio.ensure_future(step(task)) for task in range(8))
        results = await asyncio.gather(*tasks, return_exceptions=True)
        cancelled = [i for i, r in enumerate(results) if isinstance(r, asyncio.CancelledError)]
        assert cancelled == [1, 3, 4]
        for _ in range(3):
            await asyncio.sleep(0)  # let the share go idle
        return done, _returns_at_once(share)

    done, idle = _run(main)
    assert sorted(done) == [0, 2, 5, 6, 7]
    assert idle


def test_turns_taken_by_late_comers_wait_behind_earlier_waiters() -> None:
    async def main(loop: _CountingLoop) -> list[str]:
        share = LoopShare(budget=0.0)
        order: list[str] = []

        async def step(name: str) -> None:
            await share.turn()
            order.append(name)

        first = [asyncio.ensure_future(step(f"early{i}")) for i in range(4)]
        await asyncio.sleep(0)  # early0 took this iteration's turn; the rest wait
        late = [asyncio.ensure_future(step(f"late{i}")) for i in range(2)]
        await asyncio.gather(*first, *late)
        return order

    order = _run(main)
    assert order.index("early3") < order.index("late0")


@pytest.mark.parametrize("budget", [0.0, 0.0002])
def test_many_turns_all_complete(budget: float) -> None:
    async def main(loop: _CountingLoop) -> int:
        share = LoopShare(budget=budget)
        count = 0

        async def steps() -> None:
            nonlocal count
            for _ in range(20):
                await share.turn()
                count += 1

        await asyncio.wait_for(asyncio.gather(*(steps() for _ in range(32))), 30)
        return count

    assert _run(main) == 640


def test_the_runs_of_one_loop_share_one_budget() -> None:
    async def main(loop: _CountingLoop) -> bool:
        from face_async._http._loop_share import loop_share

        return loop_share() is loop_share()

    assert _run(main)
    # Another loop has its own.
    shares = [_run(lambda loop: _share()) for _ in range(2)]
    assert shares[0] is not shares[1]


async def _share() -> LoopShare:
    from face_async._http._loop_share import loop_share

    return loop_share()


@pytest.mark.parametrize("delay", range(6))
def test_a_waiter_cancelled_at_any_moment_leaves_no_trace(delay: int) -> None:
    """Cancelled while in line, as the iteration's tick drops it, or just after being woken:
    only that caller sees CancelledError, the others get their turns, the share goes idle."""

    async def main(loop: _CountingLoop) -> tuple[list[BaseException | None], bool]:
        share = LoopShare(budget=0.0)

        async def step() -> None:
            await share.turn()
            await asyncio.sleep(0)

        tasks = [asyncio.ensure_future(step()) for _ in range(5)]
        for _ in range(delay):
            await asyncio.sleep(0)
        tasks[2].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for _ in range(3):
            await asyncio.sleep(0)
        return [r if isinstance(r, BaseException) else None for r in results], _returns_at_once(
            share
        )

    results, idle = _run(main)
    assert [type(r).__name__ if r else None for r in results] in (
        [None, None, "CancelledError", None, None],
        [None, None, None, None, None],  # cancelled after its step had finished
    )
    assert idle


def test_a_closed_loop_is_not_kept_alive_by_its_share() -> None:
    import gc
    import weakref

    from face_async._http._loop_share import loop_share

    async def main() -> None:
        await loop_share().turn()  # leaves its next tick scheduled

    loop = _CountingLoop()
    loop.run_until_complete(main())
    loop.close()
    gone = weakref.ref(loop)
    del loop
    gc.collect()
    assert gone() is None
