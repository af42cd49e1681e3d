"""A quota shared by every process that uses one Redis: the rate limit of a Face resource.

The service counts calls per resource, so N replicas with a local ``tps=`` each send N times
the quota. :class:`RedisQuota` makes every gate of a client take its calls from one token
bucket in Redis (GCRA, one Lua script that reserves a slot and answers how long to wait, so
nobody polls) and honour one shared 429 pause. The local :class:`~._gate.Gate` still orders
waiters (priority, then arrival) and holds the pool slots. If Redis fails, the gate falls back
to its local limit at the same rate (one warning) and tries Redis again a few seconds later.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING, Any

from face_async._errors import FaceValidationError

from ._gate import Gate, Pool

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisGate", "RedisQuota"]

logger = logging.getLogger("face_async")

#: Seconds a Redis command may take before Redis counts as unreachable.
REDIS_TIMEOUT = 1.0
#: Seconds of local limits after a Redis failure before Redis is tried again.
REDIS_RETRY_AFTER = 5.0

# KEYS: the bucket's theoretical arrival time, the shared pause's end (both in Redis TIME
# microseconds). ARGV[1] is the mode:
#   take INTERVAL WINDOW: reserve the next slot; {1, wait} or, while paused, {0, pause left}
#   check: {1, 0}, or {0, pause left} while paused
#   pause SECONDS_US: extend the shared pause (never shortens it); {0, pause left}
# Redis's own clock serves every process, so clocks of the machines do not matter.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if ARGV[1] == 'pause' then
  local untl = now + tonumber(ARGV[2])
  if untl > paused then
    paused = untl
    redis.call('SET', KEYS[2], string.format('%d', untl), 'PX',
               math.ceil((untl - now) / 1000) + 1000)
  end
  return {0, paused - now}
end
if paused > now then
  return {0, paused - now}
end
if ARGV[1] == 'check' then
  return {1, 0}
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local wait = tat - tonumber(ARGV[3]) - now
if wait < 0 then
  wait = 0
end
tat = tat + tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return {1, wait}
"""


class RedisQuota:
    """A calls-per-second quota shared over Redis by every process that names the same resource.

    ``redis``: a ``redis://`` URL (a connection pool is made per client and closed with it) or
    a ``redis.asyncio.Redis`` you own (never closed here). ``tps``: the resource's quota
    (S0: 10 by default), for each (endpoint, credential) the client talks to; a ``tps=`` given
    to the client or a view overrides it for that endpoint. ``prefix`` starts every key; keys
    name the endpoint and a hash of the credential, never the key itself, and expire when idle.
    Pass it as ``AsyncFaceClient(..., quota=RedisQuota(...))``. Raises FaceValidationError for a
    bad argument, ImportError without redis-py.
    """

    __slots__ = ("_client", "_url", "prefix", "tps")

    def __init__(self, redis: str | Redis, *, tps: float, prefix: str = "face-async") -> None:
        if not (
            isinstance(tps, (int, float))
            and not isinstance(tps, bool)
            and math.isfinite(tps)
            and tps > 0
        ):
            raise FaceValidationError(f"tps must be > 0, got {tps!r}", parameter="tps")
        if not isinstance(prefix, str) or not prefix:
            raise FaceValidationError("prefix must be a non-empty string", parameter="prefix")
        try:
            from redis.asyncio import Redis
        except ImportError as exc:
            raise ImportError("RedisQuota needs redis-py: pip install 'face-async[redis]'") from exc

        self._url: str | None = None
        self._client: Redis | None = None
        if isinstance(redis, str):
            if not redis.startswith(("redis://", "rediss://", "unix://")):
                # The URL may hold a password: the message does not quote it.
                raise FaceValidationError(
                    "redis must be a redis://, rediss:// or unix:// URL", parameter="redis"
                )
            self._url = redis
        elif isinstance(redis, Redis):
            self._client = redis
        else:
            raise FaceValidationError(
                "redis must be a URL or a redis.asyncio.Redis client", parameter="redis"
            )
        self.tps = float(tps)
        self.prefix = prefix

    def gates(self) -> RedisGates:
        """A gate factory with its own connection (for a URL), for one client's gates."""
        return RedisGates(self)

    def __repr__(self) -> str:
        source = "url" if self._url is not None else "client"
        return f"RedisQuota(tps={self.tps!r}, prefix={self.prefix!r}, redis=<{source}>)"


