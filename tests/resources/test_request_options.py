"""What the resource layer hands the transport: per-call timeouts and idempotency."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from yarl import URL

import face_async
from face_async.emulator import Emulator, Fault, Latency, make_face_image

ALICE = make_face_image("alice")


async def test_per_call_timeout_overrides_the_client_timeout(emulator: Emulator) -> None:
    emulator.config.latency = {"PersonGroup_Get": Latency.fixed(0.3)}
    async with face_async.AsyncFaceClient(
        emulator.url, key=emulator.key, retry=face_async.RetryPolicy.never()
    ) as client:
        await client.person_groups.create("g", name="G")
        with pytest.raises(face_async.FaceTimeoutError):
            await client.person_groups.get("g", timeout=0.05)
        group = await client.person_groups.get("g")  # the client's 30 s default
        assert group.person_group_id == "g"


async def test_add_face_is_not_resent_after_a_server_error(client: Any, emulator: Emulator) -> None:
    await client.person_groups.create("g", name="G")
    person = await client.person_group_persons.create("g", name="Alice")
    emulator.config.faults = [Fault("500", operations="*AddFace*", count=1)]
    with pytest.raises(face_async.OutcomeUnknownError):
        await client.person_group_persons.add_face("g", person.person_id, ALICE)
    assert emulator.stats.requests["PersonGroupPerson_AddFaceFromStream"] == 1


async def test_detect_is_resent_after_a_server_error(client: Any, emulator: Emulator) -> None:
    emulator.config.faults = [Fault("500", operations="Face_Detect*", count=1)]
    faces = await client.face.detect(ALICE)
    assert len(faces) == 1
    assert emulator.stats.requests["Face_DetectWithStream"] == 2


async def test_add_face_sends_detection_model_only_when_not_the_default(
    emulator: Emulator,
) -> None:
    # detection_01 is what the service uses when the query names no model: it is left out.
    sent: list[URL] = []

    async def on_request_start(
        session: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        sent.append(params.url)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with (
        aiohttp.ClientSession(trace_configs=[trace]) as session,
        face_async.AsyncFaceClient(emulator.url, key=emulator.key, session=session) as client,
    ):
        await client.person_groups.create("g", name="G")
        pid = (await client.person_group_persons.create("g", name="Alice")).person_id
        persons = client.person_group_persons
        await persons.add_face("g", pid, ALICE)
        await persons.add_face("g", pid, ALICE, detection_model="detection_01", user_data="")
        await persons.add_face(
            "g", pid, ALICE, detection_model=face_async.DetectionModel.DETECTION_03
        )
    queries = [dict(url.query) for url in sent if url.path.endswith("/persistedfaces")]
    assert queries == [{}, {"userData": ""}, {"detectionModel": "detection_03"}]
    faces = emulator.state.person_groups["g"].persons[pid].faces.values()
    assert [face.detection_model for face in faces] == [
        "detection_01",
        "detection_01",
        "detection_03",
    ]
