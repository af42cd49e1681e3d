"""The emulator against recorded traffic of the live Face API v1.0.

Each recorded request (tests/fixtures/recordings/) is replayed against an in-process emulator
after the state it refers to has been built through the API (groups, persons, faces, trained
models, snapshots, operations in the recorded status; images are generated with
``make_face_image``). The emulator must answer with the recorded status, the same JSON shape
(keys, nesting, JSON types), the same enum spellings, the same error codes and messages, and
the same Operation-Location / Retry-After / Content-Type headers.

Pairs the emulator does not reproduce on purpose are in ``KEPT_DIFFERENCES`` with the reason
(and in docs/conformance.md); each is still compared after a named relaxation, and a kept pair
that the emulator starts to reproduce exactly fails, so the list stays exact.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
import attrs
import pytest
from recordings import Recording, ids, load_recordings

from face_async.emulator import Emulator, Fault, make_face_image

RECORDINGS = load_recordings()
API = "/face/v1.0"
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
CONTAINERS = ("persongroups", "largepersongroups", "facelists", "largefacelists")
SNAPSHOT_COLLECTIONS = {
    "PersonGroup": "persongroups",
    "LargePersonGroup": "largepersongroups",
    "FaceList": "facelists",
    "LargeFaceList": "largefacelists",
}
# Microsoft's recorder blanked the subscription ids of applyScope; any UUID stands in.
STANDIN_SCOPE = "3f2c6f0e-5b1a-4c55-9d1e-7a0b2c3d4e5f"
# Keys whose value is an enum: the emulator's value may differ (it depends on the image), its
# spelling may not (same casing pattern; the same value in any casing must be identical).
ENUM_KEYS = frozenset(
    {"glasses", "blurLevel", "exposureLevel", "noiseLevel", "qualityForRecognition", "type",
     "gender", "color", "recognitionModel"}
)  # fmt: skip
# Keys whose value must be identical: the replay puts the emulator in the recorded state.
EXACT_KEYS = frozenset({"status", "code"})
# Lists whose emptiness depends on the photo (accessories worn, hair visible).
PHOTO_LISTS = frozenset({"accessories", "hairColor"})
NOT_FOUND_CODES = {
    "persongroups": "PersonGroupNotFound",
    "largepersongroups": "LargePersonGroupNotFound",
    "facelists": "FaceListNotFound",
    "largefacelists": "LargeFaceListNotFound",
}
STATE_SECONDS = 100.0  # training / snapshot operations: notStarted 0-20 s, running 20-100 s


# ---------------------------------------------------------------------------- comparison


def _casing(text: str) -> str:
    if text.islower() or not any(c.isalpha() for c in text):
        return "lower"
    return "Pascal" if text[0].isupper() else "camel"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def shape_differences(got: Any, want: Any, where: str = "$", key: str = "") -> list[str]:
    """How ``got`` differs from ``want`` in keys, nesting, JSON types and enum spellings."""
    if _json_type(got) != _json_type(want):
        return [f"{where}: {_json_type(got)} where the service sent {_json_type(want)}"]
    if isinstance(want, dict):
        found = []
        if set(got) != set(want):
            extra, missing = sorted(set(got) - set(want)), sorted(set(want) - set(got))
            found.append(f"{where}: keys +{extra} -{missing}")
        for name in sorted(set(got) & set(want)):
            found += shape_differences(got[name], want[name], f"{where}.{name}", name)
        return found
    if isinstance(want, list):
        if want and not got and key not in PHOTO_LISTS:
            return [f"{where}: empty where the service sent {len(want)} items"]
        if want:
            return [d for i, item in enumerate(got)
                    for d in shape_differences(item, want[0], f"{where}[{i}]", key)]  # fmt: skip
        return []
    if isinstance(want, str):
        if key in EXACT_KEYS and got != want:
            return [f"{where}: {got!r} where the service sent {want!r}"]
        if key in ENUM_KEYS and (
            _casing(got) != _casing(want) or (got.lower() == want.lower() and got != want)
        ):
            return [f"{where}: spelled {got!r} where the service spelled {want!r}"]
        if key == "resourceLocation" and UUID.sub("U", got) != UUID.sub("U", want):
            return [f"{where}: {got!r} where the service sent {want!r}"]
        if key == "message" and re.sub(r"\d+", "N", got) != re.sub(r"\d+", "N", want):
            return [f"{where}: worded {got!r} where the service wrote {want!r}"]
    return []


@attrs.frozen
class Answer:
    status: int
    headers: Mapping[str, str]
    body: str


def answer_differences(
    rec: Recording, got: Answer, relax: Callable[[Any], Any] | None
) -> list[str]:
    """Every difference between the emulator's answer and the recorded one."""
    found = []
    if got.status != rec.response.status:
        found.append(f"status {got.status} where the service answered {rec.response.status}")
    for name in ("Content-Type", "Retry-After", "Operation-Location"):
        want, have = rec.response.header(name), got.headers.get(name)
        if (want is None) != (have is None):
            found.append(f"header {name}: {have!r} where the service sent {want!r}")
        elif name == "Content-Type" and want is not None and have is not None:
            if want.replace(" ", "").lower() != have.replace(" ", "").lower():
                found.append(f"header {name}: {have!r} where the service sent {want!r}")
        elif (
            name == "Operation-Location"
            and want is not None
            and have is not None
            and (
                want.endswith("/training") != have.endswith("/training")
                or (
                    want.startswith("/operations/")
                    and not re.fullmatch(rf"/operations/{UUID.pattern}", have)
                )
            )
        ):
            found.append(f"header {name}: {have!r} where the service sent {want!r}")
    if not rec.response.body or not got.body:
        if rec.response.body != got.body:
            found.append(
                f"body {got.body[:80]!r} where the service sent {rec.response.body[:80]!r}"
            )
        return found
    want_body, got_body = rec.response.json(), json.loads(got.body)
    if relax is not None:
        want_body, got_body = relax(want_body), relax(got_body)
    return found + shape_differences(got_body, want_body)


