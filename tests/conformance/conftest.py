"""Fixtures of the conformance tests: a recorded-response server and a client bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from recorded_server import RecordedServer

from face_async import AsyncFaceClient, RetryPolicy


@pytest.fixture
async def recorded_server() -> AsyncIterator[RecordedServer]:
    async with RecordedServer() as server:
        yield server


@pytest.fixture
async def recorded_client(recorded_server: RecordedServer) -> AsyncIterator[AsyncFaceClient]:
    # One attempt per call: a recorded 429 must surface as RateLimited, not be retried.
    async with AsyncFaceClient(
        recorded_server.url, key="recorded-key", retry=RetryPolicy.never(),
        allow_insecure_http=True,
    ) as client:  # fmt: skip
        yield client
