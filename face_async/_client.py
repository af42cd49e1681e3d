"""``AsyncFaceClient``: the pool, the state, endpoint views and the resource groups."""

from __future__ import annotations

import ipaddress
import urllib.request
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Literal, cast

import aiohttp
from yarl import URL

from ._errors import ClientClosedError, FaceValidationError
from ._http._adaptive import AdaptiveRate
from ._http._endpoint import Endpoint, TokenProvider, credential_fingerprint
from ._http._policy import RetryPolicy
from ._http._redis_gate import RedisQuota
from ._http._resource_pool import Member, Resource, ResourcePool
from ._http._transport import ClientStats, Transport
from ._regions import region_url
from ._resources import (
    FaceListOperations,
    FaceOperations,
    LargeFaceListOperations,
    LargePersonGroupOperations,
    LargePersonGroupPersonOperations,
    PersonGroupOperations,
    PersonGroupPersonOperations,
    SnapshotOperations,
)

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["AsyncFaceClient", "ClientStats"]

API_PATH = "/face/v1.0"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_MAX_CONNECTIONS_PER_HOST = 64


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_endpoint(endpoint: str, *, allow_insecure_http: bool = False) -> str:
    """The API base URL (``.../face/v1.0``) for a region name or an endpoint URL.

    Raises FaceValidationError for an unknown region, a malformed URL, or ``http://`` to a
    host that is not loopback (unless ``allow_insecure_http``).
    """
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise FaceValidationError("endpoint must be a region name or a URL", parameter="endpoint")
    text = endpoint.strip()
    if "://" not in text:
        url_text = region_url(text)
        if url_text is None:
            raise FaceValidationError(
                f"unknown region {text!r}; pass a region such as 'westus' or an https URL",
                parameter="endpoint",
            )
        text = url_text
    try:
        url = URL(text)
    except (ValueError, TypeError) as exc:
        raise FaceValidationError(f"invalid endpoint URL: {exc}", parameter="endpoint") from None
    if url.scheme not in ("https", "http") or not url.host:
        raise FaceValidationError("endpoint URL must be https://host[/path]", parameter="endpoint")
    if url.user is not None or url.password is not None or url.query_string or url.fragment:
        raise FaceValidationError(
            "endpoint URL must not carry credentials, a query or a fragment",
            parameter="endpoint",
        )
    if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
        raise FaceValidationError(
            f"refusing plain http:// to non-loopback host {url.host!r}; use https or "
            "allow_insecure_http=True",
            parameter="endpoint",
        )
    base = str(url.with_path(url.path.rstrip("/"))).rstrip("/")
    if not base.endswith(API_PATH):
        base += API_PATH
    return base


def proxy_for(base_url: str) -> str | None:
    """The proxy from HTTP(S)_PROXY / NO_PROXY for this endpoint (resolved once, not per call).

    Loopback endpoints never go through a proxy.
    """
    url = URL(base_url)
    host = url.host or ""
    if _is_loopback(host):
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(url.scheme or "https")
    if not proxy:
        return None
    if urllib.request.proxy_bypass(host):
        return None
    return proxy


