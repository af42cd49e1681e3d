"""train / get_training_status / wait_for_training across the three trainable kinds."""

from __future__ import annotations

from typing import Any

import pytest

import face_async
from face_async.emulator import Emulator, make_face_image

JPEG = make_face_image("alice")


async def _fill(client: Any, attr: str) -> None:
    """Create the resource 'r' with one face in it."""
    if attr == "large_face_lists":
        await client.large_face_lists.create("r", name="R")
        await client.large_face_lists.add_face("r", JPEG)
        return
    await getattr(client, attr).create("r", name="R")
    persons = (
        client.person_group_persons
        if attr == "person_groups"
        else (client.large_person_group_persons)
    )
    person = await persons.create("r", name="Alice")
    await persons.add_face("r", person.person_id, JPEG)


TRAINABLE = ["person_groups", "large_person_groups", "large_face_lists"]


@pytest.mark.parametrize("attr", TRAINABLE)
async def test_train_and_wait_until_succeeded(client: Any, emulator: Emulator, attr: str) -> None:
    emulator.config.limits.training_seconds = 0.0
    await _fill(client, attr)
    resource = getattr(client, attr)
    await resource.train("r")
    status = await resource.wait_for_training("r", timeout=10, poll_interval=0.01)
    assert status.status == face_async.TrainingStatusType.SUCCEEDED
    assert status.created_date_time is not None
    again = await resource.get_training_status("r")
    assert again.status == face_async.TrainingStatusType.SUCCEEDED


@pytest.mark.parametrize(
    ("attr", "not_found"),
    [
        ("person_groups", face_async.PersonGroupNotFound),
        ("large_person_groups", face_async.LargePersonGroupNotFound),
        ("large_face_lists", face_async.LargeFaceListNotFound),
    ],
)
async def test_training_a_missing_resource_raises_not_found(
    client: Any, attr: str, not_found: type[face_async.APIError]
) -> None:
    resource = getattr(client, attr)
    with pytest.raises(not_found) as info:
        await resource.train("ghost")
    assert info.value.status == 404
    with pytest.raises(not_found):
        await resource.get_training_status("ghost")


@pytest.mark.parametrize("attr", ["person_groups", "large_person_groups"])
async def test_wait_raises_training_failed_with_the_service_message(
    client: Any, emulator: Emulator, attr: str
) -> None:
    emulator.config.limits.training_seconds = 0.0
    resource = getattr(client, attr)
    await resource.create("empty", name="Empty")
    await resource.train("empty")  # no persons: the service fails the training
    with pytest.raises(face_async.TrainingFailed) as info:
        await resource.wait_for_training("empty", timeout=10, poll_interval=0.01)
    assert "no person" in info.value.message


@pytest.mark.parametrize("attr", TRAINABLE)
async def test_wait_times_out(client: Any, emulator: Emulator, attr: str) -> None:
    await _fill(client, attr)
    emulator.config.limits.training_seconds = 3600.0
    resource = getattr(client, attr)
    await resource.train("r")
    with pytest.raises(face_async.TrainingTimeout) as info:
        await resource.wait_for_training("r", timeout=0.1, poll_interval=0.02)
    assert isinstance(info.value, TimeoutError)
    assert (await resource.get_training_status("r")).status in ("notstarted", "running")


async def test_wait_polls_with_growing_intervals(client: Any, emulator: Emulator) -> None:
    await _fill(client, "person_groups")
    emulator.config.limits.training_seconds = 3600.0
    await client.person_groups.train("r")
    with pytest.raises(face_async.TrainingTimeout):
        await client.person_groups.wait_for_training("r", timeout=0.6, poll_interval=0.04)
    polls = emulator.stats.requests["PersonGroup_GetTrainingStatus"]
    # Delays 0.04, 0.08, 0.16, 0.32 fill 0.6 s in about 5 polls; a fixed interval needs 15.
    assert 2 <= polls <= 6


async def test_wait_refuses_non_positive_bounds(client: Any, emulator: Emulator) -> None:
    for kwargs in ({"timeout": 0}, {"poll_interval": 0}, {"max_poll_interval": -1}):
        with pytest.raises(face_async.FaceValidationError):
            await client.person_groups.wait_for_training("g", **kwargs)
    assert emulator.stats.total_requests == 0
