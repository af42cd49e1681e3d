"""The emulator's in-memory model of a Face resource.

Plain attrs records that tests read directly, e.g.
``state.person_groups["g"].persons[person_id].faces[persisted_face_id].user_data``.
Training and snapshot operations progress lazily: their status is computed from the clock
whenever it is read, so nothing runs in the background.
"""

from __future__ import annotations

import base64
import copy
import uuid
from collections import deque
from typing import Any, Generic, Literal, TypeVar

import attrs

from ._clock import Clock
from ._images import FaceRect

__all__ = [
    "DetectedFaceRecord",
    "EmulatorState",
    "FaceListRecord",
    "IdTable",
    "OperationRecord",
    "PersistedFaceRecord",
    "PersonGroupRecord",
    "PersonRecord",
    "SnapshotRecord",
    "TrainingRecord",
    "new_id",
]

TrainingStatusValue = Literal["notstarted", "running", "succeeded", "failed"]

_V = TypeVar("_V")


class IdTable(dict[str, _V], Generic[_V]):
    """A dict of records by id that also keeps its ids in order, for the paged list calls.

    The order is worked out when a list call first asks for it after a change and kept until
    the next change, so paging through a million persons costs a bisect per page, not a sort.
    Ids added meanwhile are merged into the kept order (a sorted run and a short one: linear);
    any other change (delete, clear, update) drops it. Iteration stays in insertion order.
    """

    __slots__ = ("_added", "_ordered")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ordered: list[str] | None = None
        self._added: list[str] = []

    def ordered(self) -> list[str]:
        """The ids in ascending order (do not modify the list)."""
        if self._ordered is None:
            self._ordered = sorted(self)
            self._added = []
        elif self._added:
            self._ordered += self._added
            self._ordered.sort()
            self._added = []
        return self._ordered

    def _changed(self) -> None:
        self._ordered = None
        self._added = []

    def __setitem__(self, key: str, value: _V) -> None:
        if self._ordered is not None and key not in self:
            self._added.append(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed()

    def pop(self, key: str, *default: Any) -> Any:
        self._changed()
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, _V]:
        self._changed()
        return super().popitem()

    def clear(self) -> None:
        self._changed()
        super().clear()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._changed()
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._changed()
        super().update(*args, **kwargs)

    def __ior__(self, other: Any) -> IdTable[_V]:  # type: ignore[override,misc]
        self._changed()
        super().__ior__(other)
        return self

    def __reduce__(self) -> tuple[type[IdTable[_V]], tuple[dict[str, _V]]]:
        # copy/deepcopy/pickle rebuild it through __init__ (the kept order is not copied).
        return type(self), (dict(self),)


def new_id() -> str:
    """A fresh lowercase UUID, as the service issues for persons, faces and faceIds."""
    return str(uuid.uuid4())


@attrs.define(eq=False)
class PersistedFaceRecord:
    """A face stored in a person or a face list."""

    persisted_face_id: str
    identity: str
    fingerprint: str  # of the image bytes it came from
    rect: FaceRect
    user_data: str | None = None
    detection_model: str = "detection_01"


@attrs.define(eq=False)
class PersonRecord:
    """A person in a (large) person group; ``faces`` keeps insertion order."""

    person_id: str
    name: str | None
    user_data: str | None = None
    faces: dict[str, PersistedFaceRecord] = attrs.Factory(dict)


@attrs.define(eq=False)
class TrainingRecord:
    """One training request: queued at ``created``, running from ``started``, done at ``ends``.

    ``model`` is what identify/find-similar use once the training has succeeded: identity ->
    person ids (groups) or persisted face ids (large face lists), captured when it was queued.
    """

    created: float
    started: float
    ends: float
    model: dict[str, list[str]]
    failure: str | None = None
    last_success: float | None = None
    previous_model: dict[str, list[str]] | None = None
    training_id: str = attrs.Factory(lambda: new_id())
    last_success_id: str | None = None

    def status(self, now: float) -> TrainingStatusValue:
        if now < self.started:
            return "notstarted"
        if now < self.ends:
            return "running"
        return "failed" if self.failure is not None else "succeeded"

    def last_action(self, now: float) -> float:
        if now < self.started:
            return self.created
        return self.started if now < self.ends else self.ends

    def successful_at(self, now: float) -> float | None:
        """When the newest successful training finished, as seen at ``now``."""
        if self.status(now) == "succeeded":
            return self.ends
        return self.last_success

    def successful_id_at(self, now: float) -> str | None:
        """The id of the newest successful training, as seen at ``now``."""
        if self.status(now) == "succeeded":
            return self.training_id
        return self.last_success_id

    def usable_model(self, now: float) -> dict[str, list[str]] | None:
        """The model identify can use now (the previous one while a retraining runs)."""
        if self.status(now) == "succeeded":
            return self.model
        return self.previous_model