# ---------------------------------------------------------------------------- kept differences


def _operation_status_2019(body: Any) -> Any:
    # Compare what both service versions share: keys in any casing, without message and
    # finishedTime, and resourceLocation only once the operation has succeeded.
    folded = {k[0].lower() + k[1:]: v for k, v in body.items()}
    folded.pop("message", None)
    folded.pop("finishedTime", None)
    if folded.get("status") != "succeeded":
        folded.pop("resourceLocation", None)
    return folded


def _without_message(body: Any) -> Any:
    return {"error": {k: v for k, v in body["error"].items() if k != "message"}}


@attrs.frozen
class Kept:
    """A recorded pair the emulator does not reproduce on purpose, and how it is compared."""

    reason: str
    relax: Callable[[Any], Any]


_OPERATION_STATUS_2019 = Kept(
    "recorded in 2019: the service then always sent message and a null resourceLocation (the "
    ".NET recordings also in PascalCase keys); the emulator answers in the service's current "
    "form (2021 recordings): finishedTime once done, message only on failure, a take's "
    "resourceLocation '/snapshots/' until it has succeeded",
    _operation_status_2019,
)
_NOT_FOUND_2021 = Kept(
    "the 2021 service words a 404 'Person group is not found. (Parameter 'personGroupId')'; the "
    "emulator keeps the .NET Framework wording of the 2019 recordings "
    "('Person group is not found.\\r\\nParameter name: personGroupId'), one form for all 404s",
    _without_message,
)
_NET_2019_STATUS = "004 005 006 008 009 021 022 024 025 058 059 061 062 075 076 078 079"
_PYTHON_2019_STATUS = "005 007 009 010 011"
KEPT_DIFFERENCES: dict[str, Kept] = {
    **{
        f"net-face-sessionrecords/{number}_Snapshot_GetOperationStatus": _OPERATION_STATUS_2019
        for number in _NET_2019_STATUS.split()
    },
    **{
        f"python-vision-face/{number}_Snapshot_GetOperationStatus": _OPERATION_STATUS_2019
        for number in _PYTHON_2019_STATUS.split()
    },
    "python-vision-face/015_PersonGroup_Delete": _NOT_FOUND_2021,
}


# ---------------------------------------------------------------------------- the replay


