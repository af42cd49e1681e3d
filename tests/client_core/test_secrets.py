"""The subscription key never shows: not in logs (any level), reprs, or exception texts."""

from __future__ import annotations

import logging
import traceback

import pytest

from face_async._client import AsyncFaceClient
from face_async._errors import (
    AuthenticationError,
    FaceError,
    OutcomeUnknownError,
    PersonGroupNotFound,
)
from face_async._http._operations import Operation
from face_async._http._policy import RetryPolicy
from face_async.emulator import Emulator, Fault, make_face_image

KEY = "S3CR3T-subscription-key-0123456789abcdef"
GET_GROUP = Operation("PersonGroup_Get", "GET", "/persongroups/{personGroupId}", True)


def _texts_of(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for name in ("cause", "__cause__", "__context__"):
        inner = getattr(exc, name, None)
        if isinstance(inner, BaseException):
            texts += [str(inner), repr(inner)]
    return texts


async def test_key_never_leaks_over_a_whole_workflow(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # root: face_async, aiohttp, asyncio, backoff, everything
    for name in ("face_async", "aiohttp", "aiohttp.client", "backoff", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    texts: list[str] = []
    errors: list[BaseException] = []
    retry = RetryPolicy(max_tries=3, initial_delay=0.01, max_delay=0.02)
    async with Emulator(key=KEY) as emu:
        async with AsyncFaceClient(emu.url, key=KEY, retry=retry) as client:
            view = client.with_endpoint(f"http://localhost:{emu.port}", key=KEY)
            texts += [repr(client), repr(view), repr(client.endpoint), repr(view.endpoint)]
            texts += [repr(client.transport), repr(client.stats), repr(client.endpoint.gate)]
            texts += [repr(client.retry_policy), repr(client.person_groups), repr(client.face)]
            texts += [repr(vars(client)), repr(vars(view))]

            await client.person_groups.create("team", name="Team")
            person = await client.person_group_persons.create("team", name="Ada")
            image = make_face_image("ada")
            # A retried read (503) and a rate-limited call (429) are logged.
            emu.config.faults = [
                Fault("503", operations="PersonGroup_Get", count=1),
                Fault("429", operations="PersonGroupPerson_Get", count=1),
            ]
            texts.append(repr(await view.person_groups.get("team")))
            texts.append(repr(await client.person_group_persons.get("team", person.person_id)))
            # An ambiguous write.
            emu.config.faults = [Fault("reset_after_commit", operations="*AddFace*", count=1)]
            with pytest.raises(OutcomeUnknownError) as unknown:
                await client.person_group_persons.add_face("team", person.person_id, image)
            errors.append(unknown.value)
            emu.config.faults = []
            face = await client.person_group_persons.add_face("team", person.person_id, image)
            texts.append(repr(face))
            await client.person_groups.train("team")
            detected = await client.face.detect(image)
            texts.append(repr(detected))
            with pytest.raises(PersonGroupNotFound) as missing:
                await client.person_groups.get("nobody")
            errors.append(missing.value)
            wrong = client.with_endpoint(emu.url, key=KEY[::-1])
            with pytest.raises(AuthenticationError) as denied:
                await wrong.transport.call(wrong.endpoint, GET_GROUP, ("team",))
            errors.append(denied.value)
            texts.append(repr(wrong))
        with pytest.raises(FaceError) as closed:
            await client.person_groups.get("team")
        errors.append(closed.value)
    assert client.stats.retries >= 2
    assert client.stats.rate_limited == 1

    for error in errors:
        texts += _texts_of(error)
    records = caplog.records
    assert any(r.name == "face_async" and r.levelno == logging.DEBUG for r in records)
    assert any(r.getMessage().startswith("retrying") for r in records)
    for record in records:
        texts.append(record.getMessage())
        texts.append(logging.Formatter().format(record))
        texts.append(repr(record.args))
    leaked = [text for text in texts if KEY in text]
    assert leaked == []
    assert KEY[:12] not in caplog.text
