"""``python -m benchmarks.ranges RUN_DIR...``: the ranges of hft's key figures over full runs.

A figure worth publishing is a range over several runs, with each run's host facts beside it,
never one best run. Each RUN_DIR is the ``--out`` folder of one full run: ``latest.json`` from
``python -m benchmarks`` and ``paced.json`` from ``python -m benchmarks paced --rates
20000,100000``. Prints, per figure, the lowest-highest and the median over the runs (the ratios
hft is held to: throughput against the baseline, picologging and structlog; the call against the
floor; calls over 1 ms when paced; records lost), then the shipped settings' rows (``hft-prod``,
``hft-dev``: their rate and call against hft's, calls over 1 ms and loss when paced) where the
run has them, then each run's host facts.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

Figures = dict[str, list[float]]
SHIPPED = ("hft-prod", "hft-dev")


def _adder(figures: Figures) -> Callable[[str, float], None]:
    def add(name: str, value: float) -> None:
        figures.setdefault(name, []).append(float(value))

    return add


def suite_figures(run: dict[str, Any], figures: Figures) -> None:
    """Throughput and call-site figures of one suite run (``latest.json``)."""
    contenders = run["contenders"]
    floor, hft = contenders["floor"]["latency"]["stats"], contenders["hft"]
    rate, stats = hft["throughput"]["rate"], hft["latency"]["stats"]
    add = _adder(figures)
    add("hft rec/s", rate)
    for other in ("baseline", "picologging", "structlog"):
        if other in contenders:
            add(f"x {other} (rec/s)", rate / contenders[other]["throughput"]["rate"])
    add("call mean / floor", stats["mean"] / floor["mean"])
    add("call p50 / floor", stats["p50"] / floor["p50"])
    add("call p99.9 / floor", stats["p999"] / floor["p999"])
    add("filtered p50 / floor mean", hft["latency"]["filtered"]["p50"] / floor["mean"])
    add("calls >2ms hft", stats["over_2ms"])
    add("calls >2ms floor", floor["over_2ms"])
    add("lost (suite)", hft["throughput"]["lost"] + hft["latency"]["lost"])


def shipped_figures(run: dict[str, Any], figures: Figures) -> None:
    """The shipped settings' rows of one suite run against hft's (file only), when present."""
    contenders, add = run["contenders"], _adder(figures)
    hft = contenders["hft"]
    for name in SHIPPED:
        row = contenders.get(name)
        if not row or not row.get("throughput") or not row.get("latency"):
            continue
        rate, stats = row["throughput"]["rate"], row["latency"]["stats"]
        add(f"{name} rec/s", rate)
        add(f"{name} / hft (rec/s)", rate / hft["throughput"]["rate"])
        add(f"{name} call p50 / hft", stats["p50"] / hft["latency"]["stats"]["p50"])
        add(f"{name} call p99.9 / hft", stats["p999"] / hft["latency"]["stats"]["p999"])
        add(f"{name} lost (suite)", row["throughput"]["lost"] + row["latency"]["lost"])


def paced_figures(run: dict[str, Any], figures: Figures) -> None:
    """Per offered rate: calls over 1 ms and 100 us (hft and the floor), p99.9, p50, lost; for
    the shipped settings' rows, calls over 1 ms, p99.9 / floor and lost."""
    contenders = run["contenders"]
    add = _adder(figures)
    for rate, result in contenders["hft"].items():
        hft, floor = result["stats"], contenders["floor"][rate]["stats"]
        add(f"paced {rate}/s >1ms hft", hft["over_1ms"])
        add(f"paced {rate}/s >1ms floor", floor["over_1ms"])
        add(f"paced {rate}/s >100us hft", hft["over_100us"])
        add(f"paced {rate}/s >100us floor", floor["over_100us"])
        add(f"paced {rate}/s p99.9 / floor", hft["p999"] / floor["p999"])
        add(f"paced {rate}/s p50 / floor", hft["p50"] / floor["p50"])
        add(f"paced {rate}/s lost", result["check"]["lost"])
        for name in SHIPPED:
            shipped = ((contenders.get(name) or {}).get(rate) or {}).get("stats")
            if shipped:
                add(f"paced {rate}/s >1ms {name}", shipped["over_1ms"])
                add(f"paced {rate}/s p99.9 / floor {name}", shipped["p999"] / floor["p999"])
                add(f"paced {rate}/s lost {name}", contenders[name][rate]["check"]["lost"])


def host_line(run: dict[str, Any]) -> str:
    """One run's host facts on one line."""
    host = run["meta"]["host"]
    wake = host["event_wakeup"]
    return (
        f"getppid {host['getppid_ns']:.0f} ns, time_ns {host['time_ns_ns']:.0f} ns, "
        f"Event wake-up {wake['median_ns'] / 1000:.1f}/{wake['p99_ns'] / 1000:.1f} us "
        f"(median/p99), two busy processes {host['busy_share']['ratio']:.2f} each"
    )


def render(figures: Figures, hosts: Sequence[str]) -> str:
    """The ranges table, then the host facts of each run."""
    lines = []
    for name, values in figures.items():
        ratio = any(0 < abs(v) < 100 and v != int(v) for v in values)
        shown = [f"{v:.2f}" if ratio else f"{v:,.0f}" for v in sorted(values)]
        median = statistics.median(values)
        span = shown[0] if len(set(shown)) == 1 else f"{shown[0]}-{shown[-1]}"
        lines.append(f"{name:40} {span:>22}   median {median:,.2f}" if ratio else
                     f"{name:40} {span:>22}   median {median:,.0f}")  # fmt: skip
    lines.append("host facts per run:")
    lines += [f"  {i}: {line}" for i, line in enumerate(hosts, 1)]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    """Read the runs, print their ranges; exit 2 when a folder lacks its results."""
    if not argv:
        print(__doc__)
        return 2
    figures: Figures = {}
    hosts = []
    for folder in map(Path, argv):
        suite_path, paced_path = folder / "latest.json", folder / "paced.json"
        if not suite_path.is_file():
            print(f"{suite_path}: missing (run python -m benchmarks --out {folder})")
            return 2
        suite_run = orjson.loads(suite_path.read_bytes())
        suite_figures(suite_run, figures)
        shipped_figures(suite_run, figures)
        hosts.append(host_line(suite_run))
        if paced_path.is_file():
            paced_figures(orjson.loads(paced_path.read_bytes()), figures)
    print(render(figures, hosts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
