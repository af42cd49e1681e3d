"""Reading and fingerprinting images keeps the event loop free.

A photo of a few MB takes milliseconds to hash; files are read and hashed in a worker thread,
and so are large bytes given in memory (hashlib lets go of the GIL), so that another
coroutine keeps running meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from face_async._enroll import _sources, fingerprint
from face_async._enroll._sources import ReadImage, load

BIG = bytes(range(256)) * (4 * 1024 * 1024 // 256)  # 4 MiB


@pytest.fixture
def hashing_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads the fingerprints are computed on."""
    seen: list[str] = []
    real = _sources.fingerprint

    def spy(data: bytes) -> str:
        seen.append(threading.current_thread().name)
        return real(data)

    monkeypatch.setattr(_sources, "fingerprint", spy)
    return seen


def test_large_bytes_and_files_are_hashed_off_the_loop(
    tmp_path: Path, hashing_threads: list[str]
) -> None:
    photo = tmp_path / "big.jpg"
    photo.write_bytes(BIG)

    async def main() -> list[tuple[bytes | str, str]]:
        return [await load(BIG), await load(photo), await load(b"small")]

    (big, big_fp), (read, read_fp), (small, small_fp) = asyncio.run(main())
    assert big == read == BIG
    assert big_fp == read_fp == fingerprint(BIG)
    assert small == b"small"
    assert small_fp == fingerprint(b"small")
    main_thread = threading.main_thread().name
    # The two large ones on worker threads; the small one inline (cheaper than a thread hop).
    assert hashing_threads[0] != main_thread
    assert hashing_threads[1] != main_thread
    assert hashing_threads[2] == main_thread


def test_urls_and_images_read_once_keep_their_fingerprint() -> None:
    async def main() -> list[tuple[bytes | str, str]]:
        read_once = ReadImage(b"payload", "f" * 32, "a.jpg")
        return [await load("https://example.test/a.jpg"), await load(read_once)]

    (url, url_fp), (payload, fp) = asyncio.run(main())
    assert url == "https://example.test/a.jpg"
    assert url_fp == fingerprint(b"url:https://example.test/a.jpg")
    assert (payload, fp) == (b"payload", "f" * 32)