class RedisGates:
    """Makes one client's Redis gates; tracks whether Redis answers, for all of them.

    Closed with the client (:meth:`aclose`), which closes the connection pool it made from a
    URL, never a client passed in.
    """

    __slots__ = ("_down_until", "_owns", "_redis", "_script", "_warned", "quota")

    def __init__(self, quota: RedisQuota) -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.quota = quota
        if quota._url is not None:
            # One immediate retry (a stale pooled connection), no backoff: when Redis is
            # gone the local limit takes over at once instead of after seconds of retries.
            self._redis: Redis = Redis.from_url(
                quota._url,
                socket_timeout=REDIS_TIMEOUT,
                socket_connect_timeout=REDIS_TIMEOUT,
                retry=Retry(NoBackoff(), 1),
            )
            self._owns = True
        else:
            assert quota._client is not None
            self._redis = quota._client
            self._owns = False
        self._script: AsyncScript = self._redis.register_script(_SCRIPT)
        #: Loop time until which the local limits stand in for Redis (None: Redis is used).
        self._down_until: float | None = None
        self._warned = False

    def __call__(
        self, base_url: str, credential_id: str, tps: float | None, *, slots: int, pool: Pool
    ) -> RedisGate:
        """The gate for one endpoint and credential (``tps`` None: the quota's)."""
        return RedisGate(
            self,
            self.keys(base_url, credential_id),
            tps if tps is not None else self.quota.tps,
            slots=slots,
            pool=pool,
        )

    def keys(self, base_url: str, credential_id: str) -> tuple[str, str]:
        """The Redis keys (bucket, pause) of one endpoint and credential."""
        # A token provider's fingerprint is per process; the service's quota is per resource.
        credential = "token" if credential_id.startswith("token:") else credential_id
        tag = f"{self.quota.prefix}:{{{base_url}|{credential}}}"
        return f"{tag}:tat", f"{tag}:pause"

    def down(self, now: float) -> bool:
        """Whether Redis failed less than REDIS_RETRY_AFTER seconds ago."""
        return self._down_until is not None and now < self._down_until

    async def run(self, keys: tuple[str, str], *args: str | int) -> tuple[bool, float] | None:
        """Run the script: (granted, seconds to wait), or None if Redis failed."""
        try:
            answer: Any = await asyncio.wait_for(
                self._script(keys=list(keys), args=list(args)), REDIS_TIMEOUT
            )
            granted, wait_us = int(answer[0]), int(answer[1])
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(exc)
            return None
        if self._down_until is not None:
            self._down_until = None
            self._warned = False
            logger.info("Redis quota reachable again: the shared limit applies")
        return bool(granted), wait_us / 1e6

    def _failed(self, exc: BaseException) -> None:
        self._down_until = asyncio.get_running_loop().time() + REDIS_RETRY_AFTER
        if not self._warned:
            self._warned = True
            # Only the class name: the message could carry the URL, and with it a password.
            logger.warning(
                "Redis quota unreachable (%s): each process now applies the limit of %g "
                "calls/s locally; retrying Redis every %g s",
                type(exc).__name__,
                self.quota.tps,
                REDIS_RETRY_AFTER,
            )

    async def aclose(self) -> None:
        """Close the connection pool made from the URL (a client passed in stays open)."""
        if self._owns:
            self._owns = False
            await self._redis.aclose()

    def __repr__(self) -> str:
        return f"RedisGates({self.quota!r})"


class RedisGate(Gate):
    """A :class:`Gate` whose rate is a token bucket in Redis, shared with other processes.

    The head of the queue is admitted once it holds a slot reserved in Redis (one reservation
    at a time, fetched in the background) and no pause holds it, local or shared. A 429 pauses
    this gate at once and every other process through Redis. While Redis is down the local
    rate limit (same ``tps``) applies.
    """

    __slots__ = ("_closed", "_gates", "_keys", "_task", "_token_at", "_writes")

    def __init__(
        self,
        gates: RedisGates,
        keys: tuple[str, str],
        tps: float,
        *,
        slots: int = 0,
        pool: Pool | None = None,
    ) -> None:
        self._gates = gates
        self._keys = keys
        #: Loop time at which the slot reserved in Redis may be used (None: none held).
        self._token_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Task[None]] = set()
        self._closed = False
        super().__init__(tps, slots=slots, pool=pool)
        # The shared bucket is Redis's; a local start-up burst (on a fallback) could spend it.
        self._drop_credit()

    def pause(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` from now, here at once and in Redis for all."""
        super().pause(seconds)
        loop = asyncio.get_running_loop()
        if self._closed or self._gates.down(loop.time()):
            return
        task = loop.create_task(self._share_pause(seconds))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    def close(self) -> None:
        """Cancel the timer and the Redis calls in progress."""
        super().close()
        self._closed = True
        if self._task is not None:
            self._task.cancel()
        for task in self._writes:
            task.cancel()

    async def aclose(self) -> None:
        """:meth:`close`, then wait for the cancelled Redis calls to end."""
        self.close()
        tasks = [*self._writes, *([self._task] if self._task is not None else [])]
        if tasks:
            await asyncio.wait(tasks)

    def _delay(self, now: float) -> float:
        if self.pause_until > now or self._gates.down(now):
            return super()._delay(now)  # paused, or the local rate stands in for Redis
        if self._token_at is None:
            self._reserve()
            return math.inf  # the reservation dispatches when Redis answers
        return self._token_at - now

    def _admit(self) -> None:
        super()._admit()  # the local bucket keeps count, ready for a fallback
        self._token_at = None

    def _wake_at(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if when != math.inf:
            super()._wake_at(loop, when)

    def _reserve(self) -> None:
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._take())

    async def _take(self) -> None:
        gates = self._gates
        interval = round(self._interval * 1e6)
        window = round(self._burst_window * 1e6)
        try:
            answer = await gates.run(self._keys, "take", interval, window)
            if answer is not None and answer[0] and answer[1] > 0:
                # Wait for the slot, then look again: a pause may have started meanwhile.
                await asyncio.sleep(answer[1])
                answer = await gates.run(self._keys, "check")
        finally:
            self._task = None
        now = asyncio.get_running_loop().time()
        if answer is not None:
            granted, wait = answer
            if granted:
                self._token_at = now
            elif now + wait > self.pause_until:
                self._paused_elsewhere(now, wait)
        self._dispatch()

    def _paused_elsewhere(self, now: float, wait: float) -> None:
        # Another process's 429 holds the shared quota for ``wait`` seconds from ``now``.
        self.pause_until = now + wait

    async def _share_pause(self, seconds: float) -> None:
        answer = await self._gates.run(self._keys, "pause", round(seconds * 1e6))
        if answer is not None:
            now = asyncio.get_running_loop().time()
            self.pause_until = max(self.pause_until, now + answer[1])

    def __repr__(self) -> str:
        return "Redis" + super().__repr__()
