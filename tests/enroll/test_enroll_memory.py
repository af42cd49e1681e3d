"""enroll()'s memory does not grow with the number of images (streamed source, default journal).

The emulator runs in a child process here, so that everything tracemalloc sees in this process
is the client's: its peak during an enrollment of 1,000 faces and of 4,000 faces must be the
same within a small bound (per-image and per-person state lives in the journal). sqlite's own
memory is not traced by tracemalloc; the journal test reads it from libsqlite3.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import os
import sys
import tracemalloc
from collections.abc import AsyncIterator, Iterator

import pytest

from face_async import AsyncFaceClient
from face_async._enroll import Journal, _streamed, enroll, fingerprint
from face_async.emulator import Emulator, Fault, make_face_image

KEY = "memory-key"
USER_DATA_PREFIX = "face-async:v1:"
FACES_PER_PERSON = 2
CONCURRENCY = 16


@pytest.fixture
async def emulator_url() -> AsyncIterator[str]:
    """``python -m face_async.emulator`` in a child process; its URL once it is ready."""
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "face_async.emulator", "--port", "0", "--key", KEY,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.DEVNULL, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        url = ""
        while not url:
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line, "the emulator exited before it was ready"
            name, _, value = line.decode().strip().partition("=")
            if name == "FACE_ENDPOINT":
                url = value
        yield url
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


def lazy_pairs(tag: str, faces: int, at_end: list[int]) -> Iterator[tuple[str, bytes]]:
    """Distinct photos made on the fly, persons in blocks of CONCURRENCY, faces interleaved
    within a block (as the scale benchmark): persons go idle and come back. When the source is
    exhausted, the traced memory is appended to ``at_end``."""
    base = make_face_image(f"memory-{tag}")
    persons = faces // FACES_PER_PERSON
    for start in range(0, persons, CONCURRENCY):
        block = range(start, min(persons, start + CONCURRENCY))
        for j in range(FACES_PER_PERSON):
            for p in block:
                yield f"{tag}-{p:06d}", base + (p * FACES_PER_PERSON + j).to_bytes(4, "big")
    at_end.append(tracemalloc.get_traced_memory()[0])


async def traced_growth(client: AsyncFaceClient, group: str, faces: int) -> tuple[int, int, int]:
    """Traced memory above what it was before the enrollment: when every image has been
    pulled from the source (every person seen, a full window in flight), at the peak, after."""
    await client.large_person_groups.create(group, name=group)
    at_end: list[int] = []
    source = lazy_pairs(group, faces, at_end)
    make_face_image(f"memory-{group}")  # cached allocations of the photo maker, before
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    report = await asyncio.wait_for(
        enroll(client, group, source, large=True, max_concurrency=CONCURRENCY, train=False),
        60,
    )
    _, peak = tracemalloc.get_traced_memory()
    gc.collect()  # what is kept, not garbage awaiting collection
    after = tracemalloc.get_traced_memory()[0]
    assert report.faces_added == faces
    assert report.persons_created == faces // FACES_PER_PERSON
    return at_end[0] - before, peak - before, after - before


async def test_memory_does_not_grow_with_the_number_of_faces(emulator_url: str) -> None:
    async with AsyncFaceClient(emulator_url, key=KEY) as client:
        tracemalloc.start(1)
        try:
            await traced_growth(client, "warm", 100)  # imports, caches, the connection pool
            small = await traced_growth(client, "small", 800)
            large = await traced_growth(client, "large", 2_000)
        finally:
            tracemalloc.stop()
    # 1,200 more faces, 600 more persons: keeping ~100 bytes per person or ~50 bytes per face
    # would show in what stays after the run (keeping the persons seen, as enroll() once did,
    # showed +200 KiB). The peak is the window (32 x CONCURRENCY = 512 images queued, with a
    # runner per person that has one), not the number of faces.
    (_, small_peak, small_after), (_, large_peak, large_after) = small, large
    assert large_after - small_after < 64 * 1024, (
        f"{small_after / 1024:.0f} KiB kept after 800 faces, {large_after / 1024:.0f} after 2,000"
    )
    # Whether the window fills depends on timing: bound the peak by it (~8 KiB per image).
    window = _streamed.WINDOW_PER_SLOT * CONCURRENCY
    assert max(small_peak, large_peak) < window * 8 * 1024, (
        f"peak {small_peak / 1024:.0f} KiB at 800 faces, {large_peak / 1024:.0f} KiB at 2,000"
    )


def _sqlite_memory() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)  # the library _sqlite3 uses, already loaded: the same counters
        lib.sqlite3_memory_highwater.restype = ctypes.c_int64
        lib.sqlite3_memory_highwater.argtypes = [ctypes.c_int]
        lib.sqlite3_memory_used.restype = ctypes.c_int64
    except (OSError, AttributeError):
        return None
    return lib


async def test_default_journal_memory_is_bounded() -> None:
    """``Journal()`` (enroll()'s default) keeps sqlite's page cache, not every record, in
    memory; ``Journal(":memory:")`` holds every record."""
    lib = _sqlite_memory()
    if lib is None:
        pytest.skip("libsqlite3's memory counters are not reachable")

    async def highwater(journal: Journal) -> int:
        run = Journal.run_key("127.0.0.1:1", "g", True)
        base = lib.sqlite3_memory_used()
        lib.sqlite3_memory_highwater(1)
        async with journal:
            for i in range(20_000):
                fp = fingerprint(i.to_bytes(4, "big"))
                name = f"p{i // 10:05d}"
                journal.confirm_face(run, name, fp, f"{i:036d}", "src", settled=True)
                if i % 1000 == 999:
                    await journal.count_faces(run)  # let the worker catch up
            assert await journal.count_faces(run) == 20_000
            return int(lib.sqlite3_memory_highwater(0)) - base

    in_memory = await highwater(Journal(":memory:"))
    temporary = await highwater(Journal())
    assert in_memory > 3 * 2**20, f"{in_memory / 2**20:.1f} MiB"  # ~200 bytes a record
    assert temporary < 2.5 * 2**20, f"{temporary / 2**20:.1f} MiB"  # the 2 MiB page cache


async def test_parked_persons_resume_exactly(emulator: Emulator) -> None:
    """Persons leave memory between their images (parked in the journal) and come back with
    their id, image count, face count and failure; ambiguous writes stay exactly-once."""
    emulator.config.seed = 7
    emulator.config.faults = [
        Fault("reset_after_commit", 0.3, "PersonGroupPerson_AddFaceFromStream")
    ]
    source = {
        f"parked-{i}": [make_face_image(f"parked-{i}", variant=j) for j in range(4)]
        for i in range(5)
    }
    bad_name = "x" * 129  # refused by validation: every image of it fails, none is sent

    def pairs() -> Iterator[tuple[str, bytes]]:
        for j in range(4):
            for name, images in source.items():
                yield name, images[j]
            if j < 2:
                yield bad_name, source["parked-0"][j]

    async with AsyncFaceClient(emulator.url, key=emulator.key) as client:
        report = await enroll(client, "g", pairs(), max_concurrency=2, train=False)
    assert emulator.stats.faults["reset_after_commit"] > 0
    assert report.reconciled == emulator.stats.faults["reset_after_commit"]
    assert report.faces_added == 20
    assert report.persons_created == 5
    assert [(f.source, f.reason) for f in report.failures] == [
        (f"{bad_name}[0]", "invalid_person"),
        (f"{bad_name}[1]", "invalid_person"),
    ]
    group = emulator.state.person_groups["g"]
    stored = {p.name: [f.user_data for f in p.faces.values()] for p in group.persons.values()}
    assert stored == {
        name: [USER_DATA_PREFIX + fingerprint(image) for image in images]
        for name, images in source.items()
    }
