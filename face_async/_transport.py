"""The request path: ``Operation``, ``Endpoint`` and ``Transport.call``.

Every request of the library goes through :meth:`Transport.call`: URL and headers come from
values prebuilt per endpoint, the rate gate is passed, the response is decoded, errors are
mapped by :func:`face_async._errors.error_from_response`, and failures are retried per the
client's :class:`~face_async._retry.RetryPolicy` -- except that a non-idempotent operation that
failed after it was sent raises :class:`~face_async._errors.OutcomeUnknownError` instead.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import logging
import re
import sys
import types
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, NoReturn, TypeVar, overload
from urllib.parse import quote

import aiohttp
import attrs
from backoff.types import Details
from yarl import URL

from ._converter import ConversionError, dumps, loads, structure, structure_list
from ._errors import (
    APIError,
    ClientClosedError,
    FaceConnectionError,
    FaceError,
    FaceTimeoutError,
    FaceValidationError,
    OutcomeUnknownError,
    RateLimited,
    ResponseError,
    TransportError,
    error_from_response,
    excerpt,
)
from ._ratelimit import GateRegistry, RateGate
from ._retry import RetryPolicy, is_retryable, with_retries

__all__ = [
    "ClientStats",
    "Endpoint",
    "Operation",
    "TokenProvider",
    "Transport",
    "build_path",
    "credential_fingerprint",
    "encode_query",
]

logger = logging.getLogger("face_async")

T = TypeVar("T")
TokenProvider = Callable[[], Awaitable[str]]
Timeout = float | aiohttp.ClientTimeout
"""A per-attempt timeout: seconds, or an ``aiohttp.ClientTimeout``."""

KEY_HEADER = "Ocp-Apim-Subscription-Key"
_JSON = "application/json"
_BINARY = "application/octet-stream"
_PLACEHOLDER = re.compile(r"\{[^}]*\}")
_DOT_SEGMENTS = frozenset((".", ".."))
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]+\Z").match  # ids and UUIDs: nothing to quote
_QUERY_SAFE = re.compile(r"[A-Za-z0-9_.~,-]*\Z").match


@attrs.frozen
class Operation:
    """One Face API operation: spec operationId, HTTP method, path template, idempotency.

    ``idempotent=False`` means the request is never re-sent after an ambiguous failure.
    """

    operation_id: str
    method: str
    path: str
    idempotent: bool


@functools.lru_cache(maxsize=512)
def _compile_path(path: str) -> tuple[str, int]:
    # "/persongroups/{personGroupId}/persons" -> ("/persongroups/{}/persons", 1), once per path.
    literals = _PLACEHOLDER.split(path)
    template = "{}".join(part.replace("{", "{{").replace("}", "}}") for part in literals)
    return template, len(literals) - 1


def build_path(path: str, path_args: tuple[str, ...]) -> str:
    """Substitute ``path_args`` in order into the ``{...}`` placeholders, percent-quoted.

    Raises FaceValidationError for an empty, "." or ".." argument.
    """
    template, count = _compile_path(path)
    if count != len(path_args):
        raise TypeError(f"{path} takes {count} path arguments, got {len(path_args)}")
    if not count:
        return path
    quoted = []
    for arg in path_args:
        text = arg if type(arg) is str else str(arg)
        if not _UNRESERVED(text):
            if not text:
                raise FaceValidationError("empty path argument", parameter="path_args")
            text = quote(text, safe="")
        elif text in _DOT_SEGMENTS:
            # Dot segments would address another resource once the path is resolved.
            raise FaceValidationError(f"invalid path argument {text!r}", parameter="path_args")
        quoted.append(text)
    return template.format(*quoted)


def encode_query(query: Mapping[str, object]) -> str:
    """``k=v&...`` with values percent-quoted (commas kept); None values are left out."""
    parts = []
    for name, value in query.items():
        if value is None:
            continue
        if value is True:
            text = "true"
        elif value is False:
            text = "false"
        else:
            text = value if type(value) is str else str(value)
            if not _QUERY_SAFE(text):
                text = quote(text, safe=",")
        if not _QUERY_SAFE(name):
            name = quote(name, safe="")
        parts.append(f"{name}={text}")
    return "&".join(parts)


@functools.lru_cache(maxsize=1)
def user_agent() -> str:
    """``face-async/<version> aiohttp/<version>``; read late so the package can import us."""
    version = getattr(sys.modules.get(__package__ or "face_async"), "__version__", "0")
    return f"face-async/{version} aiohttp/{aiohttp.__version__}"


def credential_fingerprint(key: str | None, token_provider: TokenProvider | None) -> str:
    """A stable, non-secret identifier of a credential (keys are hashed, never stored here)."""
    if key is not None:
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"token:{id(token_provider):x}"


class Endpoint:
    """One endpoint (base URL) with one credential: prebuilt headers, proxy and rate gate.

    Built by the client; ``repr`` shows the URL and the kind of credential, never the secret.
    """

    __slots__ = (
        "_secret",
        "base_url",
        "credential_id",
        "gate",
        "headers",
        "host",
        "proxy",
        "proxy_headers",
        "token_provider",
    )

    def __init__(
        self,
        base_url: str,
        *,
        key: str | None = None,
        token_provider: TokenProvider | None = None,
        proxy: str | None = None,
        gate: RateGate | None = None,
    ) -> None:
        if (key is None) == (token_provider is None):
            raise TypeError("exactly one of key and token_provider is required")
        self.base_url = base_url.rstrip("/")
        self.host = URL(self.base_url).host or ""
        self.proxy: URL | None = None
        self.proxy_headers: Mapping[str, str] | None = None
        if proxy:
            proxy_url = URL(proxy)
            if proxy_url.user is not None:
                # aiohttp ignores credentials inside the proxy URL; send them as a header.
                pair = f"{proxy_url.user}:{proxy_url.password or ''}".encode()
                auth = "Basic " + base64.b64encode(pair).decode("ascii")
                self.proxy_headers = {"Proxy-Authorization": auth}
                proxy_url = proxy_url.with_user(None)
            self.proxy = proxy_url
        #: The async token callable, or None for a subscription key (read by the transport).
        self.token_provider = token_provider
        self._secret = key.encode() if key else b""
        self.credential_id = credential_fingerprint(key, token_provider)
        self.gate = gate if gate is not None else RateGate()
        base: dict[str, str] = {"User-Agent": user_agent()}
        if key is not None:
            base[KEY_HEADER] = key
        #: Prebuilt headers per request content type (None: no body); read-only by convention.
        #: Plain slot attributes, not properties: the transport reads them on every call.
        self.headers: Mapping[str | None, Mapping[str, str]] = {
            None: base,
            _JSON: {**base, "Content-Type": _JSON},
            _BINARY: {**base, "Content-Type": _BINARY},
        }

    @property
    def auth(self) -> Literal["key", "token"]:
        """The kind of credential ("key" or "token")."""
        return "token" if self.token_provider is not None else "key"

    async def request_headers(self, content_type: str | None) -> Mapping[str, str]:
        """The headers for one request; with a token provider, fetches the current token."""
        headers = self.headers[content_type]
        if self.token_provider is None:
            return headers
        token = await self.token_provider()
        return {**headers, "Authorization": f"Bearer {token}"}

    def redact(self, body: bytes) -> bytes:
        """``body`` with the subscription key blanked (for error excerpts)."""
        if self._secret and self._secret in body:
            return body.replace(self._secret, b"***")
        return body

    def __repr__(self) -> str:
        return f"Endpoint({self.base_url!r}, auth={self.auth!r})"


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


CONNECT_TIMEOUT = 10.0
_Prepared = tuple[Endpoint, Operation, URL, bytes | None, str | None, aiohttp.ClientTimeout]
Headers = Mapping[str, str]
_RETRY_TYPES = (APIError, TransportError, ResponseError)
_LIST_MODEL = types.GenericAlias  # model=list[X]


class _OperationLocation:
    """``model=`` marker: the result is the operation id from the Operation-Location header."""


_OPERATION_LOCATION = _OperationLocation


def _connect_bound(total: float, ceil_threshold: float) -> float:
    # aiohttp rounds timeouts above ceil_threshold up to a whole second of loop time, the
    # connect timer and the total timer separately: a 2 s margin keeps the connect deadline
    # strictly first whatever the rounding; below the threshold a tenth of the total does.
    if total >= ceil_threshold:
        return max(total - 2.0, ceil_threshold * 0.9)
    return total * 0.9


def _to_client_timeout(timeout: Timeout) -> aiohttp.ClientTimeout:
    """A ClientTimeout whose pool wait and connect end before its total timeout.

    aiohttp's ``connect`` timeout covers waiting for a pooled connection and connecting, and
    raises ``ConnectionTimeoutError``: the request was not sent, so even a non-idempotent
    write may be retried. The ``total`` timeout raises a bare ``asyncio.TimeoutError`` that
    cannot say whether the request left, so when ``connect`` is not set it is derived just
    below ``total``; ``sock_connect`` (a hung TCP/TLS connect) defaults to at most
    ``CONNECT_TIMEOUT``. Values the caller set are kept.
    """
    if not isinstance(timeout, aiohttp.ClientTimeout):
        timeout = aiohttp.ClientTimeout(total=float(timeout))
    total = timeout.total
    if total is None or (timeout.connect is not None and timeout.sock_connect is not None):
        return timeout
    connect = timeout.connect
    if connect is None:
        connect = _connect_bound(total, timeout.ceil_threshold)
    sock_connect = timeout.sock_connect
    if sock_connect is None:
        sock_connect = min(connect, CONNECT_TIMEOUT)
    return attrs.evolve(timeout, connect=connect, sock_connect=sock_connect)


def _operation_id_from(headers: Mapping[str, str]) -> str:
    location = headers.get("Operation-Location")
    operation_id = location.rstrip("/").rsplit("/", 1)[-1] if location else ""
    if not operation_id:
        raise ConversionError("an operation id", "no Operation-Location header with an id")
    return operation_id


class Transport:
    """The HTTP machinery of one client: session/pool, retry policy, rate gates, stats.

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
    ) -> None:
        self.state: Literal["unopened", "open", "closed"] = "unopened"
        self.timeout = _to_client_timeout(timeout)
        self.retry = retry if retry is not None else RetryPolicy()
        self.stats = ClientStats()
        self.gates = GateRegistry()
        self._session = session
        self._owns_session = session is None
        self._max_connections = max_connections
        self._max_connections_per_host = max_connections_per_host
        self._retrying = with_retries(self._resume, self.retry, self._on_backoff)

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
                connector=connector, timeout=self.timeout, trust_env=False
            )
        self.state = "open"
        return self._session

    async def close(self) -> None:
        """Close the session if it was created here; the transport refuses further calls."""
        self.state = "closed"
        session = self._session
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    @overload
    async def call(
        self,
        endpoint: Endpoint,
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
        endpoint: Endpoint,
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
        endpoint: Endpoint,
        op: Operation,
        path_args: tuple[str, ...] = (),
        *,
        query: Mapping[str, object] | None = None,
        json: object = None,
        data: bytes | None = None,
        timeout: Timeout | None = None,
        model: type[Any] | None = None,
    ) -> Any:
        """Send ``op`` to ``endpoint`` and return the decoded JSON body (None when empty).

        With ``model=`` the body is structured into that class, or into a list of ``X`` for
        ``model=list[X]``. Raises ``APIError`` subclasses for error statuses,
        ``TransportError`` subclasses when no response came, ``OutcomeUnknownError`` for an
        ambiguous failure of a non-idempotent op, ``ResponseError`` (status, request id,
        redacted body excerpt) for a body that is not JSON or does not fit ``model``, and
        ``ClientClosedError`` after close.
        """
        prepared = self._prepare(endpoint, op, path_args, query, json, data, timeout)
        result, _ = await self._send(prepared, model)
        return result

    async def call_for_operation_location(
        self,
        endpoint: Endpoint,
        op: Operation,
        path_args: tuple[str, ...] = (),
        *,
        json: object = None,
        timeout: Timeout | None = None,
    ) -> str:
        """Send a 202-accepted operation; the operation id from its Operation-Location header.

        Raises as :meth:`call`; a response without an operation id is a ``ResponseError``.
        """
        prepared = self._prepare(endpoint, op, path_args, None, json, None, timeout)
        operation_id, _ = await self._send(prepared, _OPERATION_LOCATION)
        return str(operation_id)

    def _prepare(
        self,
        endpoint: Endpoint,
        op: Operation,
        path_args: tuple[str, ...],
        query: Mapping[str, object] | None,
        json: object,
        data: bytes | None,
        timeout: Timeout | None,
    ) -> _Prepared:
        if self.state != "open":
            self.open()
        url = endpoint.base_url + build_path(op.path, path_args)
        if query:
            url += "?" + encode_query(query)
        body: bytes | None
        content_type: str | None
        if json is not None:
            if data is not None:
                raise TypeError("pass json or data, not both")
            body, content_type = dumps(json), _JSON
        elif data is not None:
            body, content_type = data, _BINARY
        else:
            body, content_type = None, None
        client_timeout = self.timeout if timeout is None else _to_client_timeout(timeout)
        return endpoint, op, URL(url, encoded=True), body, content_type, client_timeout

    async def _send(self, prepared: _Prepared, model: object) -> tuple[Any, Headers]:
        # The first attempt runs outside backoff's loop, whose per-call bookkeeping costs about
        # as much CPU as the rest of this module; a retryable failure is handed to the loop as
        # its first try, so the policy, the wait generator and the logging see every attempt.
        try:
            return await self._attempt(*prepared, model)
        except _RETRY_TYPES as exc:
            if self.retry.max_tries <= 1 or not is_retryable(exc, self.retry):
                raise
            pending = [exc]
        return await self._retrying(pending, prepared, model, op=prepared[1])

    async def _resume(
        self, pending: list[BaseException], prepared: _Prepared, model: object, *, op: Operation
    ) -> tuple[Any, Headers]:
        # ``op`` is passed by keyword for _on_backoff, which reads it from backoff's details.
        if pending:
            raise pending.pop()  # replays the failed first attempt for backoff; sends nothing
        return await self._attempt(*prepared, model)

    async def _attempt(
        self,
        endpoint: Endpoint,
        op: Operation,
        url: URL,
        body: bytes | None,
        content_type: str | None,
        timeout: aiohttp.ClientTimeout,
        model: Any,
    ) -> tuple[Any, Mapping[str, str]]:
        gate = endpoint.gate
        if gate.pause_until or gate.tps is not None:
            await gate.acquire()
        session = self._session
        if self.state == "closed" or session is None:
            raise ClientClosedError("the client is closed")
        headers: Mapping[str, str]
        if endpoint.token_provider is None:
            headers = endpoint.headers[content_type]
        else:
            headers = await endpoint.request_headers(content_type)
        stats = self.stats
        stats.requests += 1
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
            ) as response:
                status = response.status
                payload = await response.read()
                response_headers = response.headers
        except aiohttp.ConnectionTimeoutError as exc:
            failure = self._no_response(op, FaceTimeoutError, exc, sent=False)
            raise failure from failure.__cause__
        except asyncio.TimeoutError as exc:
            failure = self._no_response(op, FaceTimeoutError, exc, sent=True)
            raise failure from failure.__cause__
        except (aiohttp.ClientConnectorError, aiohttp.ClientHttpProxyError) as exc:
            # Refused, unresolvable, TLS failure, or the proxy refused the tunnel: the request
            # never reached the service.
            failure = self._no_response(op, FaceConnectionError, exc, sent=False)
            raise failure from failure.__cause__
        except aiohttp.ClientError as exc:
            failure = self._no_response(op, FaceConnectionError, exc, sent=True)
            raise failure from failure.__cause__
        except RuntimeError as exc:
            if session.closed:
                raise ClientClosedError("the client is closed") from exc
            raise

        by_status = stats.by_status
        by_status[status] = by_status.get(status, 0) + 1
        request_id = response_headers.get("apim-request-id")
        if 200 <= status < 300:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "%s %s -> %d (request id %s)", op.operation_id, op.method, status, request_id
                )
            data = None
            try:
                if payload:
                    data = loads(payload)
                if model is None:
                    return data, response_headers
                if model.__class__ is _LIST_MODEL:
                    # The decoded body is ours alone: let the converter release it as it goes.
                    items = structure_list(data, model.__args__[0], consume=True)
                    return items, response_headers
                if model is _OPERATION_LOCATION:
                    return _operation_id_from(response_headers), response_headers
                return structure(data, model), response_headers
            except ConversionError as exc:
                raise self._misfit(endpoint, op, status, request_id, payload, exc) from exc
        self._error(endpoint, op, status, response_headers, payload)

    @staticmethod
    def _misfit(
        endpoint: Endpoint,
        op: Operation,
        status: int,
        request_id: str | None,
        payload: bytes,
        exc: ConversionError,
    ) -> ResponseError:
        # The one mapping of a 2xx the client cannot use (not JSON, wrong shape, no operation
        # id) to ResponseError: the status, the request id and a redacted excerpt of the body.
        reason = "response body is not JSON" if exc.target == "JSON" else str(exc)
        return ResponseError(
            status,
            excerpt(endpoint.redact(payload)),
            request_id=request_id,
            reason=f"{op.operation_id}: {reason}",
        )

    def _error(
        self,
        endpoint: Endpoint,
        op: Operation,
        status: int,
        headers: Mapping[str, str],
        payload: bytes,
    ) -> NoReturn:
        error = error_from_response(status, headers, endpoint.redact(payload))
        logger.debug(
            "%s %s -> %d %s (request id %s)",
            op.operation_id,
            op.method,
            status,
            getattr(error, "code", None),
            error.request_id,
        )
        stats = self.stats
        if status == 429:
            stats.rate_limited += 1
            retry_after = getattr(error, "retry_after", None)
            if retry_after is not None and retry_after <= self.retry.max_server_delay:
                endpoint.gate.pause(retry_after)
        elif status >= 500:
            stats.server_errors += 1
        ambiguous = status == 408 or status >= 500
        if ambiguous and not op.idempotent:
            unknown = OutcomeUnknownError(
                op.operation_id, error, status=status, request_id=error.request_id
            )
            self._count_unknown(unknown)
            raise unknown from error
        raise error

    def _no_response(
        self,
        op: Operation,
        kind: type[TransportError],
        exc: BaseException,
        *,
        sent: bool,
    ) -> FaceError:
        if kind is FaceTimeoutError:
            self.stats.timeouts += 1
            text = f"{op.operation_id}: timed out" + ("" if sent else " connecting")
        else:
            self.stats.connection_errors += 1
            text = f"{op.operation_id}: connection failed: {type(exc).__name__}: {exc}"
        error = kind(text, request_sent=sent)
        error.__cause__ = exc
        if sent and not op.idempotent:
            unknown = OutcomeUnknownError(op.operation_id, error)
            unknown.__cause__ = error
            self._count_unknown(unknown)
            return unknown
        return error

    def _count_unknown(self, unknown: OutcomeUnknownError) -> None:
        self.stats.outcome_unknown += 1
        logger.warning(
            "%s: outcome unknown after %s (request id %s); not re-sent",
            unknown.operation_id,
            f"HTTP {unknown.status}" if unknown.status else type(unknown.cause).__name__,
            unknown.request_id,
        )

    def _on_backoff(self, details: Details) -> None:
        self.stats.retries += 1
        exc = details.get("exception")
        op = details["kwargs"].get("op")
        operation_id = op.operation_id if isinstance(op, Operation) else "request"
        status = getattr(exc, "status", None)
        level = logging.INFO if isinstance(exc, RateLimited) else logging.WARNING
        logger.log(
            level,
            "retrying %s (attempt %d failed: %s%s, request id %s) in %.2fs",
            operation_id,
            details["tries"],
            type(exc).__name__,
            f" {status} {getattr(exc, 'code', None) or ''}".rstrip() if status else "",
            getattr(exc, "request_id", None),
            details["wait"],
        )
