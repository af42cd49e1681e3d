"""AsyncFaceClient: endpoints, credentials, lifecycle, the shared pool, proxies, decoding."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from aiohttp import web

from face_async._client import AsyncFaceClient, proxy_for, resolve_endpoint
from face_async._errors import (
    AuthenticationError,
    ClientClosedError,
    FaceConnectionError,
    FaceValidationError,
    NotFound,
    OutcomeUnknownError,
    ResponseError,
)
from face_async._http._operations import Operation
from face_async._http._paths import build_path, encode_query
from face_async._http._policy import RetryPolicy
from face_async._models import PersistedFace, PersonGroup
from face_async._regions import REGIONS
from face_async.emulator import Emulator, Latency

GET_GROUP = Operation("PersonGroup_Get", "GET", "/persongroups/{personGroupId}", True)
CREATE_GROUP = Operation("PersonGroup_Create", "PUT", "/persongroups/{personGroupId}", True)
CREATE_PERSON = Operation(
    "PersonGroupPerson_Create", "POST", "/persongroups/{personGroupId}/persons", False
)
FAST = RetryPolicy(max_tries=3, initial_delay=0.01, max_delay=0.02)


# --- endpoints -----------------------------------------------------------------------------


def test_region_table_has_the_32_documented_regions() -> None:
    assert len(REGIONS) == 32
    assert REGIONS["westus"] == "westus.api.cognitive.microsoft.com"
    assert REGIONS["jioindiawest"] == "jioindiawest.api.cognitive.microsoft.com"
    assert all(host.endswith(".api.cognitive.microsoft.com") for host in REGIONS.values())


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("westus", "https://westus.api.cognitive.microsoft.com/face/v1.0"),
        ("West US 2", "https://westus2.api.cognitive.microsoft.com/face/v1.0"),
        (
            "https://x.cognitiveservices.azure.com",
            "https://x.cognitiveservices.azure.com/face/v1.0",
        ),
        (
            "https://x.cognitiveservices.azure.com/",
            "https://x.cognitiveservices.azure.com/face/v1.0",
        ),
        (
            "https://x.cognitiveservices.azure.com/face/v1.0/",
            "https://x.cognitiveservices.azure.com/face/v1.0",
        ),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/face/v1.0"),
        ("http://localhost:8080", "http://localhost:8080/face/v1.0"),
        ("http://[::1]:8080", "http://[::1]:8080/face/v1.0"),
    ],
)
def test_endpoint_resolution(given: str, expected: str) -> None:
    assert resolve_endpoint(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "atlantis",
        "",
        "http://example.com",
        "http://10.0.0.5:8080",
        "ftp://example.com",
        "https://user:pw@example.com",
        "https://example.com/?a=b",
        "https://",
    ],
)
def test_bad_endpoints_are_refused_before_any_request(given: str) -> None:
    with pytest.raises(FaceValidationError) as info:
        AsyncFaceClient(given, key="k")
    assert info.value.parameter == "endpoint"


def test_plain_http_allowed_when_asked() -> None:
    client = AsyncFaceClient("http://face.internal", key="k", allow_insecure_http=True)
    assert client.endpoint.base_url == "http://face.internal/face/v1.0"


async def _token() -> str:
    return "t"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"key": "a-long-secret-key-1234", "token_provider": _token},
        {"key": ""},
        {"key": "abc\r\nX-Injected: 1"},
        {"key": "ключ"},
        {"token_provider": "nope"},
    ],
)
def test_exactly_one_credential(kwargs: dict[str, object]) -> None:
    with pytest.raises(FaceValidationError) as info:
        AsyncFaceClient("westus", **kwargs)  # type: ignore[arg-type]
    key = kwargs.get("key")
    assert not key or str(key) not in str(info.value)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(FaceValidationError):
        AsyncFaceClient("westus", key="k", timeout=0)
    with pytest.raises(FaceValidationError):
        AsyncFaceClient("westus", key="k", tps=0)
    with pytest.raises(FaceValidationError):
        RetryPolicy(max_tries=0)


def test_path_args_are_percent_quoted() -> None:
    path = "/persongroups/{personGroupId}/persons/{personId}"
    assert build_path(path, ("a b", "x/../y?z")) == "/persongroups/a%20b/persons/x%2F..%2Fy%3Fz"
    with pytest.raises(TypeError):
        build_path(path, ("only-one",))
    for bad in ("", ".", ".."):
        with pytest.raises(FaceValidationError):
            build_path(path, (bad, "p"))


@pytest.mark.parametrize(
    ("env", "url", "expected"),
    [
        (
            {"HTTPS_PROXY": "http://proxy.corp:3128"},
            "https://westus.api.cognitive.microsoft.com",
            "http://proxy.corp:3128",
        ),
        (
            {"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": ".microsoft.com"},
            "https://westus.api.cognitive.microsoft.com",
            None,
        ),
        (
            {"HTTP_PROXY": "http://proxy.corp:3128"},
            "https://westus.api.cognitive.microsoft.com",
            None,
        ),
        ({"HTTP_PROXY": "http://proxy.corp:3128"}, "http://127.0.0.1:9", None),
        ({}, "https://westus.api.cognitive.microsoft.com", None),
    ],
)
def test_proxy_is_resolved_once_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], url: str, expected: str | None
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    base = resolve_endpoint(url)
    assert proxy_for(base) == expected
    client = AsyncFaceClient(url, key="k")
    assert (None if client.endpoint.proxy is None else str(client.endpoint.proxy)) == expected
    # Resolved at construction: a later change of the environment does not matter.
    monkeypatch.setenv("HTTPS_PROXY", "http://other:1")
    assert (None if client.endpoint.proxy is None else str(client.endpoint.proxy)) == expected


# --- lifecycle -------------------------------------------------------------------------------


async def test_lifecycle_and_use_after_close(emulator: Emulator) -> None:
    client = AsyncFaceClient(emulator.url, key=emulator.key)
    states = [client.state]
    assert client.session is None
    async with client:
        states.append(client.state)
        session = client.session
        assert session is not None
        await client.transport.call(client.endpoint, CREATE_GROUP, ("g1",), json={"name": "G"})
    states.append(client.state)
    assert states == ["unopened", "open", "closed"]
    assert client.closed
    assert session.closed
    with pytest.raises(ClientClosedError):
        await client.transport.call(client.endpoint, GET_GROUP, ("g1",))
    with pytest.raises(ClientClosedError):
        await client.open()
    with pytest.raises(ClientClosedError):
        client.with_endpoint(emulator.url, key=emulator.key)
    await client.aclose()  # idempotent
    assert emulator.stats.requests["PersonGroup_Create"] == 1
    assert emulator.stats.requests["PersonGroup_Get"] == 0


async def test_session_is_created_lazily_at_first_call(emulator: Emulator) -> None:
    client = AsyncFaceClient(emulator.url, key=emulator.key)
    try:
        assert client.session is None
        with pytest.raises(NotFound):
            await client.transport.call(client.endpoint, GET_GROUP, ("missing",))
        assert client.state == "open"
        assert client.session is not None
    finally:
        await client.close()
    assert client.session is not None
    assert client.session.closed


async def test_user_session_is_used_and_never_closed(emulator: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with AsyncFaceClient(emulator.url, key=emulator.key, session=session) as client:
            assert client.session is session
            await client.transport.call(client.endpoint, CREATE_GROUP, ("g1",), json={"name": "G"})
        assert client.closed
        assert not session.closed
        # The session still works for its owner.
        async with session.get(
            emulator.url + "/face/v1.0/persongroups/g1",
            headers={"Ocp-Apim-Subscription-Key": emulator.key},
        ) as response:
            assert response.status == 200


# --- the pool ------------------------------------------------------------------------------


async def test_views_share_one_pool_with_a_per_host_limit() -> None:
    async with Emulator(key="k1") as emu:
        emu.config.latency = {"PersonGroup_Get": Latency.fixed(0.05)}
        port = emu.port
        async with AsyncFaceClient(
            f"http://127.0.0.1:{port}", key="k1", max_connections=10, max_connections_per_host=1
        ) as client:
            view = client.with_endpoint(f"http://localhost:{port}", key="k1")
            assert view.session is client.session
            assert view.transport is client.transport
            assert view.endpoint.host == "localhost"
            for c in (client, view):
                await c.transport.call(
                    c.endpoint, CREATE_GROUP, (f"g-{id(c)}",), json={"name": "x"}
                )
            calls = [
                c.transport.call(c.endpoint, GET_GROUP, (f"g-{id(c)}",))
                for c in (client, view)
                for _ in range(4)
            ]
            results = await asyncio.gather(*calls)
            assert all(isinstance(r, dict) for r in results)
            # One connection per host: two hosts, so at most two requests in flight.
            assert emu.stats.max_in_flight == 2
            await view.aclose()  # a view does not own the pool
            assert client.state == "open"
        assert view.closed


async def test_total_connection_limit_spans_all_endpoints() -> None:
    async with Emulator(key="k1") as emu:
        emu.config.latency = {"PersonGroup_Get": Latency.fixed(0.03)}
        port = emu.port
        async with AsyncFaceClient(
            f"http://127.0.0.1:{port}", key="k1", max_connections=1, max_connections_per_host=0
        ) as client:
            view = client.with_endpoint(f"http://localhost:{port}", key="k1")
            await client.transport.call(client.endpoint, CREATE_GROUP, ("g",), json={"name": "x"})
            calls = [
                c.transport.call(c.endpoint, GET_GROUP, ("g",))
                for c in (client, view, client, view)
            ]
            await asyncio.gather(*calls)
            assert emu.stats.requests["PersonGroup_Get"] == 4
            assert emu.stats.max_in_flight == 1


async def test_view_with_another_key(emulator: Emulator) -> None:
    async with AsyncFaceClient(emulator.url, key=emulator.key) as client:
        wrong = client.with_endpoint(emulator.url, key="wrong-key")
        assert wrong.endpoint.gate is not client.endpoint.gate
        with pytest.raises(AuthenticationError) as info:
            await wrong.transport.call(wrong.endpoint, GET_GROUP, ("g",))
        assert info.value.status == 401
        same = client.with_endpoint(emulator.url, key=emulator.key)
        assert same.endpoint.gate is client.endpoint.gate
        assert client.stats.by_status[401] == 1


# --- a stub server for what the emulator never answers (``stub`` in conftest.py) ------------


async def test_token_provider_sends_a_bearer_token_per_attempt(
    stub: tuple[str, dict[str, object]],
) -> None:
    url, state = stub
    calls = 0

    async def provider() -> str:
        nonlocal calls
        calls += 1
        return f"token-{calls}"

    async def handler(request: web.Request) -> web.Response:
        if len(state["seen"]) == 1:  # type: ignore[arg-type]
            return web.json_response({"error": {"code": "X", "message": "busy"}}, status=503)
        return web.json_response({"personGroupId": "g", "name": "G"})

    state["handler"] = handler
    async with AsyncFaceClient(url, token_provider=provider, retry=FAST) as client:
        assert client.endpoint.auth == "token"
        result = await client.transport.call(client.endpoint, GET_GROUP, ("g",))
    assert result == {"personGroupId": "g", "name": "G"}
    seen: list[dict[str, str]] = state["seen"]  # type: ignore[assignment]
    assert [h["Authorization"] for h in seen] == ["Bearer token-1", "Bearer token-2"]
    assert all("Ocp-Apim-Subscription-Key" not in h for h in seen)


async def test_success_body_that_is_not_json(stub: tuple[str, dict[str, object]]) -> None:
    url, state = stub

    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            text="<html><body>Welcome to the captive portal</body></html>",
            content_type="text/html",
            headers={"apim-request-id": "rid-1"},
        )

    state["handler"] = handler
    async with AsyncFaceClient(url, key="k", retry=FAST) as client:
        with pytest.raises(ResponseError) as info:
            await client.transport.call(client.endpoint, GET_GROUP, ("g",))
    assert info.value.status == 200
    assert info.value.request_id == "rid-1"
    assert "captive portal" in info.value.body_excerpt
    assert len(state["seen"]) == 1  # type: ignore[arg-type]


async def test_html_502_from_a_proxy_is_retried_for_reads_and_ambiguous_for_writes(
    stub: tuple[str, dict[str, object]],
) -> None:
    url, state = stub

    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            status=502, text="<html><h1>502 Bad Gateway</h1></html>", content_type="text/html"
        )

    state["handler"] = handler
    async with AsyncFaceClient(url, key="k", retry=FAST) as client:
        with pytest.raises(ResponseError) as info:
            await client.transport.call(client.endpoint, GET_GROUP, ("g",))
        assert info.value.status == 502
        assert "Bad Gateway" in info.value.body_excerpt
        assert len(state["seen"]) == 3  # type: ignore[arg-type]
        with pytest.raises(OutcomeUnknownError) as unknown:
            await client.transport.call(client.endpoint, CREATE_PERSON, ("g",), json={"name": "p"})
        assert unknown.value.status == 502
        assert isinstance(unknown.value.cause, ResponseError)
        assert len(state["seen"]) == 4  # type: ignore[arg-type]


async def test_redirects_are_not_followed(stub: tuple[str, dict[str, object]]) -> None:
    url, state = stub

    async def handler(request: web.Request) -> web.Response:
        if request.path.startswith("/elsewhere"):
            return web.json_response({"leaked": True})
        raise web.HTTPFound("/elsewhere")

    state["handler"] = handler
    async with AsyncFaceClient(url, key="k", retry=FAST) as client:
        with pytest.raises(ResponseError) as info:
            await client.transport.call(client.endpoint, GET_GROUP, ("g",))
    assert info.value.status == 302
    assert len(state["seen"]) == 1  # type: ignore[arg-type]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused_is_a_connection_error() -> None:
    port = _closed_port()
    async with AsyncFaceClient(f"http://127.0.0.1:{port}", key="k", retry=FAST) as client:
        with pytest.raises(FaceConnectionError) as info:
            await client.transport.call(client.endpoint, GET_GROUP, ("g",))
    assert info.value.request_sent is False
    assert client.stats.requests == 3
    assert client.stats.retries == 2


def test_proxy_credentials_are_passed_as_auth_not_in_the_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("NO_PROXY", "no_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://bob:hunter2@proxy.corp:3128")
    client = AsyncFaceClient("westus", key="k")
    endpoint = client.endpoint
    assert str(endpoint.proxy) == "http://proxy.corp:3128"
    assert endpoint.proxy_headers == {"Proxy-Authorization": "Basic Ym9iOmh1bnRlcjI="}
    assert "hunter2" not in repr(endpoint)
    assert "hunter2" not in repr(client)


async def test_view_context_does_not_close_the_pool(emulator: Emulator) -> None:
    client = AsyncFaceClient(emulator.url, key=emulator.key)
    async with client.with_endpoint(emulator.url, key=emulator.key) as view:
        assert "view" in repr(view)
        await view.transport.call(view.endpoint, CREATE_GROUP, ("g",), json={"name": "G"})
    assert client.state == "open"
    assert view.state == "open"
    group = await client.transport.call(client.endpoint, GET_GROUP, ("g",))
    assert isinstance(group, dict)
    await client.close()  # close() is aclose()
    assert view.closed
    assert "closed" in repr(client)
    with pytest.raises(ClientClosedError):
        await view.person_groups.get("g")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"detectionModel": "detection_01"}, "detectionModel=detection_01"),
        ({"returnFaceAttributes": "age,gender"}, "returnFaceAttributes=age,gender"),
        ({"userData": "a b&c=d/é"}, "userData=a%20b%26c%3Dd%2F%C3%A9"),
        (
            {"returnFaceId": True, "x": False, "skip": None, "top": 10},
            "returnFaceId=true&x=false&top=10",
        ),
        ({}, ""),
    ],
)
def test_query_encoding(query: dict[str, object], expected: str) -> None:
    assert encode_query(query) == expected


async def test_model_structuring_and_misfit(client: AsyncFaceClient) -> None:
    transport, endpoint = client.transport, client.endpoint
    await transport.call(endpoint, CREATE_GROUP, ("g",), json={"name": "Team"})
    group = await transport.call(endpoint, GET_GROUP, ("g",), model=PersonGroup)
    assert isinstance(group, PersonGroup)
    assert group.person_group_id == "g"
    assert group.name == "Team"
    with pytest.raises(ResponseError) as info:
        await transport.call(endpoint, GET_GROUP, ("g",), model=PersistedFace)
    assert info.value.status == 200
    assert info.value.request_id
    assert "PersistedFace" in str(info.value)
