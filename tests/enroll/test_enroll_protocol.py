"""Issue 10: late-applied writes, person twins, the journal off the loop, streamed runners,
models and the str image rule."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from face_async import AsyncFaceClient, FaceValidationError, RetryPolicy
from face_async._enroll import (
    EnrollEvent,
    FaceAdded,
    FaceFailed,
    Journal,
    JournalBusy,
    WaitingForLateWrites,
    default_journal_path,
    enroll,
    enroll_iter,
    fingerprint,
)
from face_async._enroll._protocol import person_token
from face_async.emulator import Emulator, Fault, Latency, make_face_image

PREFIX = "face-async:v1:"


def persons_and_faces(emu: Emulator, group_id: str) -> list[tuple[str | None, list[str]]]:
    group = emu.state.person_groups[group_id]
    return sorted(
        (p.name, [f.user_data or "" for f in p.faces.values()]) for p in group.persons.values()
    )


async def test_a_face_and_a_person_answered_after_the_timeout_leave_one_of_each(
    emulator: Emulator,
) -> None:
    """The issue's test: the create and the add-face are applied, then answered after the
    client's timeout (0.3 s), within the default window (twice the timeout); enroll() waits
    for them, reports ok, and one of each is left."""
    emulator.config.slow_seconds = 0.5
    emulator.config.faults = [
        Fault("slow", 1.0, "PersonGroupPerson_Create", count=1),
        Fault("slow", 1.0, "PersonGroupPerson_AddFaceFromStream", count=1),
    ]
    image = make_face_image("alice", variant=0)
    events: list[EnrollEvent] = []
    async with AsyncFaceClient(emulator.url, key=emulator.key, timeout=0.3) as client:
        report = await enroll(client, "g", {"alice": [image]}, on_event=events.append)
    await emulator.stats.wait_for(lambda stats: stats.in_flight == 0)
    assert report.ok
    assert report.training_status == "succeeded"
    assert persons_and_faces(emulator, "g") == [("alice", [PREFIX + fingerprint(image)])]
    assert emulator.stats.faults["slow"] == 2
    # Each write was sent twice (the first not seen in time); the late copies were removed.
    assert emulator.stats.requests["PersonGroupPerson_Create"] == 2
    assert emulator.stats.requests["PersonGroupPerson_AddFaceFromStream"] == 2
    assert report.duplicates_removed == 2
    waits = [e for e in events if isinstance(e, WaitingForLateWrites)]
    assert len(waits) == 1
    # The default window is twice the request timeout, from the last doubtful send.
    assert 0 < waits[0].seconds <= 0.6
    assert report.settle_wait == pytest.approx(waits[0].seconds)


@pytest.mark.parametrize(
    ("kind", "applied"), [("reset_before", False), ("reset_after_commit", True)]
)
async def test_an_add_face_whose_check_fails_is_settled_in_the_same_run(
    emulator: Emulator, kind: str, applied: bool
) -> None:
    """The add-face gets no answer and every try of the check after it fails, so the image
    is reported outcome_unknown. After the late-write window the final check finds it
    applied (counted as added) or not applied, and then sends it once more: the run ends ok
    with exactly one face either way."""
    image = make_face_image("carol", variant=0)
    retry = RetryPolicy(max_tries=2, initial_delay=0.01)
    async with AsyncFaceClient(emulator.url, key=emulator.key, retry=retry) as client:
        await client.person_groups.create("g", name="g")
        emulator.config.faults = [
            Fault(kind, 1.0, "PersonGroupPerson_AddFaceFromStream", count=1),
            Fault("500", 1.0, "PersonGroupPerson_Get", count=2),
        ]
        events: list[EnrollEvent] = []
        report = await enroll(
            client, "g", {"carol": [image]}, train=False, late_write_window=0.2,
            on_event=events.append,
        )  # fmt: skip
    assert emulator.stats.faults["500"] == 2  # the check failed on both tries
    assert [e.reason for e in events if isinstance(e, FaceFailed)] == ["outcome_unknown"]
    assert report.ok
    assert (report.faces_added, report.failures) == (1, ())
    assert persons_and_faces(emulator, "g") == [("carol", [PREFIX + fingerprint(image)])]
    sends = emulator.stats.requests["PersonGroupPerson_AddFaceFromStream"]
    assert sends == (1 if applied else 2)  # re-sent only when the check found it missing
    assert sum(isinstance(e, FaceAdded) for e in events) == 1


async def test_the_same_photo_again_while_its_first_copy_is_in_doubt_is_not_sent(
    emulator: Emulator,
) -> None:
    """The same photo twice for one person, the first add-face's outcome unknown (no answer,
    the check failed): the second copy is not sent (it was, and both were counted added);
    the final verification re-sends the first. One face, one added, one skipped."""
    image = make_face_image("dave", variant=0)
    retry = RetryPolicy(max_tries=2, initial_delay=0.01)
    async with AsyncFaceClient(emulator.url, key=emulator.key, retry=retry) as client:
        await client.person_groups.create("g", name="g")
        emulator.config.faults = [
            Fault("reset_before", 1.0, "PersonGroupPerson_AddFaceFromStream", count=1),
            Fault("500", 1.0, "PersonGroupPerson_Get", count=2),
        ]
        report = await enroll(
            client, "g", {"dave": [image, image]}, train=False, late_write_window=0.2,
            max_concurrency=1,
        )  # fmt: skip
    assert (report.ok, report.faces_added, report.faces_skipped) == (True, 1, 1)
    assert persons_and_faces(emulator, "g") == [("dave", [PREFIX + fingerprint(image)])]
    assert emulator.stats.requests["PersonGroupPerson_AddFaceFromStream"] == 2


async def test_a_re_sent_image_whose_first_copy_lands_late_is_verified_again(
    emulator: Emulator,
) -> None:
    """The re-send of an image whose check failed is itself answered after the client's
    timeout, then sent again and confirmed: its late first copy lands within the window and
    the second round of the final check removes it."""
    image = make_face_image("carol", variant=0)
    emulator.config.slow_seconds = 0.5
    retry = RetryPolicy(max_tries=2, initial_delay=0.01)
    async with AsyncFaceClient(emulator.url, key=emulator.key, retry=retry, timeout=0.3) as client:
        await client.person_groups.create("g", name="g")
        emulator.config.faults = [
            Fault("reset_before", 1.0, "PersonGroupPerson_AddFaceFromStream", count=1),
            Fault("500", 1.0, "PersonGroupPerson_Get", count=2),
            Fault("slow", 1.0, "PersonGroupPerson_AddFaceFromStream", count=1),
        ]
        report = await enroll(client, "g", {"carol": [image]}, train=False, late_write_window=0.6)
    await emulator.stats.wait_for(lambda stats: stats.in_flight == 0)
    assert emulator.stats.faults["slow"] == 1
    assert (report.ok, report.faces_added, report.duplicates_removed) == (True, 1, 1)
    assert persons_and_faces(emulator, "g") == [("carol", [PREFIX + fingerprint(image)])]


async def test_a_rerun_without_journal_merges_twins_by_the_derived_token(
    emulator: Emulator, client: AsyncFaceClient
) -> None:
    """Two persons of one name carrying the token derived from group and name (an ambiguous
    create applied twice): the rerun keeps the one with faces and deletes the other."""
    await client.person_groups.create("g", name="g")
    marker = PREFIX + "person:" + person_token("g", "alice", large=False)
    image = make_face_image("alice", variant=0)
    kept = await client.person_group_persons.create("g", name="alice", user_data=marker)
    await client.person_group_persons.add_face(
        "g", kept.person_id, image, user_data=PREFIX + fingerprint(image)
    )
    await client.person_group_persons.create("g", name="alice", user_data=marker)  # empty twin
    report = await enroll(client, "g", {"alice": [image]}, train=False)
    assert (report.persons_reused, report.faces_skipped, report.duplicates_removed) == (1, 1, 1)
    assert persons_and_faces(emulator, "g") == [("alice", [PREFIX + fingerprint(image)])]
    assert next(iter(emulator.state.person_groups["g"].persons)) == kept.person_id


async def test_the_journal_records_the_token_before_the_create_and_reruns_reuse_it(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.config.faults = [Fault("reset_after_commit", 1.0, "PersonGroupPerson_Create")]
    journal = tmp_path / "j.sqlite"
    image = make_face_image("bob", variant=0)
    async with AsyncFaceClient(emulator.url, key=emulator.key) as client:
        report = await enroll(client, "g", {"bob": [image]}, journal=journal, train=False)
    assert report.ok
    async with Journal(journal) as db:
        run = Journal.run_key(emulator.url.split("//")[1], "g", False)
        recorded = await db.person(run, "bob")
    assert recorded is not None
    assert recorded.token == person_token("g", "bob", large=False)
    (person,) = emulator.state.person_groups["g"].persons.values()
    assert person.user_data == PREFIX + "person:" + recorded.token
    assert recorded.person_id == person.person_id


async def test_another_process_holding_the_journal_is_a_clean_journal_busy(
    emulator: Emulator, client: AsyncFaceClient, tmp_path: Path
) -> None:
    """Another process holds the journal's write lock: JournalBusy naming the file within
    seconds, the event loop never stalled while waiting."""
    journal = tmp_path / "busy.sqlite"
    sqlite3.connect(journal).close()
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c",
        "import sqlite3, sys\n"
        f"db = sqlite3.connect({str(journal)!r}, isolation_level=None)\n"
        "db.execute('BEGIN IMMEDIATE')\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()\n",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert holder.stdout is not None
    assert holder.stdin is not None
    try:
        assert await asyncio.wait_for(holder.stdout.readline(), 30) == b"held\n"
        stalls: list[float] = []
        done = asyncio.Event()

        async def probe() -> None:
            loop = asyncio.get_running_loop()
            while not done.is_set():
                start = loop.time()
                await asyncio.sleep(0.001)
                stalls.append(loop.time() - start - 0.001)

        probing = asyncio.create_task(probe())
        started = time.monotonic()
        image = make_face_image("carol", variant=0)
        try:
            with pytest.raises(JournalBusy) as info:
                await enroll(client, "g", {"carol": [image]}, journal=journal)
        finally:
            done.set()
            await probing
        assert time.monotonic() - started < 10
        assert str(journal) in str(info.value)
        assert info.value.path == str(journal)
        assert max(stalls) < 0.02, f"{max(stalls) * 1000:.1f} ms"
        assert emulator.stats.requests["PersonGroupPerson_AddFaceFromStream"] == 0
    finally:
        holder.stdin.close()
        await asyncio.wait_for(holder.wait(), 30)


def test_default_journal_path_is_per_endpoint_and_group() -> None:
    a = default_journal_path("https://a.cognitiveservices.azure.com/", "staff")
    b = default_journal_path("https://b.cognitiveservices.azure.com/", "staff")
    c = default_journal_path("https://a.cognitiveservices.azure.com/", "visitors")
    assert len({a, b, c}) == 3
    assert a.name == ".face-async-journal-a.cognitiveservices.azure.com-staff.sqlite"
    assert default_journal_path("westus", "g").name == ".face-async-journal-westus-g.sqlite"
    local = default_journal_path("http://127.0.0.1:8765/face/v1.0", "g")
    assert "/" not in local.name
    assert not local.is_absolute()


def grouped_and_interleaved(persons: int, per_person: int) -> tuple[list[tuple[str, bytes]], ...]:
    photos = {
        f"p{i}": [make_face_image(f"stream-{i}", variant=j) for j in range(per_person)]
        for i in range(persons)
    }
    grouped = [(name, image) for name, images in photos.items() for image in images]
    interleaved = [(name, photos[name][j]) for j in range(per_person) for name in photos]
    return grouped, interleaved


async def test_a_grouped_stream_keeps_every_slot_busy(emulator: Emulator) -> None:
    """8 persons x 40 images, streamed grouped by person, max_concurrency=4: as fast as the
    same images interleaved, with 4 writes in flight most of the time at the emulator."""
    latency = 0.05  # long against the client's and the in-process emulator's CPU per call
    emulator.config.conflict_mode = "conflict"
    emulator.config.latency = {"*AddFace*": Latency.fixed(latency)}
    grouped, interleaved = grouped_and_interleaved(8, 40)
    timings: dict[str, tuple[float, float]] = {}
    async with AsyncFaceClient(emulator.url, key=emulator.key) as client:
        for label, pairs in (("interleaved", interleaved), ("grouped", grouped)):
            emulator.stats.reset()
            added: list[float] = []

            def on_event(event: EnrollEvent, added: list[float] = added) -> None:
                if isinstance(event, FaceAdded):
                    added.append(time.monotonic())

            started = time.monotonic()
            report = await enroll(
                client, label, iter(pairs), max_concurrency=4, train=False, on_event=on_event
            )
            elapsed = time.monotonic() - started
            assert report.faces_added == 320
            # Time-averaged add-face calls in flight: the service time they held over the
            # time from the first to the last confirmation (one latency before the first).
            busy = emulator.stats.delay_seconds / (added[-1] - added[0] + latency)
            timings[label] = (elapsed, busy)
            assert emulator.stats.conflicts == 0
            assert emulator.stats.max_concurrent_writes_per_person == 1
            assert emulator.stats.max_parallel_writes == 4
    grouped_s, grouped_busy = timings["grouped"]
    interleaved_s, _ = timings["interleaved"]
    # Head-of-line idling made the grouped run 2.5x slower with at most 2 writes in flight;
    # these bounds catch that with room for a loaded machine (a unit test is no speed
    # measurement: the 1.1x figure is measured in the notes, runs of 1.07x-1.10x).
    assert grouped_s <= 1.5 * interleaved_s, timings
    assert grouped_busy >= 3.0, timings  # 4 in flight most of the time


async def test_models_used_when_the_run_creates_the_group(
    emulator: Emulator, client: AsyncFaceClient
) -> None:
    image = make_face_image("dave", variant=0)
    await enroll(client, "latest", {"dave": [image]}, train=False)
    assert emulator.state.person_groups["latest"].recognition_model == "recognition_04"
    (person,) = emulator.state.person_groups["latest"].persons.values()
    assert [f.detection_model for f in person.faces.values()] == ["detection_03"]
    await enroll(
        client, "old", {"dave": [image]}, train=False,
        recognition_model="recognition_01", detection_model="detection_01",
    )  # fmt: skip
    assert emulator.state.person_groups["old"].recognition_model == "recognition_01"
    with pytest.raises(FaceValidationError) as info:
        await enroll(client, "bad", {"dave": [image]}, recognition_model=4)  # type: ignore[arg-type]
    assert info.value.parameter == "recognition_model"


@pytest.mark.parametrize("bad", ["photos/alice.jpg", "alice.jpg", "ftp://host/a.jpg"])
async def test_a_str_image_must_be_a_url(
    emulator: Emulator, client: AsyncFaceClient, bad: str
) -> None:
    with pytest.raises(FaceValidationError, match=r"pathlib\.Path") as info:
        await enroll(client, "g", {"alice": [bad]})
    assert info.value.parameter == "source"

    def pairs() -> Iterator[tuple[str, str]]:
        yield "alice", bad

    with pytest.raises(FaceValidationError, match=r"pathlib\.Path"):
        await enroll(client, "g", pairs(), train=False)
    assert emulator.stats.requests["PersonGroupPerson_AddFaceFromStream"] == 0


async def test_enroll_iter_takes_enrolls_keywords(
    emulator: Emulator, client: AsyncFaceClient
) -> None:
    image = make_face_image("erin", variant=0)
    events: AsyncIterator[EnrollEvent] = enroll_iter(
        client, "g", {"erin": [image]}, train=False, recognition_model="recognition_03",
        max_concurrency=2, late_write_window=0.0,
    )  # fmt: skip
    kinds = [type(event).__name__ async for event in events]
    assert kinds[-1] == "EnrollFinished"
    assert emulator.state.person_groups["g"].recognition_model == "recognition_03"
    with pytest.raises(TypeError):
        enroll_iter(client, "g", {}, on_event=print)  # type: ignore[call-arg]
