"""The paced tables render every contender and rate, loss, skips and ratios to the floor."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from benchmarks import contenders, paced, paced_report


def _quiet(_: str) -> None:
    return None


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    """One small real run: floor, baseline, the lossy fake, and hft made unavailable."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        entry = contenders._Entry("hft_logger:setup", "hft_not_a_module.logging")
        monkeypatch.setitem(contenders.REGISTRY, "hft", entry)
        names = ["floor", "baseline", "lossy", "hft"]
        return paced.run_paced(names, {2000: 200, 4000: 400}, rounds=1, note=_quiet)


def _rows(table: str) -> dict[tuple[str, str], str]:
    return {
        (line.split()[0], line.split()[1]): line
        for line in table.splitlines()[1:]
        if line and not line.startswith("-")
    }


def test_figures_have_a_row_per_contender_and_rate(results: dict[str, Any]) -> None:
    """Each contender at each rate has a row; the floor's file cells are n/a, the fake's LOST
    is counted from its file, the baseline's loss is 0, and the skipped hft is a note."""
    figures = paced_report.paced_table(results).split("Ratio to floor")[0]
    rows = _rows(figures.split("\n\n")[1])
    assert {(n, r) for n in ("floor", "baseline", "lossy") for r in ("2,000", "4,000")} <= set(rows)
    lost = results["contenders"]["lossy"]["4000"]["check"]["lost"]
    assert f"LOST {lost:,}" in rows[("lossy", "4,000")]
    assert rows[("floor", "2,000")].split()[9:11] == ["n/a", "n/a"]
    assert rows[("baseline", "2,000")].split()[8:11] == ["400", "400", "0"]
    assert "hft: skipped (hft_not_a_module.logging is not importable)" in (
        paced_report.paced_table(results)
    )


def test_ratios_are_against_the_floor_at_the_same_rate(results: dict[str, Any]) -> None:
    """The ratio table has the floor at 1.00x on p50 at both rates, and a row per contender."""
    ratios = paced_report.paced_table(results).split("Ratio to floor")[1].split("\n\n")[0]
    rows = _rows("\n".join(ratios.splitlines()[1:]))
    assert rows[("floor", "2,000")].split()[2] == "1.00x"
    assert rows[("floor", "4,000")].split()[2] == "1.00x"
    assert {("baseline", "4,000"), ("lossy", "2,000")} <= set(rows)


def test_a_caller_behind_schedule_is_flagged(results: dict[str, Any]) -> None:
    """An achieved rate under 99 % of the offered one is marked BEHIND; on time it is not."""
    late = copy.deepcopy(results)
    late["contenders"]["baseline"]["2000"]["achieved_rate"] = 1500.0
    late["contenders"]["baseline"]["4000"]["achieved_rate"] = 4000.0
    rows = _rows(paced_report.paced_table(late).split("\n\n")[1])
    assert "1,500 BEHIND" in rows[("baseline", "2,000")]
    assert "BEHIND" not in rows[("baseline", "4,000")]


def test_without_the_floor_there_is_no_ratio_table(results: dict[str, Any]) -> None:
    """Run without the floor, the figures render and no ratio table is attempted."""
    partial = copy.deepcopy(results)
    del partial["contenders"]["floor"]
    table = paced_report.paced_table(partial)
    assert "baseline" in table
    assert "Ratio to floor" not in table
