"""Plain-text tables, the JSON results file and the latency chart."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from benchmarks.harness import CURVE_PERCENTILES

__all__ = [
    "RESULTS_DIR",
    "build_line",
    "exit_table",
    "memory_table",
    "plot_latency",
    "suite_table",
    "write_json",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
FLOOR, HFT = "floor", "hft"
Row = dict[str, Any]
Getter = Callable[[Row], float | None]


def _latency(stat: str, section: str = "stats") -> Getter:
    def get(row: Row) -> float | None:
        latency = row.get("latency") or {}
        stats = latency.get(section) or {}
        value = stats.get(stat)
        return None if value is None else float(value)

    return get


def _throughput(key: str) -> Getter:
    def get(row: Row) -> float | None:
        value = (row.get("throughput") or {}).get(key)
        return None if value is None else float(value)

    return get


def _rss_latency(row: Row) -> float | None:
    value = (row.get("latency") or {}).get("rss_growth_mb")
    return None if value is None else float(value)


# (header, getter, digits, higher_is_better)
COLUMNS: tuple[tuple[str, Getter, int, bool], ...] = (
    ("mean ns", _latency("mean"), 0, False),
    ("p50", _latency("p50"), 0, False),
    ("p99", _latency("p99"), 0, False),
    ("p99.9", _latency("p999"), 0, False),
    ("max", _latency("max"), 0, False),
    (">2ms", _latency("over_2ms"), 0, False),
    ("dbg p50", _latency("p50", "filtered"), 0, False),
    ("dbg p99", _latency("p99", "filtered"), 0, False),
    ("rec/s", _throughput("rate"), 0, True),
    ("rss lat MB", _rss_latency, 1, False),
    ("rss thr MB", _throughput("rss_growth_mb"), 1, False),
)


def _figure(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or reference is None or reference <= 0 or math.isnan(value):
        return "n/a"
    return f"{value / reference:.2f}x"


def _align(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                  enumerate(zip(row, widths, strict=True)))
        for row in rows
    ]  # fmt: skip
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _loss(row: Row) -> str:
    lost = (row.get("throughput") or {}).get("lost")
    if lost is None:
        return "n/a"
    return "0" if lost == 0 else f"LOST {lost:,}"


def _figures_table(rows: dict[str, Row], skipped: dict[str, str]) -> str:
    header = ["contender", *(c[0] for c in COLUMNS[:8]), "lost", *(c[0] for c in COLUMNS[8:])]
    body = []
    for name, row in rows.items():
        cells = [_figure(get(row), digits) for _, get, digits, _ in COLUMNS]
        body.append([name, *cells[:8], _loss(row), *cells[8:]])
    body += [[name, *["skipped"] * (len(header) - 1)] for name in skipped]
    return _align([header, *body])


def _ratio_table(rows: dict[str, Row], reference: str) -> str:
    header = ["contender", *(c[0] for c in COLUMNS)]
    ref = rows[reference]
    body = [
        [name, *(_ratio(get(row), get(ref)) for _, get, _, _ in COLUMNS)]
        for name, row in rows.items()
    ]
    return _align([header, *body])


def build_line(build: dict[str, Any]) -> str:
    """One line: where hft was imported from and which C paths were loaded."""
    native = build.get("native") or {}
    loaded = [name for name, on in native.items() if on]
    missing = [name for name, on in native.items() if not on]
    paths = f"C paths loaded: {', '.join(loaded) or 'none'}"
    if missing:
        paths += f"; NOT loaded (pure Python): {', '.join(missing)}"
    return f"hft from {build.get('origin')}; {paths}"


def _builds(rows: dict[str, Row]) -> list[str]:
    """The distinct hft builds the children reported (one, unless the tree changed mid-run)."""
    seen: dict[str, str] = {}
    for row in rows.values():
        for result in row.get("rounds", []):
            if build := result.get("hft"):
                line = build_line(build)
                seen.setdefault(line, line)
    return list(seen)


def _notes(rows: dict[str, Row], skipped: dict[str, str]) -> list[str]:
    notes = [f"{name}: skipped ({reason})" for name, reason in skipped.items()]
    for name, row in rows.items():
        notes += [f"{name}: error: {error}" for error in row.get("errors", [])]
        if (row.get("latency") or {}).get("lost"):
            notes.append(f"{name}: LOST {row['latency']['lost']:,} records in the latency run")
        if row.get("throughput") and not row["throughput"]["payload_ok"]:
            notes.append(f"{name}: output lines lack the message or fields")
    return notes


def suite_table(results: dict[str, Any]) -> str:
    """The figures table, then ratio tables against the floor and hft (when present)."""
    rows, skipped, meta = results["contenders"], results["skipped"], results["meta"]
    header = (
        f"Python {meta['python']} on {meta['platform']}; {meta['calls']:,} timed calls, "
        f"{meta['records']:,} records, {meta['rounds']} rounds (medians; max is the worst round);"
        f" clock-read overhead {meta['timer_overhead_ns']} ns is included in every call figure."
    )
    for line in _builds(rows):
        header += f"\n{line}"
    parts = [
        header,
        "",
        _figures_table(rows, skipped),
    ]
    for reference, label in ((FLOOR, "floor"), (HFT, "hft")):
        if reference in rows:
            parts += ["", f"Ratio to {label} (rec/s: higher is faster; others: lower is better)"]
            parts.append(_ratio_table(rows, reference))
    notes = _notes(rows, skipped)
    return "\n".join(parts + (["", "Notes:", *notes] if notes else []))


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _unmeasured(name: str, row: Row, width: int, notes: list[str]) -> list[str]:
    status, reason = ("skipped", row["skip"]) if "skip" in row else ("error", row.get("error"))
    notes.append(f"{name}: {status} ({reason})")
    return [name, *[status] * (width - 1)]


def _with_notes(table: str, notes: list[str], rows: dict[str, Row] | None = None) -> str:
    builds = sorted({build_line(row["hft"]) for row in (rows or {}).values() if row.get("hft")})
    head = "\n".join([*builds, ""]) if builds else ""
    return head + ("\n".join([table, "", "Notes:", *notes]) if notes else table)


def exit_table(results: dict[str, Any]) -> str:
    """Records lost when main returns without shutdown, and the exit drain against steady state."""
    header = ["contender", "records", "in file", "lost", "logging s", "exit drain s",
              "first->exit s", "steady first->closed s"]  # fmt: skip
    body: list[list[str]] = []
    notes: list[str] = []
    for name, row in results["contenders"].items():
        if "records" not in row:
            body.append(_unmeasured(name, row, len(header), notes))
            continue
        lost = "0" if row["lost"] == 0 else f"LOST {row['lost']:,}"
        body.append([name, f"{row['records']:,}", f"{row['lines']:,}", lost,
                     *(_seconds(row[k]) for k in ("logging_s", "exit_drain_s", "exit_total_s",
                                                  "steady_total_s"))])  # fmt: skip
    return _with_notes(_align([header, *body]), notes, results["contenders"])


def memory_table(results: dict[str, Any]) -> str:
    """RSS after the warm-up slice, at the end, the growth between, and any loss."""
    header = ["contender", "records", "rss warm MB", "rss end MB", "growth MB", "peak MB", "lost"]
    body: list[list[str]] = []
    notes: list[str] = []
    records = results["meta"]["records"]
    for name, row in results["contenders"].items():
        if "rss_mb" not in row:
            body.append(_unmeasured(name, row, len(header), notes))
            continue
        lost = (row.get("check") or {}).get("lost", 0)
        body.append([name, f"{records:,}", f"{row['rss_mb'][0]:.1f}", f"{row['rss_mb'][-1]:.1f}",
                     f"{row['growth_mb']:+.1f}", f"{row['peak_mb']:.1f}",
                     "0" if lost == 0 else f"LOST {lost:,}"])  # fmt: skip
    return _with_notes(_align([header, *body]), notes, results["contenders"])


def write_json(results: dict[str, Any], path: Path) -> None:
    """Write *results* as indented JSON, creating the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))