class AsyncFaceClient:
    """An asyncio client for the Azure Face API v1.0.

    ``endpoint`` is a region name ("westus") or an https URL (plain http only for loopback or
    with ``allow_insecure_http``). Pass exactly one of ``key`` (subscription key) and
    ``token_provider`` (an async callable returning an Azure AD bearer token; it should cache).
    One aiohttp session and connection pool serve this client and every view from
    :meth:`with_endpoint`; pass ``session`` to use your own (never closed here). ``timeout``
    (seconds or ``aiohttp.ClientTimeout``) applies to each attempt and can be overridden per
    call; ``retry`` sets the retry policy; ``tps`` caps calls per second to this endpoint and
    credential across all coroutines; ``quota`` (a :class:`RedisQuota`) shares that limit,
    and the 429 pauses, with every process using the same Redis. ``rate`` (an
    :class:`AdaptiveRate`, instead of ``tps``) finds an unknown quota: cut on 429s, grown
    without them; with ``quota`` the shared rate adapts. ``trace_configs`` are handed
    to the session aiohttp creates (for example OpenTelemetry's aiohttp instrumentation); each
    attempt carries ``trace_request_ctx`` with its ``operation_id`` and ``attempt`` number.

    Use ``async with`` or call :meth:`aclose`. Raises FaceValidationError for bad arguments
    (before any request) and ClientClosedError on use after close.

    The operations are grouped in attributes:

    - ``face``: detect, identify, verify_face_to_face, verify_face_to_person, find_similar,
      group
    - ``person_groups`` / ``large_person_groups``: create, get, update, delete, list, iter,
      train, get_training_status, wait_for_training
    - ``person_group_persons`` / ``large_person_group_persons``: create, get, update, delete,
      list, iter, add_face, get_face, update_face, delete_face
    - ``face_lists`` / ``large_face_lists``: create, get, update, delete, list, add_face,
      delete_face (large lists also train, get_face, update_face, list_faces, iter_faces)
    - ``snapshots``: take, list, get, update, delete, apply, get_operation_status
    """

    face: FaceOperations
    person_groups: PersonGroupOperations
    person_group_persons: PersonGroupPersonOperations
    large_person_groups: LargePersonGroupOperations
    large_person_group_persons: LargePersonGroupPersonOperations
    face_lists: FaceListOperations
    large_face_lists: LargeFaceListOperations
    snapshots: SnapshotOperations

    def __init__(
        self,
        endpoint: str,
        *,
        key: str | None = None,
        token_provider: TokenProvider | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: float | aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_connections_per_host: int = DEFAULT_MAX_CONNECTIONS_PER_HOST,
        tps: float | None = None,
        allow_insecure_http: bool = False,
        trace_configs: list[aiohttp.TraceConfig] | None = None,
        quota: RedisQuota | None = None,
        rate: AdaptiveRate | None = None,
    ) -> None:
        _check_credential(key, token_provider)
        if session is not None and trace_configs:
            raise FaceValidationError(
                "trace_configs apply to the session created here; add them to your own "
                "session instead",
                parameter="trace_configs",
            )
        if max_connections < 0 or max_connections_per_host < 0:
            raise FaceValidationError(
                "connection limits must be >= 0 (0 = unlimited)", parameter="max_connections"
            )
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise FaceValidationError(
                "session must be an aiohttp.ClientSession", parameter="session"
            )
        if quota is not None and not isinstance(quota, RedisQuota):
            raise FaceValidationError("quota must be a RedisQuota", parameter="quota")
        if rate is not None:
            if not isinstance(rate, AdaptiveRate):
                raise FaceValidationError("rate must be an AdaptiveRate", parameter="rate")
            if tps is not None:
                raise FaceValidationError(
                    "pass tps= (a fixed rate) or rate= (an adaptive one), not both",
                    parameter="rate",
                )
        base_url = resolve_endpoint(endpoint, allow_insecure_http=allow_insecure_http)
        transport = Transport(
            session=session,
            timeout=timeout,
            retry=retry,
            max_connections=max_connections,
            max_connections_per_host=max_connections_per_host,
            trace_configs=trace_configs,
        )
        if rate is not None:
            transport.gates.factory = rate.gates(quota.gates() if quota is not None else None)
        elif quota is not None:
            transport.gates.factory = quota.gates()
        self._allow_insecure_http = allow_insecure_http
        self._is_view = False
        self._bind(transport, _make_endpoint(transport, base_url, key, token_provider, tps))

    @classmethod
    def from_env(
        cls,
        *,
        endpoint: str | None = None,
        key_env: str = "FACE_APIKEY",
        session: aiohttp.ClientSession | None = None,
        timeout: float | aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        tps: float | None = None,
        allow_insecure_http: bool = False,
        trace_configs: list[aiohttp.TraceConfig] | None = None,
    ) -> AsyncFaceClient:
        """A client configured from the environment, as the Azure Face samples name it.

        The endpoint is ``endpoint`` or else ``$FACE_ENDPOINT`` (a region name or a URL); the
        key is read from ``$FACE_APIKEY`` (or the variable named by ``key_env``). The other
        arguments are the constructor's. Raises FaceValidationError naming the missing
        variable (never its value).
        """
        from ._env import endpoint_from_env, key_from_env

        endpoint = endpoint or endpoint_from_env()
        if endpoint is None:
            raise FaceValidationError(
                "no endpoint: set FACE_ENDPOINT (a region name or an https URL) or pass endpoint=",
                parameter="endpoint",
            )
        key = key_from_env(key_env)
        if key is None:
            raise FaceValidationError(
                f"no key: set the {key_env} environment variable", parameter="key"
            )
        return cls(
            endpoint, key=key, session=session, timeout=timeout, retry=retry, tps=tps,
            allow_insecure_http=allow_insecure_http, trace_configs=trace_configs,
        )  # fmt: skip

    @classmethod
    def pool(
        cls,
        resources: Sequence[Resource],
        *,
        default: str | None = None,
        cool_down: float = 30.0,
        failure_streak: int = 3,
        session: aiohttp.ClientSession | None = None,
        timeout: float | aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_connections_per_host: int = DEFAULT_MAX_CONNECTIONS_PER_HOST,
        allow_insecure_http: bool = False,
        trace_configs: list[aiohttp.TraceConfig] | None = None,
        quota: RedisQuota | None = None,
    ) -> AsyncFaceClient:
        """One client over several resources (:class:`Resource`: endpoint, credential, tps,
        groups), one session; each resource has its own gate.

        Calls go where their faceIds were made, to the resources holding their group (writes to
        the first of them), else to the resource with the most free quota for its rate; a
        failing resource is avoided for ``cool_down`` seconds (after a connection error, or
        ``failure_streak`` 5xx/timeouts in a row) and only idempotent calls move. ``default``
        (a resource name) gets the calls bound to nothing else (listings, snapshots); the other
        arguments are the constructor's. ``client.resource_pool`` holds the per-resource
        counters. Raises FaceValidationError for bad arguments (nothing sent).
        """
        if not resources or not all(isinstance(r, Resource) for r in resources):
            raise FaceValidationError(
                "resources must be a non-empty list of Resource", parameter="resources"
            )
        first = resources[0]
        client = cls(
            first.endpoint, key=first.key, token_provider=first.token_provider, tps=first.tps,
            session=session, timeout=timeout, retry=retry, max_connections=max_connections,
            max_connections_per_host=max_connections_per_host,
            allow_insecure_http=allow_insecure_http, trace_configs=trace_configs, quota=quota,
        )  # fmt: skip
        transport, members = client._transport, list[Member]()
        for index, resource in enumerate(resources):
            endpoint = client._endpoint
            if index:
                _check_credential(resource.key, resource.token_provider)
                base_url = resolve_endpoint(
                    resource.endpoint, allow_insecure_http=allow_insecure_http
                )
                endpoint = _make_endpoint(
                    transport, base_url, resource.key, resource.token_provider, resource.tps
                )
            url = URL(endpoint.base_url)
            name = resource.name or f"{url.host}:{url.port}"
            if any(member.name == name for member in members):
                name = f"{name}#{index}"
            members.append(Member(index, name, endpoint, resource.groups))
        names = [member.name for member in members]
        if default is not None and default not in names:
            raise FaceValidationError(f"no resource named {default!r}", parameter="default")
        router = ResourcePool(
            members,
            default=0 if default is None else names.index(default),
            cool_down=cool_down,
            failure_streak=failure_streak,
        )
        # The resource groups send through the pool; the transport picks a member per attempt.
        client._bind(transport, cast(Endpoint, router))
        client._endpoint = router.default.endpoint
        client._pool = router
        return client

    _pool: ResourcePool | None = None

    @property
    def resource_pool(self) -> ResourcePool | None:
        """The pool of a client made by :meth:`pool` (members, routing, counters), else None."""
        return self._pool

    def _bind(self, transport: Transport, endpoint: Endpoint) -> None:
        self._transport = transport
        self._endpoint = endpoint
        self.face = FaceOperations(transport, endpoint)
        self.person_groups = PersonGroupOperations(transport, endpoint)
        self.person_group_persons = PersonGroupPersonOperations(transport, endpoint)
        self.large_person_groups = LargePersonGroupOperations(transport, endpoint)
        self.large_person_group_persons = LargePersonGroupPersonOperations(transport, endpoint)
        self.face_lists = FaceListOperations(transport, endpoint)
        self.large_face_lists = LargeFaceListOperations(transport, endpoint)
        self.snapshots = SnapshotOperations(transport, endpoint)

    def with_endpoint(
        self,
        endpoint: str,
        *,
        key: str | None = None,
        token_provider: TokenProvider | None = None,
        tps: float | None = None,
    ) -> AsyncFaceClient:
        """A view of this client bound to another endpoint and credential.

        Pass exactly one of ``key`` and ``token_provider``, as for the constructor: a view
        never carries this client's credential to another host. The view shares the session
        and pool, the retry policy, the stats and the state of this client; closing it is a
        no-op (close the client that created it). Raises FaceValidationError (bad endpoint,
        no credential or two), and ClientClosedError if this client is closed.
        """
        self._transport_or_closed()
        _check_credential(key, token_provider)
        base_url = resolve_endpoint(endpoint, allow_insecure_http=self._allow_insecure_http)
        view = object.__new__(AsyncFaceClient)
        view._allow_insecure_http = self._allow_insecure_http
        view._is_view = True
        view._bind(
            self._transport, _make_endpoint(self._transport, base_url, key, token_provider, tps)
        )
        return view

    def _transport_or_closed(self) -> Transport:
        if self._transport.state == "closed":
            raise ClientClosedError("the client is closed")
        return self._transport

    @property
    def endpoint(self) -> Endpoint:
        """The endpoint (base URL, credential, rate gate) this client or view is bound to."""
        return self._endpoint

    @property
    def transport(self) -> Transport:
        """The shared request path (for resources and advanced use)."""
        return self._transport

    @property
    def stats(self) -> ClientStats:
        """Counters: requests, retries, rate_limited, server_errors, outcome_unknown, ..."""
        return self._transport.stats

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy of this client (shared by its views)."""
        return self._transport.retry

    @property
    def state(self) -> Literal["unopened", "open", "closed"]:
        """Lifecycle: "unopened" until first use or ``async with``, then "open", "closed"."""
        return self._transport.state

    @property
    def closed(self) -> bool:
        """Whether the client (or a view's parent) is closed."""
        return self._transport.state == "closed"

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The aiohttp session in use (None until opened)."""
        return self._transport.session

    async def open(self) -> Self:
        """Create the session now instead of at the first call; raises ClientClosedError."""
        self._transport.open()
        return self

    async def aclose(self) -> None:
        """Close the client and its session (unless the session was passed in).

        A view does nothing: it does not own the pool. Safe to call twice.
        """
        if not self._is_view:
            await self._transport.close()
            await self._transport.gates.aclose()  # a shared quota's Redis calls and connection

    close = aclose

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        kind = "view of AsyncFaceClient" if self._is_view else "AsyncFaceClient"
        return (
            f"<{kind} endpoint={self._endpoint.base_url!r} auth={self._endpoint.auth!r} "
            f"state={self._transport.state!r}>"
        )


def _check_credential(key: str | None, token_provider: TokenProvider | None) -> None:
    if (key is None) == (token_provider is None):
        raise FaceValidationError("pass exactly one of key= and token_provider=", parameter="key")
    if key is not None and (
        not isinstance(key, str)
        or not key
        or not key.isascii()
        or not key.isprintable()
        or any(ch.isspace() for ch in key)
    ):
        # The message never quotes the key.
        raise FaceValidationError(
            "key must be a non-empty string of printable ASCII without spaces", parameter="key"
        )
    if token_provider is not None and not callable(token_provider):
        raise FaceValidationError(
            "token_provider must be an async callable returning a token",
            parameter="token_provider",
        )


def _make_endpoint(
    transport: Transport,
    base_url: str,
    key: str | None,
    token_provider: TokenProvider | None,
    tps: float | None,
) -> Endpoint:
    gate = transport.gates.get(base_url, credential_fingerprint(key, token_provider), tps)
    return Endpoint(
        base_url, key=key, token_provider=token_provider, proxy=proxy_for(base_url), gate=gate
    )