@attrs.define(eq=False)
class PersonGroupRecord:
    """A PersonGroup (``large=False``) or LargePersonGroup (``large=True``)."""

    group_id: str
    name: str
    large: bool
    user_data: str | None = None
    recognition_model: str = "recognition_01"
    persons: IdTable[PersonRecord] = attrs.Factory(IdTable)
    training: TrainingRecord | None = None

    def is_training(self, now: float) -> bool:
        return self.training is not None and self.training.status(now) in (
            "notstarted",
            "running",
        )


@attrs.define(eq=False)
class FaceListRecord:
    """A FaceList (``large=False``) or LargeFaceList (``large=True``)."""

    face_list_id: str
    name: str
    large: bool
    user_data: str | None = None
    recognition_model: str = "recognition_01"
    faces: IdTable[PersistedFaceRecord] = attrs.Factory(IdTable)
    training: TrainingRecord | None = None


@attrs.define(eq=False)
class DetectedFaceRecord:
    """A faceId issued by detect; valid until ``expires``."""

    face_id: str
    identity: str
    recognition_model: str
    expires: float
    rect: FaceRect


SnapshotType = Literal["FaceList", "LargeFaceList", "LargePersonGroup", "PersonGroup"]


@attrs.define(eq=False)
class SnapshotRecord:
    """A snapshot; ``payload`` is a deep copy of the object taken."""

    snapshot_id: str
    type: SnapshotType
    object_id: str
    apply_scope: list[str]
    user_data: str | None
    created: float
    last_update: float
    expires: float
    payload: PersonGroupRecord | FaceListRecord


@attrs.define(eq=False)
class OperationRecord:
    """A snapshot take/apply or v1.2 training operation (``Operation-Location``)."""

    operation_id: str
    kind: Literal["take", "apply", "train"]
    created: float
    ends: float
    resource_location: str | None = None
    failure: str | None = None
    done: bool = False
    started: float | None = None  # before it the status is notStarted (None: running at once)
    # what completing the operation does (publish a snapshot, create the applied object)
    snapshot: SnapshotRecord | None = None
    apply_target: PersonGroupRecord | FaceListRecord | None = None

    def status(self, now: float) -> str:
        """notStarted (spelled as the live service does), running, succeeded or failed."""
        if self.started is not None and now < self.started:
            return "notStarted"
        if now < self.ends:
            return "running"
        return "failed" if self.failure is not None else "succeeded"

    def last_action(self, now: float) -> float:
        status = self.status(now)
        if status == "notStarted":
            return self.created
        if status == "running":
            return self.created if self.started is None else self.started
        return self.ends


