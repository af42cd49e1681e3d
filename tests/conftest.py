"""Shared fixtures: an in-process emulator on 127.0.0.1 and a client bound to it."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator

import pytest

from face_async.emulator import Emulator


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(key="test-key") as emu:
        yield emu


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[object]:
    from face_async import AsyncFaceClient

    async with AsyncFaceClient(emulator.url, key=emulator.key) as face_client:
        yield face_client


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    # Unclosed aiohttp sessions warn from __del__; collecting here turns that warning into a
    # failure of the test that leaked (filterwarnings = error in pyproject.toml). Freezing what
    # survives keeps the next collection to what the next test creates, not the whole heap.
    yield
    gc.collect()
    gc.freeze()