_LINE_STYLES = ("-", "--", ":")


def _tail_axis(q: float) -> float:
    return -math.log10(max(1 - q / 100, 1e-5))


def plot_latency(results: dict[str, Any], path: Path) -> None:
    """Percentile plot (HdrHistogram style): latency on a log axis against the tail's nines."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 6))
    xs = [_tail_axis(q) for q in CURVE_PERCENTILES]
    drawn = [(name, row) for name, row in results["contenders"].items() if row.get("latency")]
    for i, (name, row) in enumerate(drawn):
        # the colour cycle has ten colours: later lines are dashed, so no two look alike
        style = _LINE_STYLES[i // 10 % len(_LINE_STYLES)]
        ax.plot(xs, row["latency"]["curve"], label=name, linewidth=1.5, linestyle=style)
    ticks = [50, 90, 99, 99.9, 99.99, 100]
    ax.set_xticks([_tail_axis(q) for q in ticks], [f"p{q:g}" if q < 100 else "max" for q in ticks])
    ax.set_yscale("log")
    ax.set_xlabel("percentile (median of rounds)")
    ax.set_ylabel("ns per call (log)")
    ax.set_title("Call-site latency: log.info('order placed', symbol, price, qty)")
    ax.grid(visible=True, which="both", alpha=0.3)
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
