"""One adapter per client under test, all pointed at the emulator's loopback URL.

Each adapter does what a user of that library writes, with the library's defaults:

- ``face-async``: ``AsyncFaceClient(url, key=...)``, ``client.large_person_group_persons``.
- ``aiohttp`` (the floor): one ``ClientSession``, the same bytes and headers to the same URL,
  the response read and its status checked, nothing else.
- ``azure-ai-vision-face`` 1.0.0b2: the aio ``FaceAdministrationClient`` with an
  ``AzureKeyCredential`` (its default API version, v1.2-preview.1; azure-core's aiohttp
  transport with ``trust_env=True``, its default). ``.../no-trust-env`` is the same client on
  ``AioHttpTransport(use_env_settings=False)``, to show what that default costs.
- ``azure-cognitiveservices-vision-face`` 0.6.1: the msrest ``FaceClient`` with
  ``CognitiveServicesCredentials``, one client shared by a thread pool.
- ``cognitive_face`` 1.5.0: the module-global ``BaseUrl``/``Key``, ``requests`` (a new
  connection per call), in a thread pool.

Imports of the peers happen inside the factories, so a missing peer fails only its own worker.
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

KEY_HEADER = "Ocp-Apim-Subscription-Key"

NO_TRUST_ENV = "azure-ai-vision-face/no-trust-env"
ASYNC_CLIENTS = ("face-async", "aiohttp", "azure-ai-vision-face", NO_TRUST_ENV)
SYNC_CLIENTS = ("azure-cognitiveservices-vision-face", "cognitive_face")
ALL_CLIENTS = ("aiohttp", "face-async", "azure-ai-vision-face", NO_TRUST_ENV, *SYNC_CLIENTS)

# Short labels for tables and plots.
LABELS = {
    "aiohttp": "raw aiohttp (floor)",
    "face-async": "face-async",
    "azure-ai-vision-face": "azure-ai-vision-face 1.0.0b2 (aio)",
    NO_TRUST_ENV: "azure-ai-vision-face 1.0.0b2 (aio, trust_env off)",
    "azure-cognitiveservices-vision-face": "azure-cognitiveservices-vision-face 0.6.1 (threads)",
    "cognitive_face": "cognitive_face 1.5.0 (threads)",
}


class AsyncPeer(Protocol):
    async def create_person(self, group_id: str, name: str) -> str: ...

    async def add_face(self, group_id: str, person_id: str, image: bytes) -> None: ...

    async def aclose(self) -> None: ...


class SyncPeer(Protocol):
    def create_person(self, group_id: str, name: str) -> str: ...

    def add_face(self, group_id: str, person_id: str, image: bytes) -> None: ...

    def close(self) -> None: ...


class PeerHTTPError(Exception):
    """A non-2xx answer seen by the raw aiohttp floor."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


# ---------------------------------------------------------------------------------------------
# async


class RawAiohttp:
    def __init__(self, url: str, key: str, limit: int = 100) -> None:
        import aiohttp

        self._api = url.rstrip("/") + "/face/v1.0"
        self._key = key
        # aiohttp's defaults (limit=100 connections, trust_env=False) — a user's first session.
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit))

    async def create_person(self, group_id: str, name: str) -> str:
        import json

        async with self._session.post(
            f"{self._api}/largepersongroups/{group_id}/persons",
            data=json.dumps({"name": name}).encode(),
            headers={KEY_HEADER: self._key, "Content-Type": "application/json"},
        ) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise PeerHTTPError(resp.status)
        person_id: str = json.loads(body)["personId"]
        return person_id

    async def add_face(self, group_id: str, person_id: str, image: bytes) -> None:
        async with self._session.post(
            f"{self._api}/largepersongroups/{group_id}/persons/{person_id}/persistedfaces",
            data=image,
            headers={KEY_HEADER: self._key, "Content-Type": "application/octet-stream"},
        ) as resp:
            await resp.read()
            if resp.status != 200:
                raise PeerHTTPError(resp.status)

    async def aclose(self) -> None:
        await self._session.close()


