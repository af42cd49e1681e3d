"""The progress counts when the final check finds an image added after all.

An image whose add-face had no answer is reported ``outcome_unknown`` at once; the run's final
verification may then find it applied and report it added. The progress shows it once, as
added, in every mode.
"""

from __future__ import annotations

import io

import pytest

from face_async._cli._progress import Progress
from face_async._enroll import EnrollStarted, FaceAdded, FaceFailed
from face_async._enroll._sources import OUTCOME_UNKNOWN


@pytest.mark.parametrize("mode", ["lines", "ticks", "none"])
def test_an_unknown_outcome_found_applied_counts_once_as_added(mode: str) -> None:
    out = io.StringIO()
    progress = Progress(mode, out)
    progress(EnrollStarted(group_id="g", persons=1, images=2))
    progress(FaceAdded(person="ann", source="ann/1.jpg", persisted_face_id="f1"))
    progress(FaceFailed(person="ann", source="ann/2.jpg", reason=OUTCOME_UNKNOWN, detail="timeout"))
    progress(FaceAdded(person="ann", source="ann/2.jpg", persisted_face_id="f2"))
    assert progress.counts == {"added": 2, "already_enrolled": 0, "failed": 0}
    lines = out.getvalue().splitlines()
    if mode == "ticks":
        assert progress.done == 2  # one tick per image
        assert lines[-1] == "settled   ann/2.jpg  added (2 added, 0 already enrolled, 0 failed)"
    if mode == "lines":
        assert lines[-1] == "settled   ann/2.jpg  added"
    if mode == "none":
        assert lines == []


def test_other_failures_stay_failed() -> None:
    progress = Progress("none", io.StringIO())
    progress(FaceFailed(person="ann", source="ann/2.jpg", reason="invalid_image", detail="x"))
    progress(FaceAdded(person="bob", source="bob/2.jpg", persisted_face_id="f2"))
    assert progress.counts == {"added": 1, "already_enrolled": 0, "failed": 1}


def test_an_unknown_outcome_sent_again_counts_once_with_its_final_outcome() -> None:
    # Not found by the final check, so sent once more: that send's outcome replaces the
    # first report (failed for another reason, or still unknown), counted once.
    out = io.StringIO()
    progress = Progress("lines", out)
    progress(FaceFailed(person="ann", source="ann/1.jpg", reason=OUTCOME_UNKNOWN, detail="reset"))
    progress(FaceFailed(person="bob", source="bob/1.jpg", reason=OUTCOME_UNKNOWN, detail="reset"))
    progress(FaceFailed(person="ann", source="ann/1.jpg", reason="invalid_image", detail="no face"))
    progress(FaceFailed(person="bob", source="bob/1.jpg", reason=OUTCOME_UNKNOWN, detail="reset"))
    assert progress.counts == {"added": 0, "already_enrolled": 0, "failed": 2}
    assert out.getvalue().splitlines()[-2:] == [
        "settled   ann/1.jpg  failed: invalid_image: no face",
        "settled   bob/1.jpg  failed: outcome_unknown: reset",
    ]
    progress(FaceAdded(person="bob", source="bob/1.jpg", persisted_face_id="f1"))
    assert progress.counts == {"added": 1, "already_enrolled": 0, "failed": 1}