@attrs.define(eq=False)
class EmulatorState:
    """Everything the emulator stores, keyed by the ids the API uses."""

    clock: Clock = attrs.Factory(Clock)
    person_groups: IdTable[PersonGroupRecord] = attrs.Factory(IdTable)
    large_person_groups: IdTable[PersonGroupRecord] = attrs.Factory(IdTable)
    face_lists: IdTable[FaceListRecord] = attrs.Factory(IdTable)
    large_face_lists: IdTable[FaceListRecord] = attrs.Factory(IdTable)
    detected_faces: dict[str, DetectedFaceRecord] = attrs.Factory(dict)
    snapshots: dict[str, SnapshotRecord] = attrs.Factory(dict)
    operations: dict[str, OperationRecord] = attrs.Factory(dict)
    url_images: dict[str, bytes] = attrs.Factory(dict)
    # when the snapshot take/apply operations of the last 24 hours were accepted (quotas)
    snapshot_takes: deque[float] = attrs.Factory(deque)
    snapshot_applies: deque[float] = attrs.Factory(deque)
    account: str = "00000000-0000-0000-0000-000000000000"
    _remembered: int = attrs.field(default=0, init=False, repr=False)

    def reset(self) -> None:
        """Forget everything stored (groups, lists, faceIds, snapshots, registered URLs)."""
        for table in (
            self.person_groups,
            self.large_person_groups,
            self.face_lists,
            self.large_face_lists,
            self.detected_faces,
            self.snapshots,
            self.operations,
            self.url_images,
            self.snapshot_takes,
            self.snapshot_applies,
        ):
            table.clear()

    def groups(self, large: bool) -> IdTable[PersonGroupRecord]:
        return self.large_person_groups if large else self.person_groups

    def lists(self, large: bool) -> IdTable[FaceListRecord]:
        return self.large_face_lists if large else self.face_lists

    def spend_daily_quota(self, spent: deque[float], per_day: int) -> bool:
        """Count one more operation in ``spent``; False when ``per_day`` ran in the last 24 h."""
        now = self.clock.now()
        while spent and spent[0] <= now - 86_400:
            spent.popleft()
        if len(spent) >= per_day:
            return False
        spent.append(now)
        return True

    def register_url_image(self, url: str, data: bytes) -> None:
        """Make ``url`` downloadable for the URL variants (the emulator never fetches URLs)."""
        self.url_images[url] = data

    def fetch_url_image(self, url: str) -> bytes | None:
        """The bytes behind a registered URL or a base64 ``data:`` URL, else None."""
        if url in self.url_images:
            return self.url_images[url]
        if url.startswith("data:") and ";base64," in url:
            try:
                return base64.b64decode(url.partition(";base64,")[2], validate=True)
            except ValueError:
                return None
        return None

    def remember_face(self, record: DetectedFaceRecord) -> None:
        """Keep a detected faceId; expired ones are swept now and then so memory stays flat.

        A sweep reads every faceId kept, so it runs after 4096 new ones or a quarter as many as
        are kept, whichever is more: its cost spread over the inserts stays constant per detect,
        and at most a third more than the live faceIds are kept.
        """
        self.detected_faces[record.face_id] = record
        self._remembered += 1
        if self._remembered >= max(4096, len(self.detected_faces) // 4):
            self._remembered = 0
            now = self.clock.now()
            for face_id in [k for k, v in self.detected_faces.items() if v.expires <= now]:
                del self.detected_faces[face_id]

    def live_face(self, face_id: str) -> DetectedFaceRecord | None:
        """A detected face that has not expired; expired ones are dropped here."""
        record = self.detected_faces.get(face_id)
        if record is None:
            return None
        if record.expires <= self.clock.now():
            del self.detected_faces[face_id]
            return None
        return record

    def settle(self) -> None:
        """Finish the operations whose time has come (publish snapshots, apply them)."""
        now = self.clock.now()
        for op in self.operations.values():
            if op.done or now < op.ends:
                continue
            op.done = True
            if op.failure is not None:
                continue
            if op.kind == "take" and op.snapshot is not None:
                self.snapshots[op.snapshot.snapshot_id] = op.snapshot
            elif op.kind == "apply" and op.apply_target is not None:
                self._install(op)

    def _install(self, op: OperationRecord) -> None:
        target = op.apply_target
        if isinstance(target, PersonGroupRecord):
            table_g = self.groups(target.large)
            if target.group_id in table_g:
                op.failure = "The target object already exists."
                return
            table_g[target.group_id] = target
        elif isinstance(target, FaceListRecord):
            table_l = self.lists(target.large)
            if target.face_list_id in table_l:
                op.failure = "The target object already exists."
                return
            table_l[target.face_list_id] = target

    @staticmethod
    def copy_object(
        source: PersonGroupRecord | FaceListRecord,
    ) -> PersonGroupRecord | FaceListRecord:
        return copy.deepcopy(source)

    def summary(self) -> dict[str, object]:
        """Counts per group for benchmarks and ``/_emulator/stats``.

        Per person: ``faces`` and ``duplicates`` (faces whose image fingerprint is already
        stored for that person, i.e. the same photo added twice).
        """

        def group_summary(group: PersonGroupRecord) -> dict[str, object]:
            persons: dict[str, object] = {}
            total = dupes = 0
            for person in group.persons.values():
                count = len(person.faces)
                distinct = len({f.fingerprint for f in person.faces.values()})
                persons[person.person_id] = {
                    "name": person.name,
                    "faces": count,
                    "duplicates": count - distinct,
                }
                total += count
                dupes += count - distinct
            return {
                "persons": len(group.persons),
                "faces": total,
                "duplicates": dupes,
                "per_person": persons,
            }

        def list_summary(face_list: FaceListRecord) -> dict[str, object]:
            count = len(face_list.faces)
            distinct = len({f.fingerprint for f in face_list.faces.values()})
            return {"faces": count, "duplicates": count - distinct}

        return {
            "person_groups": {k: group_summary(v) for k, v in self.person_groups.items()},
            "large_person_groups": {
                k: group_summary(v) for k, v in self.large_person_groups.items()
            },
            "face_lists": {k: list_summary(v) for k, v in self.face_lists.items()},
            "large_face_lists": {k: list_summary(v) for k, v in self.large_face_lists.items()},
            "snapshots": len(self.snapshots),
            "detected_faces": len(self.detected_faces),
        }
