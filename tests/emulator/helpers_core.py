"""Raw-HTTP helpers for the emulator core tests (no face_async client involved)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from face_async.emulator import Emulator, make_face_image

STREAM = {"Content-Type": "application/octet-stream"}


class Api:
    """A ClientSession bound to one emulator; every call returns (status, decoded body)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.last_headers: Mapping[str, str] = {}

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        data: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        url = path if path.startswith("http") else self.base + path
        # aiohttp warns (an error here) when a body over 1 MB is passed as bytes.
        body: bytes | io.BytesIO | None = io.BytesIO(data) if data and len(data) > 2**20 else data
        async with self.session.request(
            method, url, json=json, data=body, params=params, headers=headers
        ) as response:
            raw = await response.read()
            self.last_headers = response.headers
            if not raw:
                return response.status, None
            return response.status, await response.json(content_type=None)

    async def error(self, method: str, path: str, **kwargs: Any) -> tuple[int, str]:
        """Call and return (status, error code); fails if the body is not an error."""
        status, body = await self.call(method, path, **kwargs)
        assert isinstance(body, dict), body
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"code", "message"}, body
        assert isinstance(body["error"]["message"], str)
        assert body["error"]["message"]
        return status, body["error"]["code"]

    # -------------------------------------------------------------- building blocks

    async def person_group(self, group_id: str = "g", *, large: bool = False, **body: Any) -> str:
        coll = "largepersongroups" if large else "persongroups"
        status, _ = await self.call("PUT", f"/{coll}/{group_id}", json={"name": group_id, **body})
        assert status == 200
        return group_id

    async def person(self, group_id: str = "g", *, large: bool = False, name: str = "p") -> str:
        coll = "largepersongroups" if large else "persongroups"
        status, body = await self.call("POST", f"/{coll}/{group_id}/persons", json={"name": name})
        assert status == 200, body
        return str(body["personId"])

    async def add_face(
        self,
        group_id: str,
        person_id: str,
        image: bytes,
        *,
        large: bool = False,
        params: Mapping[str, str] | None = None,
    ) -> str:
        coll = "largepersongroups" if large else "persongroups"
        status, body = await self.call(
            "POST",
            f"/{coll}/{group_id}/persons/{person_id}/persistedfaces",
            data=image,
            headers=STREAM,
            params=params,
        )
        assert status == 200, body
        return str(body["persistedFaceId"])

    async def detect(self, image: bytes, **params: str) -> list[dict[str, Any]]:
        status, body = await self.call(
            "POST", "/detect", data=image, headers=STREAM, params=params or None
        )
        assert status == 200, body
        assert isinstance(body, list)
        return body

    async def face_id(self, identity: str, **params: str) -> str:
        faces = await self.detect(make_face_image(identity), **params)
        assert len(faces) == 1
        return str(faces[0]["faceId"])

    async def enrolled_group(
        self, people: Mapping[str, str], *, group_id: str = "g", large: bool = False
    ) -> dict[str, str]:
        """Create a group with one person per identity (name -> identity), one face each."""
        await self.person_group(group_id, large=large)
        ids = {}
        for name, identity in people.items():
            pid = await self.person(group_id, large=large, name=name)
            await self.add_face(group_id, pid, make_face_image(identity), large=large)
            ids[name] = pid
        return ids


@contextlib.asynccontextmanager
async def open_api(emulator: Emulator, prefix: str = "/face/v1.0") -> AsyncIterator[Api]:
    headers = {"Ocp-Apim-Subscription-Key": emulator.key}
    async with aiohttp.ClientSession(headers=headers) as session:
        yield Api(session, emulator.url + prefix)


def finish_training(emulator: Emulator) -> None:
    """Move the emulator clock past any training or snapshot operation, and let them end."""
    emulator.clock.advance(3600)
    emulator.state.settle()
