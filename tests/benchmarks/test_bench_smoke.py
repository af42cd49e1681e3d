"""The benchmark harness must not rot: a seconds-long pass over its moving parts.

The CI also runs ``python -m benchmarks --smoke`` (every scenario at tiny counts); this test
covers the emulator process, one worker per async client and the report, in a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import _harness, overhead, parse, report


def test_summaries_and_ratios() -> None:
    s = _harness.summarize([3.0, 1.0, 2.0])
    assert (s["median"], s["min"], s["max"], s["n"]) == (2.0, 1.0, 3.0, 3)
    assert _harness.fmt_summary(s, 1, "x") == "2.0x (1.0-3.0)"
    assert _harness.summarize([])["median"] is None
    assert _harness.ratio(1.0, 0.0) is None


def test_detect_response_has_every_attribute() -> None:
    import json

    faces = json.loads(parse.detect_response(3))
    assert len(faces) == 3
    attributes = faces[0]["faceAttributes"]
    for name in ("age", "emotion", "hair", "mask", "qualityForRecognition", "noise", "blur"):
        assert name in attributes
    assert len(faces[0]["faceLandmarks"]) == 27


def test_overhead_end_to_end_and_report(tmp_path: Path) -> None:
    config = {
        "calls": 20,
        "warmup": 4,
        "concurrency": 4,
        "persons": 4,
        "body_bytes": 2048,
        "runs": 1,
        "clients": ["aiohttp", "face-async"],
        "timeout_s": 60,
    }
    result = overhead.run(config)
    assert not result["na"], result["na"]
    for name in ("aiohttp", "face-async"):
        row = result["clients"][name]
        assert row["errors"] == {}
        assert row["cpu_us_per_call"]["median"] > 0
        assert row["calls_per_s"]["median"] > 0
    assert result["clients"]["aiohttp"]["cpu_ratio_to_aiohttp"]["median"] == pytest.approx(1.0)

    results = {"environment": _harness.environment(), "overhead": result, "errors": {}}
    written = report.write_report(results, tmp_path)
    text = (tmp_path / "results.md").read_text()
    assert "| face-async |" in text
    assert "add-face client CPU" in text
    assert {"results.json", "results.md"} <= set(written)


def test_makespan_floors_count_person_creates() -> None:
    from benchmarks import makespan

    zipf = makespan.zipf_plan(200, 248)
    assert (sum(zipf), max(zipf)) == (1459, 248)
    f = makespan.floors(zipf, 0.05, 100.0, 64)
    assert f["floor_s"] == pytest.approx(14.59)  # Σfaces / TPS
    assert f["all_calls_bound_s"] == pytest.approx((1459 + 200 - 100) / 100 + 0.05)
    uniform = makespan.floors(makespan.uniform_plan(200, 10), 0.05, 100.0, 64)
    assert uniform["floor_s"] == pytest.approx(20.0)
    assert uniform["all_calls_bound_s"] == pytest.approx(21.05)
    # A burst larger than the job: the chain binds, below the Σfaces / TPS.
    small = makespan.floors([6, 3, 2, 2], 0.02, 100.0, 64)
    assert small["all_calls_bound_s"] == pytest.approx(0.12)


def test_makespan_floor() -> None:
    from benchmarks.makespan import makespan_floor

    # The longest chain, the rate limit, or the concurrency bound, whichever is largest.
    assert makespan_floor([100, 1, 1], latency=0.1, concurrency=8) == pytest.approx(10.0)
    assert makespan_floor([10] * 100, latency=0.1, concurrency=10) == pytest.approx(10.0)
    assert makespan_floor([10] * 100, latency=0.01, concurrency=100, tps=50) == pytest.approx(20)
    assert makespan_floor([], latency=1, concurrency=1) == 0.0


def test_critical_path_is_the_median_step() -> None:
    from benchmarks import makespan

    crit = makespan._critical_path({"a": [0.0, 0.05, 0.10, 0.15, 0.15, 0.15], "b": [0.0]})
    assert crit is not None
    assert (crit["person"], crit["faces"]) == ("a", 6)
    # The last three confirmed together: the mean step would be 30 ms, the chain's step is 50.
    assert crit["median_step_ms"] == pytest.approx(50.0)
