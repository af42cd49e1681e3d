"""Benchmarks: face-async against the other Python Face API clients, side by side, in one run.

Run ``python -m benchmarks`` (full, manual) or ``python -m benchmarks --smoke`` (seconds, CI).
The emulator runs in its own process on 127.0.0.1; every client workload runs in a process of
its own (``benchmarks._worker``), so the CPU time measured is that client's alone.

Scenarios (``--only`` picks a subset):

- ``overhead``: add-face calls with a 20 KB body at zero latency, client CPU per call and calls/s,
  each as a ratio to raw aiohttp measured in the same run.
- ``parse``: a 100-face detect response, bytes to objects.
- ``makespan``: bulk enrollment against a rate-limited, latency-injecting emulator in conflict
  mode, against the lower bound, with 409s/429s and duplicated/lost faces counted at the emulator.
- ``scale``: 1k/10k/100k faces through ``enroll()``: wall time and peak RSS.
- ``faults``: enrollment while the emulator drops connections after committing and answers
  5xx: duplicated and lost faces per client.
- ``fairness``: 200 tasks looping on one endpoint at the default pool size, face-async against
  raw aiohttp with the same pool: completed calls per task and the worst wait against the mean.
- ``soak``: the CLI under ~20 % faults of every kind and ``kill -9``, seeds in a row: duplicate
  and lost faces and persons at the emulator; loop lag during a 10,000-face ``enroll()``.
- ``scaleout``: 4 processes adding 1,000 faces under one 20 TPS quota: a quota shared over Redis
  against a local limit per process; the adaptive rate against an unknown limit; a pool of
  resources with one killed mid-run.
- ``streamed``: a streamed source grouped by person against the same images interleaved, at
  ``max_concurrency=4``: time ratio and writes in flight at the emulator.
"""

from __future__ import annotations

SCENARIOS = (
    "overhead", "parse", "makespan", "scale", "faults", "fairness", "soak", "scaleout",
    "streamed",
)  # fmt: skip

__all__ = ["SCENARIOS"]
