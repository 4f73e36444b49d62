"""The paced mode's tables: figures per contender and rate, then ratios to the floor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.report import build_line

__all__ = ["paced_table"]

FLOOR = "floor"
Row = dict[str, Any]
BEHIND = 0.99  #: an achieved rate below this share of the offered one is "behind"


def _stat(key: str) -> Callable[[Row], float | None]:
    def get(row: Row) -> float | None:
        value = (row.get("stats") or {}).get(key)
        return None if value is None else float(value)

    return get


STATS = (("p50", "p50"), ("p99", "p99"), ("p99.9", "p999"), ("max", "max"),
         (">100us", "over_100us"), (">1ms", "over_1ms"))  # fmt: skip


def _align(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _file_cells(row: Row) -> list[str]:
    check = row.get("check")
    if not check:
        return ["n/a", "n/a"]
    lost = check["lost"]
    return [f"{check['found']:,}", "0" if lost == 0 else f"LOST {lost:,}"]


def _pace(row: Row, rate: int) -> list[str]:
    achieved = row["achieved_rate"]
    flag = "" if achieved >= BEHIND * rate else " BEHIND"
    return [f"{achieved:,.0f}{flag}", f"{row['max_lag_ns'] / 1000:,.0f}"]


def _figures(rows: dict[str, dict[str, Row]], rates: list[int]) -> str:
    header = ["contender", "rate/s", *(label for label, _ in STATS), "offered", "in file",
              "lost", "achieved/s", "max lag us"]  # fmt: skip
    body = []
    for rate in rates:
        for name, by_rate in rows.items():
            row = by_rate[str(rate)]
            if not row.get("stats"):
                body.append([name, f"{rate:,}", *["error"] * (len(header) - 2)])
                continue
            cells = [_number(_stat(key)(row)) for _, key in STATS]
            body.append([name, f"{rate:,}", *cells, f"{row['offered']:,}", *_file_cells(row),
                         *_pace(row, rate)])  # fmt: skip
    return _align([header, *body])


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or reference is None or reference <= 0:
        return "n/a"
    return f"{value / reference:.2f}x"


def _ratios(rows: dict[str, dict[str, Row]], rates: list[int]) -> str:
    header = ["contender", "rate/s", *(label for label, _ in STATS)]
    body = []
    for rate in rates:
        ref = rows[FLOOR][str(rate)]
        for name, by_rate in rows.items():
            row = by_rate[str(rate)]
            body.append(
                [name, f"{rate:,}", *(_ratio(_stat(k)(row), _stat(k)(ref)) for _, k in STATS)]
            )
    return _align([header, *body])


def _notes(results: dict[str, Any]) -> list[str]:
    notes = [f"{name}: skipped ({reason})" for name, reason in results["skipped"].items()]
    builds: dict[str, None] = {}
    for name, by_rate in results["contenders"].items():
        for rate, row in by_rate.items():
            notes += [f"{name} at {rate}/s: error: {error}" for error in row.get("errors", [])]
            for result in row.get("rounds", []):
                if build := result.get("hft"):
                    builds.setdefault(build_line(build))
    return [*builds, *notes]


def paced_table(results: dict[str, Any]) -> str:
    """The figures table, then the ratios to the floor at the same rate (when it ran)."""
    meta, rows = results["meta"], results["contenders"]
    rates = [int(rate) for rate in meta["rates"]]
    calls = ", ".join(f"{int(c):,} at {int(r):,}/s" for r, c in meta["calls"].items())
    header = (
        f"Paced: timed calls per round {calls}; {meta['rounds']} rounds (p50/p99/p99.9: medians;"
        " max: the worst round; >100us/>1ms, offered, in file, lost: all rounds; achieved/s:"
        " the slowest round, BEHIND under 99 % of the offered rate; max lag: the latest start)."
    )
    parts = [header, "", _figures(rows, rates)] if rows else [header]
    if FLOOR in rows:
        parts += ["", "Ratio to floor at the same rate (lower is better)", _ratios(rows, rates)]
    notes = _notes(results)
    return "\n".join(parts + (["", "Notes:", *notes] if notes else []))
