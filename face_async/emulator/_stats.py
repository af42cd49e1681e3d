"""Counters of what the emulator saw and did, read by tests and benchmarks."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["EmulatorStats"]


@attrs.define
class EmulatorStats:
    """What the emulator answered, counted per request.

    requests: calls per route name, the spec operationId ("<operationId>:v1_2" for the
    v1.2-preview.1 routes, "<unmatched>" outside /face), counted after authentication;
    responses: responses sent per status code; faults: injected faults per kind; delayed: calls
    per route name given added latency, delay_seconds: the latency added in all; conflicts: 409
    ConcurrentOperationConflict answers; rate_limited: 429s from the rate limit (injected 429s
    are under faults); unauthorized: 401s; total_requests: every request, authenticated or not;
    completed: requests finished (answered or dropped); max_concurrent_writes: per person (or
    face list) path that ever had more than one add/delete face call held at once, the most it
    had (paths that never did are left out, so the counters stay flat over millions of persons);
    max_concurrent_writes_per_person: the most held at once for any one path (tests of a client
    that serializes per person assert 1); max_parallel_writes: the most add/delete face calls
    processed at once across all persons.
    """

    requests: Counter[str] = attrs.field(factory=Counter)
    responses: Counter[int] = attrs.field(factory=Counter)
    faults: Counter[str] = attrs.field(factory=Counter)
    delayed: Counter[str] = attrs.field(factory=Counter)
    delay_seconds: float = 0.0
    conflicts: int = 0
    rate_limited: int = 0
    unauthorized: int = 0
    total_requests: int = 0
    completed: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    max_concurrent_writes: dict[str, int] = attrs.field(factory=dict)
    max_parallel_writes: int = 0
    _most_writes_per_path: int = attrs.field(default=0, repr=False)
    _writes_in_flight: dict[str, int] = attrs.field(factory=dict, repr=False)
    _waiters: list[asyncio.Future[None]] = attrs.field(factory=list, repr=False)

    @property
    def max_concurrent_writes_per_person(self) -> int:
        """The most add/delete face calls held at once for any one person or face list."""
        return self._most_writes_per_path

    def reset(self) -> None:
        """Zero every counter (requests still in flight keep being tracked)."""
        self.requests.clear()
        self.responses.clear()
        self.faults.clear()
        self.delayed.clear()
        self.delay_seconds = 0.0
        self.conflicts = self.rate_limited = self.unauthorized = 0
        self.total_requests = self.completed = self.max_parallel_writes = 0
        self.max_in_flight = self.in_flight
        held = self._writes_in_flight
        self.max_concurrent_writes = {key: count for key, count in held.items() if count > 1}
        self._most_writes_per_path = max(held.values(), default=0)

    def writes_in_flight(self, key: str) -> int:
        """Add/delete face calls on `key` (e.g. "persongroups/g/persons/p") held right now."""
        return self._writes_in_flight.get(key, 0)

    def write_started(self, key: str) -> None:
        count = self._writes_in_flight.get(key, 0) + 1
        self._writes_in_flight[key] = count
        if count > self._most_writes_per_path:
            self._most_writes_per_path = count
        if count > 1 and count > self.max_concurrent_writes.get(key, 0):
            self.max_concurrent_writes[key] = count
        self._notify()

    def write_finished(self, key: str) -> None:
        count = self._writes_in_flight[key] - 1
        if count:
            self._writes_in_flight[key] = count
        else:
            del self._writes_in_flight[key]

    def request_started(self) -> None:
        self.total_requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self._notify()

    def request_finished(self) -> None:
        self.in_flight -= 1
        self.completed += 1
        self._notify()

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_for(
        self, predicate: Callable[[EmulatorStats], bool], timeout: float = 10.0
    ) -> None:
        """Wait until `predicate(stats)` holds, re-checked as requests start and finish.

        Raises TimeoutError when it does not hold within `timeout` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(self):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"emulator stats did not reach the condition in {timeout}s")
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except asyncio.TimeoutError:
                continue

    def as_json(self) -> dict[str, Any]:
        """The counters as a JSON-ready dict."""
        return {
            "total_requests": self.total_requests,
            "completed": self.completed,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "requests": dict(sorted(self.requests.items())),
            "responses": {str(status): n for status, n in sorted(self.responses.items())},
            "faults": dict(sorted(self.faults.items())),
            "delayed": dict(sorted(self.delayed.items())),
            "delay_seconds": self.delay_seconds,
            "conflicts": self.conflicts,
            "rate_limited": self.rate_limited,
            "unauthorized": self.unauthorized,
            "max_concurrent_writes": dict(sorted(self.max_concurrent_writes.items())),
            "max_concurrent_writes_per_person": self.max_concurrent_writes_per_person,
            "max_parallel_writes": self.max_parallel_writes,
        }
