"""The scaleout benchmark's report: its rows judge the floors of issue 12."""

from __future__ import annotations

from typing import Any

from benchmarks import scaleout
from benchmarks._harness import summarize

CONFIG = {"workers": 4, "calls": 1000, "tps": 20.0, "lanes": 5, "runs": 3, "adaptive_s": 30.0}


def result(fraction: float, limited_pct: float, adaptive_pct: float) -> dict[str, Any]:
    def mode(label: str, fraction: float, pct: float) -> dict[str, Any]:
        return {
            "label": label,
            "calls_per_s": summarize([fraction * 20.0]),
            "quota_fraction": summarize([fraction, fraction, fraction]),
            "makespan_s": summarize([50.0]),
            "rate_limited": summarize([pct * 10]),
            "rate_limited_pct": summarize([pct, pct, pct]),
            "failed": summarize([0]),
        }

    return {
        "config": {**CONFIG, "settle_s": 10.0},
        "modes": {
            "redis": mode("Redis gate", fraction, limited_pct),
            "local_quota": mode("local", 0.99, 93.0),
        },
        "adaptive": {
            "calls_per_s_after": summarize([19.0]),
            "limit_fraction": summarize([0.95]),
            "rate_limited_pct_after": summarize([adaptive_pct]),
            "rate_limited": summarize([5]),
            "cuts": summarize([8]),
            "final_tps": summarize([21.0]),
        },
        "pool": None,
    }


def test_rows_meet_and_miss_the_floors() -> None:
    met = scaleout.target_rows(result(1.01, 0.1, 1.5))
    assert len(met) == 2
    assert all("| met |" in row for row in met)
    assert "93.0 % (93.0-93.0) 429s" in met[0]  # the local tps=quota per process, beside it
    missed = scaleout.target_rows(result(1.01, 0.8, 3.5))
    assert all("**missed**" in row for row in missed)
    assert "**missed**" in scaleout.target_rows(result(0.9, 0.1, 1.0))[0]


def test_section_has_both_tables_and_says_when_the_pool_is_missing() -> None:
    text = "\n".join(scaleout.report_lines(result(1.01, 0.1, 1.5)))
    assert "| Redis gate | 20.20 | 1.010 (1.010-1.010) |" in text
    assert "| 19.00 | 0.950 | 1.50 |" in text
    assert "benchmarks/_scaleout_pool.py is not there" in text