class FaceAsync:
    def __init__(self, url: str, key: str, tps: float | None = None) -> None:
        from face_async import AsyncFaceClient

        kwargs: dict[str, Any] = {"key": key}
        if tps is not None:
            kwargs["tps"] = tps
        self.client: Any = AsyncFaceClient(url, **kwargs)
        self._entered = False

    async def open(self) -> None:
        if hasattr(self.client, "__aenter__"):
            await self.client.__aenter__()
            self._entered = True

    async def create_person(self, group_id: str, name: str) -> str:
        person = await self.client.large_person_group_persons.create(group_id, name=name)
        return str(person.person_id)

    async def add_face(self, group_id: str, person_id: str, image: bytes) -> None:
        await self.client.large_person_group_persons.add_face(group_id, person_id, image)

    async def aclose(self) -> None:
        if self._entered:
            await self.client.__aexit__(None, None, None)
        else:
            await self.client.close()


class AzureVisionFace:
    def __init__(self, url: str, key: str, *, trust_env: bool = True) -> None:
        aio: Any = importlib.import_module("azure.ai.vision.face.aio")
        credentials: Any = importlib.import_module("azure.core.credentials")
        kwargs: dict[str, Any] = {}
        if not trust_env:
            # Not the default: shows what the per-request proxy lookup of trust_env costs.
            transport: Any = importlib.import_module("azure.core.pipeline.transport")
            kwargs["transport"] = transport.AioHttpTransport(use_env_settings=False)
        self.client: Any = aio.FaceAdministrationClient(
            endpoint=url, credential=credentials.AzureKeyCredential(key), **kwargs
        )

    async def create_person(self, group_id: str, name: str) -> str:
        result = await self.client.large_person_group.create_person(group_id, name=name)
        return str(result.person_id)

    async def add_face(self, group_id: str, person_id: str, image: bytes) -> None:
        await self.client.large_person_group.add_face(group_id, person_id, image)

    async def aclose(self) -> None:
        await self.client.close()


async def make_async_peer(name: str, url: str, key: str, *, tps: float | None = None) -> Any:
    if name == "aiohttp":
        return RawAiohttp(url, key)
    if name == "face-async":
        peer = FaceAsync(url, key, tps=tps)
        await peer.open()
        return peer
    if name == "azure-ai-vision-face":
        return AzureVisionFace(url, key)
    if name == NO_TRUST_ENV:
        return AzureVisionFace(url, key, trust_env=False)
    raise ValueError(f"not an async client: {name}")


# ---------------------------------------------------------------------------------------------
# sync (run in a thread pool)


class AzureCognitiveServicesFace:
    def __init__(self, url: str, key: str) -> None:
        face: Any = importlib.import_module("azure.cognitiveservices.vision.face")
        auth: Any = importlib.import_module("msrest.authentication")
        self.client: Any = face.FaceClient(url, auth.CognitiveServicesCredentials(key))

    def create_person(self, group_id: str, name: str) -> str:
        person = self.client.large_person_group_person.create(group_id, name=name)
        return str(person.person_id)

    def add_face(self, group_id: str, person_id: str, image: bytes) -> None:
        self.client.large_person_group_person.add_face_from_stream(
            group_id, person_id, io.BytesIO(image)
        )

    def close(self) -> None:
        self.client.close()


class CognitiveFace:
    def __init__(self, url: str, key: str) -> None:
        self.cf: Any = importlib.import_module("cognitive_face")
        # The library's process-global endpoint and key. Its request() prefixes the base URL to
        # relative paths only, so an http:// loopback base works.
        self.cf.BaseUrl.set(url.rstrip("/") + "/face/v1.0/")
        self.cf.Key.set(key)

    def create_person(self, group_id: str, name: str) -> str:
        return str(self.cf.large_person_group_person.create(group_id, name)["personId"])

    def add_face(self, group_id: str, person_id: str, image: bytes) -> None:
        self.cf.large_person_group_person_face.add(io.BytesIO(image), group_id, person_id)

    def close(self) -> None:
        pass


def make_sync_peer(name: str, url: str, key: str) -> Any:
    if name == "azure-cognitiveservices-vision-face":
        return AzureCognitiveServicesFace(url, key)
    if name == "cognitive_face":
        return CognitiveFace(url, key)
    raise ValueError(f"not a sync client: {name}")


def error_name(exc: BaseException) -> str:
    """A short, stable label for an exception: its class and HTTP status when it has one."""
    status = None
    for attr in ("status", "status_code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            status = value
            break
    if status is None:
        response = getattr(exc, "response", None)
        for attr in ("status_code", "status"):
            value = getattr(response, attr, None)
            if isinstance(value, int):
                status = value
                break
    name = type(exc).__name__
    return f"{name}({status})" if status is not None else name


AddFace = Callable[[str, str, bytes], Awaitable[None]]