class Replay:
    """Builds, through the emulator's API, the state one recorded request refers to."""

    def __init__(self, session: aiohttp.ClientSession, emulator: Emulator) -> None:
        self.session = session
        self.emulator = emulator
        self.ids: dict[str, str] = {}  # recorded server-issued id -> the emulator's
        # The error code the recorded request met (e.g. "PersonNotFound"): what it names must
        # then not be built.
        self.absent = ""

    async def call(
        self,
        method: str,
        path: str,
        *,
        json_body: object = None,
        image: bytes | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Answer:
        url = path if path.startswith("http") else self.emulator.url + path
        kwargs: dict[str, Any] = {"params": dict(query) if query else None}
        if image is not None:
            kwargs |= {"data": image, "headers": {"Content-Type": "application/octet-stream"}}
        elif json_body is not None:
            kwargs["json"] = json_body
        async with self.session.request(method, url, **kwargs) as response:
            return Answer(response.status, response.headers, await response.text())

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = await self.call(method, API + path, **kwargs)
        assert answer.status in (200, 202), (method, path, answer)
        return json.loads(answer.body) if answer.body else answer.headers

    # -------------------------------------------------------------- building blocks

    async def container(self, coll: str, cid: str, shown: Mapping[str, Any] | None = None) -> None:
        if self.absent == NOT_FOUND_CODES[coll]:
            return
        body: dict[str, Any] = {"name": (shown or {}).get("name") or cid}
        if shown and shown.get("userData") is not None:
            body["userData"] = shown["userData"]
        await self.ok("PUT", f"/{coll}/{cid}", json_body=body)

    async def add_face(
        self, path: str, recorded_id: str | None = None, identity: str = "a"
    ) -> None:
        if recorded_id is not None and self.absent == "PersistedFaceNotFound":
            return
        added = await self.ok("POST", f"{path}/persistedfaces", image=make_face_image(identity))
        if recorded_id is not None:
            self.ids[recorded_id] = added["persistedFaceId"]

    async def person(self, coll: str, cid: str, recorded_id: str, shown: Any = None) -> str:
        if self.absent == "PersonNotFound":
            return recorded_id
        body = {k: v for k, v in (shown or {"name": "p"}).items() if k in ("name", "userData")}
        created = await self.ok("POST", f"/{coll}/{cid}/persons", json_body=body)
        self.ids[recorded_id] = live = created["personId"]
        for face_id in (shown or {}).get("persistedFaceIds", [None]):
            await self.add_face(f"/{coll}/{cid}/persons/{live}", face_id)
        return str(live)

    async def face_id(self, recorded_id: str, identity: str = "a") -> None:
        if self.absent == "FaceNotFound":
            return
        (face,) = await self.ok("POST", "/detect", image=make_face_image(identity))
        self.ids[recorded_id] = face["faceId"]

    async def train(self, collection_path: str) -> None:
        """Train and let the training succeed (unless the recording met an untrained one)."""
        if not self.absent.endswith("NotTrained"):
            await self.ok("POST", f"{collection_path}/train")
            self.advance_to("succeeded")

    def advance_to(self, status: str) -> None:
        """Move the clock so a training or operation queued now is in ``status``."""
        if status in ("running",):
            self.emulator.clock.advance(STATE_SECONDS / 2)
        elif status in ("succeeded", "failed"):
            self.emulator.clock.advance(STATE_SECONDS * 2)
            self.emulator.state.settle()

    # -------------------------------------------------------------- what a request refers to

    async def prepare(self, rec: Recording) -> None:
        error = rec.response.json() if rec.response.status >= 400 else None
        outer, self.absent = self.absent, str((error or {}).get("error", {}).get("code", ""))
        try:
            await self._prepare(rec)
        finally:
            self.absent = outer

    async def _prepare(self, rec: Recording) -> None:
        seg = rec.request.path.split("/")[3:]
        body = rec.request.body if isinstance(rec.request.body, dict) else {}
        shown = rec.response.json() if rec.response.status == 200 else None
        if seg[0] in CONTAINERS:
            await self._prepare_container(rec, seg, shown)
        elif seg[0] == "identify":
            coll, cid = _group_of(body)
            await self.container(coll, cid)
            for result in shown or []:
                for candidate in result["candidates"]:
                    await self.person(coll, cid, candidate["personId"])
            await self.train(f"/{coll}/{cid}")
            for face in body["faceIds"]:
                await self.face_id(face)
        elif seg[0] == "verify":
            for key in ("faceId", "faceId1", "faceId2"):
                if key in body:
                    await self.face_id(body[key])
            if "personId" in body:
                coll, cid = _group_of(body)
                await self.container(coll, cid)
                await self.person(coll, cid, body["personId"])
        elif seg[0] == "findsimilars":
            await self._prepare_find_similar(body, shown)
        elif seg[0] == "snapshots":
            await self._prepare_snapshot(rec, seg, body)
        elif seg[0] == "operations":
            await self._prepare_operation(rec, seg[1])

    async def _prepare_container(self, rec: Recording, seg: list[str], shown: Any) -> None:
        coll, cid = seg[0], seg[1]
        if rec.operation_id.endswith(("Group_Create", "List_Create")):
            return
        await self.container(coll, cid, shown if len(seg) == 2 else None)
        one = f"/{coll}/{cid}"
        if len(seg) == 2:
            for face in (shown or {}).get("persistedFaces", []):
                await self.add_face(one, face["persistedFaceId"])
        elif seg[2:] in (["train"], ["training"]):
            if coll.endswith("persongroups"):
                await self.person(coll, cid, "someone")
            else:
                await self.add_face(one)
            if seg[2] == "training" and shown is not None:
                await self.ok("POST", f"{one}/train")
                self.advance_to(shown["status"])
        elif seg[2] == "persons" and len(seg) >= 4:
            await self.person(coll, cid, seg[3], shown if len(seg) == 4 else None)
            if len(seg) == 6:
                live = self.ids[seg[3]]
                await self.add_face(f"{one}/persons/{live}", seg[5])
        elif seg[2:] == ["persistedfaces"] and rec.request.method == "GET":
            for face in shown:
                await self.add_face(one, face["persistedFaceId"])

    async def _prepare_find_similar(self, body: Mapping[str, Any], shown: Any) -> None:
        await self.face_id(body["faceId"])
        for face in body.get("faceIds") or []:
            await self.face_id(face)
        for key, coll in (("faceListId", "facelists"), ("largeFaceListId", "largefacelists")):
            if body.get(key):
                await self.container(coll, body[key])
                for _ in shown or [None]:
                    await self.add_face(f"/{coll}/{body[key]}")
                if coll == "largefacelists":
                    await self.train(f"/{coll}/{body[key]}")

    async def _prepare_snapshot(self, rec: Recording, seg: list[str], body: Any) -> None:
        if len(seg) == 1:  # take: the object to copy
            await self.container(SNAPSHOT_COLLECTIONS[body["type"]], body["objectId"])
        else:
            await self.snapshot(rec, seg[1])

    async def snapshot(self, rec: Recording, recorded_id: str) -> None:
        """A snapshot standing for ``recorded_id``, taken as the recording's flow took it."""
        if self.absent == "SnapshotNotFound":
            return
        status = _recorded_in(rec, lambda r: _location(r) == f"/snapshots/{recorded_id}")
        take = _creator_of(rec, _path_id(status))
        await self.prepare(take)
        location = (await self.replay_request(take)).headers["Operation-Location"]
        self.advance_to("succeeded")
        done = await self.ok("GET", location)
        self.ids[recorded_id] = done["resourceLocation"].rpartition("/")[2]

    async def _prepare_operation(self, rec: Recording, recorded_id: str) -> None:
        if self.absent == "OperationNotFound":
            return
        creator = _creator_of(rec, recorded_id)
        await self.prepare(creator)
        answer = await self.replay_request(creator)
        self.ids[recorded_id] = answer.headers["Operation-Location"].rpartition("/")[2]
        if rec.response.status == 200:
            status = rec.response.json()
            self.advance_to(status.get("status") or status["Status"])

    # -------------------------------------------------------------- the request itself

    def live(self, value: Any) -> Any:
        """``value`` with the recorded server-issued ids replaced by the emulator's."""
        if isinstance(value, str):
            return UUID.sub(lambda m: self.ids.get(m.group(0), m.group(0)), value)
        if isinstance(value, list):
            return [self.live(v) for v in value]
        if isinstance(value, dict):
            return {k: self.live(v) for k, v in value.items()}
        return value

    async def replay_request(self, rec: Recording) -> Answer:
        request = rec.request
        body = self.live(request.body)
        if isinstance(body, dict) and "applyScope" in body:
            body["applyScope"] = [s or STANDIN_SCOPE for s in body["applyScope"]]
        image = None
        if request.is_binary:
            shown = rec.response.json() if rec.response.status == 200 else None
            faces = len(shown) if isinstance(shown, list) else 1
            image = make_face_image("a", faces=faces)
            body = None
        return await self.call(
            request.method, self.live(request.path), json_body=body, image=image,
            query=request.query,
        )  # fmt: skip


def _group_of(body: Mapping[str, Any]) -> tuple[str, str]:
    if body.get("largePersonGroupId"):
        return "largepersongroups", str(body["largePersonGroupId"])
    return "persongroups", str(body["personGroupId"])


def _location(rec: Recording) -> object:
    body = rec.response.json()
    if not isinstance(body, dict):
        return None
    return body.get("resourceLocation", body.get("ResourceLocation"))


def _path_id(rec: Recording) -> str:
    return rec.request.path.rpartition("/")[2]


def _recorded_in(rec: Recording, wanted: Callable[[Recording], bool]) -> Recording:
    """The pair of ``rec``'s recording file (same source) that ``wanted`` picks."""
    for other in RECORDINGS:
        same_file = (other.source.path, other.source.commit) == (rec.source.path, rec.source.commit)
        if same_file and other.response.status == 200 and other.response.body and wanted(other):
            return other
    raise LookupError(f"{rec.name}: no pair of its recording file fits")


def _creator_of(rec: Recording, operation_id: str) -> Recording:
    """The take or apply of ``rec``'s recording file that started ``operation_id``."""
    for other in RECORDINGS:
        location = other.response.header("Operation-Location") or ""
        if other.source.path == rec.source.path and location.endswith(f"/{operation_id}"):
            return other
    raise LookupError(f"{rec.name}: no take or apply started operation {operation_id}")


@pytest.fixture
async def replay(emulator: Emulator) -> AsyncIterator[Replay]:
    emulator.config.limits.training_seconds = STATE_SECONDS
    emulator.config.limits.snapshot_seconds = STATE_SECONDS
    headers = {"Ocp-Apim-Subscription-Key": emulator.key}
    async with aiohttp.ClientSession(headers=headers) as session:
        yield Replay(session, emulator)


@pytest.mark.parametrize("rec", RECORDINGS, ids=ids(RECORDINGS))
async def test_the_emulator_answers_as_the_service_did(
    rec: Recording, replay: Replay, emulator: Emulator
) -> None:
    await replay.prepare(rec)
    if rec.response.status == 429:
        recorded = rec.response.json()["error"]
        emulator.config.rate_limit_form = "gateway" if "code" in recorded else "status"
        emulator.config.faults = [Fault("429", operations=rec.operation_id, count=1)]
    answer = await replay.replay_request(rec)
    kept = KEPT_DIFFERENCES.get(rec.name)
    differences = answer_differences(rec, answer, None)
    if kept is None:
        assert differences == [], f"{rec.name} ({rec.source.path}): {answer.body[:300]}"
    else:
        assert differences, f"{rec.name} is reproduced now: remove it from KEPT_DIFFERENCES"
        assert answer_differences(rec, answer, kept.relax) == [], rec.name


def test_kept_differences_name_recorded_pairs() -> None:
    assert set(KEPT_DIFFERENCES) <= {rec.name for rec in RECORDINGS}
    assert all(kept.reason for kept in KEPT_DIFFERENCES.values())


def test_the_comparison_sees_what_it_must() -> None:
    recorded = {"status": "notStarted", "blur": {"blurLevel": "low"}, "n": 1, "l": [{"a": 1}]}
    assert shape_differences(recorded, recorded) == []
    assert shape_differences({**recorded, "status": "notstarted"}, recorded)
    assert shape_differences({**recorded, "blur": {"blurLevel": "Low"}}, recorded)
    assert shape_differences({**recorded, "blur": {"blurLevel": "high"}}, recorded) == []
    assert shape_differences({**recorded, "n": "1"}, recorded)
    assert shape_differences({**recorded, "l": []}, recorded)
    assert shape_differences({**recorded, "extra": None}, recorded)
