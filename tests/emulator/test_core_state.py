"""EmulatorState, Clock and TrainingRecord on their own (no HTTP needed for these rules)."""

from __future__ import annotations

import base64
import re

import pytest

from face_async.emulator._clock import Clock
from face_async.emulator._images import FaceRect
from face_async.emulator._state import (
    DetectedFaceRecord,
    EmulatorState,
    PersonGroupRecord,
    TrainingRecord,
)

RECT = FaceRect(left=0, top=0, width=10, height=10)


def test_clock_advances_and_formats() -> None:
    clock = Clock()
    before = clock.now()
    clock.advance(120)
    assert clock.now() - before >= 120
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", clock.isoformat())
    assert clock.isoformat(0) == "1970-01-01T00:00:00.000Z"


def test_expired_faces_are_swept() -> None:
    state = EmulatorState()
    now = state.clock.now()
    for i in range(4096):
        expires = now + (10 if i == 0 else 1000)
        state.remember_face(DetectedFaceRecord(f"f{i}", "a", "recognition_01", expires, RECT))
    assert len(state.detected_faces) == 4096
    state.clock.advance(100)
    assert state.live_face("f0") is None
    assert state.live_face("f1") is not None
    for i in range(4096, 8192):
        state.remember_face(DetectedFaceRecord(f"f{i}", "a", "recognition_01", 0.0, RECT))
    # The sweep at the 8192nd insert dropped every record that had expired by then.
    assert len(state.detected_faces) == 4095


def test_training_record_phases() -> None:
    old = TrainingRecord(created=0, started=1, ends=2, model={"a": ["p1"]})
    assert [old.status(t) for t in (0.5, 1.5, 2.5)] == ["notstarted", "running", "succeeded"]
    assert old.usable_model(1.5) is None
    assert old.usable_model(3) == {"a": ["p1"]}
    new = TrainingRecord(
        created=3,
        started=4,
        ends=5,
        model={"b": ["p2"]},
        last_success=old.successful_at(3),
        previous_model=old.usable_model(3),
    )
    assert new.usable_model(4.5) == {"a": ["p1"]}
    assert new.successful_at(4.5) == 2
    assert new.usable_model(6) == {"b": ["p2"]}
    failed = TrainingRecord(created=0, started=0, ends=1, model={}, failure="nothing")
    assert failed.status(2) == "failed"
    assert failed.usable_model(2) is None


def test_url_images_and_reset() -> None:
    state = EmulatorState()
    state.register_url_image("https://x/a.jpg", b"abc")
    assert state.fetch_url_image("https://x/a.jpg") == b"abc"
    assert state.fetch_url_image("https://x/b.jpg") is None
    data_url = "data:image/jpeg;base64," + base64.b64encode(b"xyz").decode()
    assert state.fetch_url_image(data_url) == b"xyz"
    assert state.fetch_url_image("data:image/jpeg;base64,***") is None
    state.person_groups["g"] = PersonGroupRecord(group_id="g", name="g", large=False)
    state.reset()
    assert state.person_groups == {}
    assert state.url_images == {}
    assert state.summary()["person_groups"] == {}
