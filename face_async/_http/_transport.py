"""The aiohttp adapter: session and pool, one attempt on the wire, and the call loop.

Each attempt passes the endpoint's gate, goes out through one shared ``ClientSession`` and
comes back as an :class:`~._decide.Answer` or a :class:`~._decide.NoAnswer`; what it means
(done, retry, outcome unknown, fail) is :func:`~._decide.decide`'s alone. This module only
does the I/O, counts, logs and sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import types
from collections.abc import Mapping
from typing import Any, Literal, NoReturn, TypeVar, overload

import aiohttp
import attrs
from yarl import URL

from face_async._converter import dumps
from face_async._errors import (
    ClientClosedError,
    FaceConnectionError,
    FaceTimeoutError,
    FaceValidationError,
    OutcomeUnknownError,
    RateLimited,
    TransportError,
)

from ._decide import OPERATION_LOCATION, Answer, Done, Fail, NoAnswer, Retry, Unknown, decide
from ._endpoint import BINARY, JSON, Endpoint
from ._gate import GateRegistry, request_priority
from ._loop_share import step_share
from ._operations import Operation
from ._paths import build_path, encode_query
from ._policy import RetryPolicy
from ._resource_pool import ResourcePool, Route

__all__ = ["ClientStats", "Timeout", "Transport", "to_client_timeout"]

logger = logging.getLogger("face_async")

T = TypeVar("T")
Timeout = float | aiohttp.ClientTimeout
"""A per-attempt timeout: seconds, or an ``aiohttp.ClientTimeout``."""

#: The longest a TCP/TLS connect may take, so a hung connect is told from a sent request.
CONNECT_TIMEOUT = 10.0


class ClientStats:
    """Counters of what the client did; shared by a client and its endpoint views."""

    __slots__ = (
        "by_status",
        "connection_errors",
        "outcome_unknown",
        "rate_limited",
        "requests",
        "retries",
        "server_errors",
        "timeouts",
    )

    def __init__(self) -> None:
        self.requests = 0  #: attempts sent (including retries)
        self.retries = 0  #: attempts re-sent after a retryable failure
        self.rate_limited = 0  #: 429 responses seen
        self.server_errors = 0  #: 5xx responses seen
        self.timeouts = 0  #: attempts that timed out
        self.connection_errors = 0  #: attempts with no response for another reason
        self.outcome_unknown = 0  #: OutcomeUnknownError raised
        self.by_status: dict[int, int] = {}  #: responses per HTTP status

    def as_dict(self) -> dict[str, Any]:
        """A snapshot of the counters."""
        out: dict[str, Any] = {name: getattr(self, name) for name in self.__slots__}
        out["by_status"] = dict(self.by_status)
        return out

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items())
        return f"ClientStats({fields})"


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FaceValidationError(f"{name} must be a number of seconds", parameter="timeout")
    if not (math.isfinite(value) and value > 0):
        raise FaceValidationError(
            f"{name} must be a finite number of seconds > 0, got {value!r}", parameter="timeout"
        )
    return float(value)


def to_client_timeout(timeout: object) -> aiohttp.ClientTimeout:
    """A validated per-attempt ``ClientTimeout`` whose TCP connect has its own, shorter bound.

    A number is the total per attempt. A hung connect raises aiohttp's
    ``ConnectionTimeoutError`` (the request was not sent, so it may be re-sent) within
    ``sock_connect``, at most ``CONNECT_TIMEOUT`` and half the total; waiting for a pooled
    connection happens in the gate, before aiohttp. Raises FaceValidationError for a value
    that is not a finite number > 0 (or a ClientTimeout holding one).
    """
    if isinstance(timeout, aiohttp.ClientTimeout):
        for name in ("total", "connect", "sock_connect", "sock_read"):
            value = getattr(timeout, name)
            if value is not None:
                _positive(f"timeout.{name}", value)
    else:
        timeout = aiohttp.ClientTimeout(total=_positive("timeout", timeout))
    if timeout.sock_connect is None and timeout.total is not None:
        timeout = attrs.evolve(timeout, sock_connect=min(CONNECT_TIMEOUT, timeout.total / 2))
    return timeout


class Transport:
    """The HTTP machinery of one client: session/pool, retry policy, gates, stats.

    Shared by the client and every endpoint view created from it. States: "unopened" ->
    "open" (session created by :meth:`open` or lazily at the first call) -> "closed".
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: Timeout = 30.0,
        retry: RetryPolicy | None = None,
        max_connections: int = 100,
        max_connections_per_host: int = 0,
        trace_configs: list[aiohttp.TraceConfig] | None = None,
    ) -> None:
        self.state: Literal["unopened", "open", "closed"] = "unopened"
        self.timeout = to_client_timeout(timeout)
        self.retry = retry if retry is not None else RetryPolicy()
        self.stats = ClientStats()
        self._session = session
        self._owns_session = session is None
        self._max_connections = max_connections
        self._max_connections_per_host = max_connections_per_host
        self._trace_configs = list(trace_configs or ())
        if session is not None:
            connector = session.connector
            limit = connector.limit if connector is not None else 0
            per_host = connector.limit_per_host if connector is not None else 0
            self._traced = bool(session.trace_configs)
        else:
            limit, per_host = max_connections, max_connections_per_host
            self._traced = bool(self._trace_configs)
        # Admission to the pool happens in the gate, first come first served, so aiohttp's
        # connector (which is not fair) never has to queue a request of ours.
        self.gates = GateRegistry(slots=per_host, pool_limit=limit)

    def __repr__(self) -> str:
        return f"<Transport state={self.state!r} retry={self.retry!r} gates={len(self.gates)}>"

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The aiohttp session in use (None before it is created)."""
        return self._session

    @property
    def owns_session(self) -> bool:
        """Whether the session was created here (and is closed here)."""
        return self._owns_session

    def open(self) -> aiohttp.ClientSession:
        """Create the session if needed and mark the transport open.

        Raises ClientClosedError after :meth:`close`. Must run inside the event loop.
        """
        if self.state == "closed":
            raise ClientClosedError("the client is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, limit_per_host=self._max_connections_per_host
            )
            # trust_env=False: proxies are resolved once per endpoint by the client, not on
            # every request (trust_env costs thread hops per call).
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                trust_env=False,
                trace_configs=self._trace_configs or None,
            )
        self.state = "open"
        return self._session

    async def close(self) -> None:
        """Close the session if it was created here; the transport refuses further calls."""
        self.state = "closed"
        self.gates.close()
        session = self._session
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    @overload
    async def call(
        self,
        endpoint: Endpoint | ResourcePool,
        op: Operation,
        path_args: tuple[str, ...] = (),
        *,
        query: Mapping[str, object] | None = None,
        json: object = None,
        data: bytes | None = None,
        timeout: Timeout | None = None,
        model: None = None,
    ) -> object: ...

    @overload
    async def call(
        self,
        endpoint: Endpoint | ResourcePool,
        op: Operation,
        path_args: tuple[str, ...] = (),
        *,
        query: Mapping[str, object] | None = None,
        json: object = None,
        data: bytes | None = None,
        timeout: Timeout | None = None,
        model: type[T],
    ) -> T: ...

    async def call(
        self,
        endpoint: Endpoint | ResourcePool,
        op: Operation,
        path_args: tuple[str, ...] = (),
        *,
        query: Mapping[str, object] | None = None,
        json: object = None,
        data: bytes | None = None,
        timeout: Timeout | None = None,
        model: Any = None,
    ) -> Any:
        """Send ``op`` to ``endpoint`` and return the decoded JSON body (None when empty).

        With ``model=`` the body is structured into that class, or into a list of ``X`` for
        ``model=list[X]``. Raises ``APIError`` subclasses for error statuses,
        ``TransportError`` subclasses when no response came, ``OutcomeUnknownError`` for an
        ambiguous failure of a non-idempotent op, ``ResponseError`` (status, request id,
        redacted body excerpt) for a body that is not JSON or does not fit ``model``,
        FaceValidationError for a bad timeout, and ``ClientClosedError`` after close.
        """
        if self.state != "open":
            self.open()
        route: Route | None = None
        if isinstance(endpoint, Endpoint):
            url = endpoint.base_url + build_path(op.path, path_args)
        else:  # a pool: the member, and so the base URL, is picked per attempt
            route = endpoint.route(op, path_args, query, json)
            url = build_path(op.path, path_args)
        if query:
            url += "?" + encode_query(query)
        body: bytes | None
        content_type: str | None
        if json is not None:
            if data is not None:
                raise TypeError("pass json or data, not both")
            body, content_type = dumps(json), JSON
        elif data is not None:
            body, content_type = data, BINARY
        else:
            body, content_type = None, None
        client_timeout = self.timeout if timeout is None else to_client_timeout(timeout)
        if isinstance(endpoint, Endpoint):
            return await self._send(
                endpoint, op, URL(url, encoded=True), body, content_type, client_timeout, model
            )
        assert route is not None
        return await self._send_pooled(
            endpoint, route, op, url, body, content_type, client_timeout, model
        )

    async def call_for_operation_location(
        self,
        endpoint: Endpoint | ResourcePool,
        op: Operation,
        path_args: tuple[str, ...] = (),
        *,
        json: object = None,
        timeout: Timeout | None = None,
    ) -> str:
        """Send a 202-accepted operation; the operation id from its Operation-Location header.

        Raises as :meth:`call`; a response without an operation id is a ``ResponseError``
        (``OutcomeUnknownError`` for a non-idempotent op: it was accepted).
        """
        result = await self.call(
            endpoint, op, path_args, json=json, timeout=timeout, model=OPERATION_LOCATION
        )
        return str(result)

    async def _send(
        self,
        endpoint: Endpoint,
        op: Operation,
        url: URL,
        body: bytes | None,
        content_type: str | None,
        timeout: aiohttp.ClientTimeout,
        model: Any,
    ) -> Any:
        priority = request_priority.get()
        share = step_share.get()
        attempt = 1
        ambiguous = False
        while True:
            if share is not None:
                await share.turn()
            happened = await self._attempt(
                endpoint, op, url, body, content_type, timeout, priority, attempt
            )
            if share is not None:
                await share.turn()  # acting on the answer is a step too
            decision = self._decide(endpoint, op, happened, attempt, model, ambiguous)
            if decision.__class__ is Done:
                return decision.value
            if isinstance(decision, Retry):
                self._log_retry(op, attempt, decision)
                if decision.pause:
                    endpoint.gate.pause(decision.delay)  # the gate holds us (and everyone)
                elif decision.delay > 0:
                    await asyncio.sleep(decision.delay)
                ambiguous = ambiguous or decision.ambiguous
                attempt += 1
                continue
            self._raise_final(decision)

    async def _send_pooled(
        self,
        pool: ResourcePool,
        route: Route,
        op: Operation,
        path: str,
        body: bytes | None,
        content_type: str | None,
        timeout: aiohttp.ClientTimeout,
        model: Any,
    ) -> Any:
        """:meth:`_send` over a pool: each attempt's member is picked, told its outcome; a
        retry of a movable route may go to another member (without the wait meant for the
        failed one); a write keeps its member and the decision (Unknown stays Unknown)."""
        priority = request_priority.get()
        share = step_share.get()
        attempt = 1
        ambiguous = False
        member = pool.pick(route)
        while True:
            endpoint = member.endpoint
            url = URL(endpoint.base_url + path, encoded=True)
            if share is not None:
                await share.turn()
            happened = await self._attempt(
                endpoint, op, url, body, content_type, timeout, priority, attempt
            )
            if share is not None:
                await share.turn()
            pool.observe(member, happened)
            decision = self._decide(endpoint, op, happened, attempt, model, ambiguous)
            if isinstance(decision, Done):
                pool.learn(route, member, decision.value)
                return decision.value
            if isinstance(decision, Retry):
                if decision.pause:
                    endpoint.gate.pause(decision.delay)
                following = pool.pick(route, avoid=member) if route.movable else member
                if following is member:
                    self._log_retry(op, attempt, decision)
                    if not decision.pause and decision.delay > 0:
                        await asyncio.sleep(decision.delay)
                else:
                    self.stats.retries += 1
                    logger.info(
                        "retrying %s on resource %r (attempt %d on %r failed: %s)",
                        op.operation_id, following.name, attempt, member.name,
                        type(decision.error).__name__,
                    )  # fmt: skip
                    member = following
                ambiguous = ambiguous or decision.ambiguous
                attempt += 1
                continue
            self._raise_final(decision)

    def _decide(
        self,
        endpoint: Endpoint,
        op: Operation,
        happened: Answer | NoAnswer,
        attempt: int,
        model: Any,
        ambiguous: bool,
    ) -> Done | Retry | Unknown | Fail:
        return decide(
            op,
            happened,
            attempt,
            self.retry,
            model=model,
            jitter=random.random(),
            ambiguous_before=ambiguous,
            redact=endpoint.redact,
            redact_text=endpoint.redact_text,
        )

    def _raise_final(self, decision: Unknown | Fail | Done | Retry) -> NoReturn:
        """Raise what an Unknown or a Fail decision carries (counted and logged)."""
        if isinstance(decision, Unknown):
            unknown = decision.error
            self._count_unknown(unknown)
            raise unknown from unknown.cause
        assert isinstance(decision, Fail)
        error = decision.error
        raise error from error.__cause__

    async def _attempt(
        self,
        endpoint: Endpoint,
        op: Operation,
        url: URL,
        body: bytes | None,
        content_type: str | None,
        timeout: aiohttp.ClientTimeout,
        priority: int,
        attempt: int,
    ) -> Answer | NoAnswer:
        headers: Mapping[str, str]
        if endpoint.token_provider is None:
            headers = endpoint.headers[content_type]
        else:
            headers = await endpoint.request_headers(content_type)
        gate = endpoint.gate
        if not gate.try_acquire():  # the common case needs no coroutine of the gate's
            await gate.acquire(priority)
        try:
            session = self._session
            if self.state == "closed" or session is None:
                raise ClientClosedError("the client is closed")
            stats = self.stats
            stats.requests += 1
            trace_ctx = (
                types.SimpleNamespace(operation_id=op.operation_id, attempt=attempt)
                if self._traced
                else None
            )
            try:
                async with session.request(
                    op.method,
                    url,
                    data=body,
                    headers=headers,
                    proxy=endpoint.proxy,
                    proxy_headers=endpoint.proxy_headers,
                    timeout=timeout,
                    allow_redirects=False,  # never carry the key to another host
                    trace_request_ctx=trace_ctx,
                ) as response:
                    status = response.status
                    payload = await response.read()
                    response_headers = response.headers
            except aiohttp.ConnectionTimeoutError as exc:
                return self._no_answer(endpoint, op, FaceTimeoutError, exc, sent=False)
            except asyncio.TimeoutError as exc:
                return self._no_answer(endpoint, op, FaceTimeoutError, exc, sent=True)
            except (aiohttp.ClientConnectorError, aiohttp.ClientHttpProxyError) as exc:
                # Refused, unresolvable, TLS failure, or the proxy refused the tunnel: the
                # request never reached the service.
                return self._no_answer(endpoint, op, FaceConnectionError, exc, sent=False)
            except aiohttp.ClientError as exc:
                return self._no_answer(endpoint, op, FaceConnectionError, exc, sent=True)
            except RuntimeError as exc:
                if session.closed:
                    raise ClientClosedError("the client is closed") from exc
                raise
        finally:
            gate.release()
        by_status = stats.by_status
        by_status[status] = by_status.get(status, 0) + 1
        if status >= 400:
            if status == 429:
                stats.rate_limited += 1
            elif status >= 500:
                stats.server_errors += 1
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %d (request id %s)",
                op.operation_id,
                op.method,
                status,
                response_headers.get("apim-request-id"),
            )
        return Answer(status, response_headers, payload)

    def _no_answer(
        self,
        endpoint: Endpoint,
        op: Operation,
        kind: type[TransportError],
        exc: BaseException,
        *,
        sent: bool,
    ) -> NoAnswer:
        if kind is FaceTimeoutError:
            self.stats.timeouts += 1
            text = f"{op.operation_id}: timed out" + ("" if sent else " connecting")
        else:
            self.stats.connection_errors += 1
            detail = endpoint.redact_text(f"{type(exc).__name__}: {exc}")
            text = f"{op.operation_id}: connection failed: {detail}"
        error = kind(text, request_sent=sent)
        error.__cause__ = exc
        return NoAnswer(error)

    def _count_unknown(self, unknown: OutcomeUnknownError) -> None:
        self.stats.outcome_unknown += 1
        logger.warning(
            "%s: outcome unknown after %s%s; not re-sent",
            unknown.operation_id,
            f"HTTP {unknown.status}" if unknown.status else type(unknown.cause).__name__,
            f" (request id {unknown.request_id})" if unknown.request_id else "",
        )

    def _log_retry(self, op: Operation, attempt: int, decision: Retry) -> None:
        self.stats.retries += 1
        exc = decision.error
        status = getattr(exc, "status", None)
        request_id = getattr(exc, "request_id", None)
        level = logging.INFO if isinstance(exc, RateLimited) or status == 429 else logging.WARNING
        logger.log(
            level,
            "retrying %s (attempt %d failed: %s%s%s) in %.2fs",
            op.operation_id,
            attempt,
            type(exc).__name__,
            f" {status} {getattr(exc, 'code', None) or ''}".rstrip() if status else "",
            f", request id {request_id}" if request_id else "",
            decision.delay,
        )
