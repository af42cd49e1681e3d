"""Fixtures of the emulator tests: a raw-HTTP Api on the in-process emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from helpers_core import Api, open_api

from face_async.emulator import Emulator


@pytest.fixture
async def api(emulator: Emulator) -> AsyncIterator[Api]:
    async with open_api(emulator) as api:
        yield api
