"""Every one of the 69 operations, driven through the resource methods against the emulator:
each answered once with a 2xx and once with a documented error.

What counts is what the emulator saw: each step must add exactly one request of the named
operationId to ``emulator.stats.requests`` and exactly one response to ``stats.responses``;
the statuses are recorded per operationId and checked at the end.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Awaitable
from typing import Any

import pytest

import face_async
from face_async._http import _operations as o
from face_async._http._operations import ALL_OPERATIONS
from face_async._http._policy import RetryPolicy
from face_async.emulator import Emulator, make_face_image

ALICE = make_face_image("alice")
BOB = make_face_image("bob")
NOT_AN_IMAGE = b"plain text, not an image " * 100
URL = "https://img.example/alice.jpg"
MISSING_URL = "https://img.example/missing.jpg"
MISSING = "00000000-0000-4000-8000-000000000000"
SCOPE = ["35230f59-aa9c-45e0-ab5e-c859bf1a5429"]


class Recorder:
    """Awaits one call and records the status the emulator answered for its operationId."""

    def __init__(self, emulator: Emulator) -> None:
        self.stats = emulator.stats
        self.statuses: dict[str, set[int]] = defaultdict(set)

    async def __call__(
        self,
        operation_id: str,
        call: Awaitable[Any],
        error: type[face_async.FaceError] | None = None,
    ) -> Any:
        requests, responses = Counter(self.stats.requests), Counter(self.stats.responses)
        result = None
        if error is None:
            result = await call
        else:
            with pytest.raises(error):
                await call
        assert self.stats.requests - requests == Counter({operation_id: 1})
        [(status, count)] = (self.stats.responses - responses).items()
        assert count == 1
        assert (status < 300) is (error is None), (operation_id, status)
        self.statuses[operation_id].add(status)
        return result


async def test_every_operation_answers_a_2xx_and_a_documented_error(emulator: Emulator) -> None:
    emulator.config.limits.training_seconds = 0.0
    emulator.state.register_url_image(URL, ALICE)
    async with face_async.AsyncFaceClient(
        emulator.url, key=emulator.key, retry=RetryPolicy.never()
    ) as client:
        run = Recorder(emulator)
        face_ids = await _face(client, run)
        for large in (False, True):
            await _groups_and_persons(client, run, face_ids, large=large)
        await _face_lists(client, run)
        await _large_face_lists(client, run)
        await _snapshots(client, run, emulator)
        await _raw_bad_arguments(client, run)

    declared = {op.operation_id for op in ALL_OPERATIONS}
    assert len(declared) == 69
    missing_happy = sorted(i for i in declared if not any(s < 300 for s in run.statuses[i]))
    missing_error = sorted(i for i in declared if not any(s >= 400 for s in run.statuses[i]))
    assert (missing_happy, missing_error) == ([], [])


async def _face(client: Any, run: Recorder) -> tuple[str, str]:
    f = client.face
    [alice] = await run("Face_DetectWithStream", f.detect(ALICE))
    [alice_url] = await run("Face_DetectWithUrl", f.detect(URL))
    await run("Face_DetectWithUrl", f.detect(MISSING_URL), face_async.InvalidURL)
    [bob] = await run("Face_DetectWithStream", f.detect(BOB))
    a1, a2, b1 = alice.face_id, alice_url.face_id, bob.face_id
    await run("Face_VerifyFaceToFace", f.verify_face_to_face(a1, a2))
    await run("Face_VerifyFaceToFace", f.verify_face_to_face(a1, MISSING), face_async.FaceNotFound)
    await run("Face_FindSimilar", f.find_similar(a1, face_ids=[a2, b1]))
    await run(
        "Face_FindSimilar", f.find_similar(a1, face_list_id="ghost"), face_async.FaceListNotFound
    )
    await run("Face_Group", f.group([a1, a2, b1]))
    await run("Face_Group", f.group([a1, MISSING]), face_async.FaceNotFound)
    # Identify and VerifyFaceToPerson need a trained group: see _groups_and_persons.
    return a1, b1


async def _container(run: Recorder, kind: str, resource: Any, missing: type[Any], rid: str) -> None:
    """Create, Get, Update and List of one container kind (each with its error)."""
    await run(f"{kind}_Create", resource.create(rid, name="C"))
    await run(f"{kind}_Create", resource.create(rid, name="C"), face_async.Conflict)
    await run(f"{kind}_Get", resource.get(rid))
    await run(f"{kind}_Get", resource.get("ghost"), missing)
    await run(f"{kind}_Update", resource.update(rid, user_data="u"))
    await run(f"{kind}_Update", resource.update("ghost", name="x"), missing)
    await run(f"{kind}_List", resource.list())


async def _delete(run: Recorder, kind: str, resource: Any, missing: type[Any], rid: str) -> None:
    await run(f"{kind}_Delete", resource.delete(rid))
    await run(f"{kind}_Delete", resource.delete(rid), missing)


async def _groups_and_persons(
    client: Any, run: Recorder, face_ids: tuple[str, str], *, large: bool
) -> None:
    kind = "LargePersonGroup" if large else "PersonGroup"
    groups = client.large_person_groups if large else client.person_groups
    persons = client.large_person_group_persons if large else client.person_group_persons
    group_missing = face_async.LargePersonGroupNotFound if large else face_async.PersonGroupNotFound
    group_kw = "large_person_group_id" if large else "person_group_id"
    a1, b1 = face_ids

    await _container(run, kind, groups, group_missing, "g")

    p = f"{kind}Person"
    alice = await run(f"{p}_Create", persons.create("g", name="Alice"))
    await run(f"{p}_Create", persons.create("ghost", name="A"), group_missing)
    pid = alice.person_id
    await run(f"{p}_Get", persons.get("g", pid))
    await run(f"{p}_Get", persons.get("g", MISSING), face_async.PersonNotFound)
    await run(f"{p}_Update", persons.update("g", pid, user_data="u"))
    await run(f"{p}_Update", persons.update("g", MISSING, name="x"), face_async.PersonNotFound)
    await run(f"{p}_List", persons.list("g", top=10))
    await run(f"{p}_List", persons.list("ghost"), group_missing)
    face = await run(f"{p}_AddFaceFromStream", persons.add_face("g", pid, ALICE))
    await run(
        f"{p}_AddFaceFromStream", persons.add_face("g", MISSING, ALICE), face_async.PersonNotFound
    )
    await run(f"{p}_AddFaceFromUrl", persons.add_face("g", pid, URL))
    await run(f"{p}_AddFaceFromUrl", persons.add_face("g", pid, MISSING_URL), face_async.InvalidURL)
    fid = face.persisted_face_id
    await run(f"{p}_GetFace", persons.get_face("g", pid, fid))
    await run(f"{p}_GetFace", persons.get_face("g", pid, MISSING), face_async.PersistedFaceNotFound)
    await run(f"{p}_UpdateFace", persons.update_face("g", pid, fid, user_data="u"))
    await run(
        f"{p}_UpdateFace",
        persons.update_face("g", pid, MISSING, user_data="u"),
        face_async.PersistedFaceNotFound,
    )

    await run(f"{kind}_Train", groups.train("g"))
    await run(f"{kind}_Train", groups.train("ghost"), group_missing)
    await groups.wait_for_training("g", timeout=10, poll_interval=0.01)
    await run(f"{kind}_GetTrainingStatus", groups.get_training_status("g"))
    await run(f"{kind}_GetTrainingStatus", groups.get_training_status("ghost"), group_missing)
    f = client.face
    await run("Face_Identify", f.identify([a1, b1], **{group_kw: "g"}))
    await run("Face_Identify", f.identify([a1], **{group_kw: "ghost"}), group_missing)
    await run("Face_VerifyFaceToPerson", f.verify_face_to_person(a1, pid, **{group_kw: "g"}))
    await run(
        "Face_VerifyFaceToPerson",
        f.verify_face_to_person(a1, MISSING, **{group_kw: "g"}),
        face_async.PersonNotFound,
    )

    await run(f"{p}_DeleteFace", persons.delete_face("g", pid, fid))
    await run(
        f"{p}_DeleteFace", persons.delete_face("g", pid, fid), face_async.PersistedFaceNotFound
    )
    await run(f"{p}_Delete", persons.delete("g", pid))
    await run(f"{p}_Delete", persons.delete("g", pid), face_async.PersonNotFound)
    await _delete(run, kind, groups, group_missing, "g")


async def _face_lists(client: Any, run: Recorder) -> None:
    lists, missing = client.face_lists, face_async.FaceListNotFound
    await _container(run, "FaceList", lists, missing, "l")
    face = await run("FaceList_AddFaceFromStream", lists.add_face("l", ALICE))
    await run("FaceList_AddFaceFromStream", lists.add_face("ghost", ALICE), missing)
    await run("FaceList_AddFaceFromUrl", lists.add_face("l", URL))
    await run("FaceList_AddFaceFromUrl", lists.add_face("ghost", URL), missing)
    fid = face.persisted_face_id
    await run("FaceList_DeleteFace", lists.delete_face("l", fid))
    await run("FaceList_DeleteFace", lists.delete_face("l", fid), face_async.PersistedFaceNotFound)
    await _delete(run, "FaceList", lists, missing, "l")


async def _large_face_lists(client: Any, run: Recorder) -> None:
    lists, missing = client.large_face_lists, face_async.LargeFaceListNotFound
    k = "LargeFaceList"
    await _container(run, k, lists, missing, "l")
    face = await run(f"{k}_AddFaceFromStream", lists.add_face("l", ALICE))
    await run(f"{k}_AddFaceFromStream", lists.add_face("ghost", ALICE), missing)
    await run(f"{k}_AddFaceFromUrl", lists.add_face("l", URL))
    await run(f"{k}_AddFaceFromUrl", lists.add_face("ghost", URL), missing)
    fid = face.persisted_face_id
    await run(f"{k}_GetFace", lists.get_face("l", fid))
    await run(f"{k}_GetFace", lists.get_face("l", MISSING), face_async.PersistedFaceNotFound)
    await run(f"{k}_UpdateFace", lists.update_face("l", fid, user_data="u"))
    await run(
        f"{k}_UpdateFace",
        lists.update_face("l", MISSING, user_data="u"),
        face_async.PersistedFaceNotFound,
    )
    await run(f"{k}_ListFaces", lists.list_faces("l", top=10))
    await run(f"{k}_ListFaces", lists.list_faces("ghost"), missing)
    await run(f"{k}_Train", lists.train("l"))
    await run(f"{k}_Train", lists.train("ghost"), missing)
    await lists.wait_for_training("l", timeout=10, poll_interval=0.01)
    await run(f"{k}_GetTrainingStatus", lists.get_training_status("l"))
    await run(f"{k}_GetTrainingStatus", lists.get_training_status("ghost"), missing)
    await run(f"{k}_DeleteFace", lists.delete_face("l", fid))
    await run(f"{k}_DeleteFace", lists.delete_face("l", fid), face_async.PersistedFaceNotFound)
    await _delete(run, k, lists, missing, "l")


async def _snapshots(client: Any, run: Recorder, emulator: Emulator) -> None:
    s = client.snapshots
    await client.person_groups.create("src", name="Source")
    take = await run("Snapshot_Take", s.take("PersonGroup", "src", SCOPE))
    await run("Snapshot_Take", s.take("PersonGroup", "ghost", SCOPE), face_async.NotFound)
    emulator.clock.advance(5)  # the operation's emulated duration passes at once
    status = await run("Snapshot_GetOperationStatus", s.get_operation_status(take))
    await run(
        "Snapshot_GetOperationStatus",
        s.get_operation_status(MISSING),
        face_async.OperationNotFound,
    )
    snapshot_id = status.resource_location.rsplit("/", 1)[-1]
    await run("Snapshot_Get", s.get(snapshot_id))
    await run("Snapshot_Get", s.get(MISSING), face_async.SnapshotNotFound)
    await run("Snapshot_List", s.list())
    await run("Snapshot_Update", s.update(snapshot_id, user_data="u"))
    await run("Snapshot_Update", s.update(MISSING, user_data="u"), face_async.SnapshotNotFound)
    await run("Snapshot_Apply", s.apply(snapshot_id, "copy"))
    await run("Snapshot_Apply", s.apply(MISSING, "copy"), face_async.SnapshotNotFound)
    await run("Snapshot_Delete", s.delete(snapshot_id))
    await run("Snapshot_Delete", s.delete(snapshot_id), face_async.SnapshotNotFound)


async def _raw_bad_arguments(client: Any, run: Recorder) -> None:
    """What the client refuses before sending (an image that is not one; a bad ``top`` on the
    top-level lists, which have no missing container to address), sent raw through the
    transport: the service's documented 400s."""
    call = client.transport.call
    endpoint = client.endpoint
    await run(
        "Face_DetectWithStream",
        call(endpoint, o.FACE_DETECT_WITH_STREAM, data=NOT_AN_IMAGE),
        face_async.InvalidImage,
    )
    for op, query in [
        (o.PERSON_GROUP_LIST, {"top": "0"}),
        (o.LARGE_PERSON_GROUP_LIST, {"top": "0"}),
        (o.LARGE_FACE_LIST_LIST, {"top": "1001"}),
        (o.FACE_LIST_LIST, {"returnRecognitionModel": "perhaps"}),
        (o.SNAPSHOT_LIST, {"type": "Folder"}),
    ]:
        await run(op.operation_id, call(endpoint, op, query=query), face_async.BadRequest)
