"""Host facts: every key present with a sane type, bounded, and printed; never a timing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks import hostfacts


def _facts() -> dict[str, Any]:
    return hostfacts.measure(busy_seconds=0.05, pings=20)


def test_facts_have_every_key_with_sane_types() -> None:
    """measure() returns the Python/platform line, nproc, the three call costs, the wake-up and
    the busy share, as JSON-ready numbers (positive costs, a share above zero)."""
    facts = _facts()
    assert {"python", "platform", "nproc", "nproc_usable", "getppid_ns", "time_ns_ns",
            "perf_counter_ns_ns", "event_wakeup", "busy_share"} <= facts.keys()  # fmt: skip
    assert facts["nproc"] == os.cpu_count()
    for key in ("getppid_ns", "time_ns_ns", "perf_counter_ns_ns"):
        assert isinstance(facts[key], float | int)
        assert facts[key] > 0
    wake = facts["event_wakeup"]
    assert wake["missed"] == 0
    assert 0 < wake["median_ns"] <= wake["p99_ns"]
    busy = facts["busy_share"]
    assert isinstance(busy["ratio"], float)
    assert busy["ratio"] > 0
    assert len(busy["pair"]) == 2
    assert busy["alone"] > 0


def test_wakeup_counts_every_ping() -> None:
    """Each ping is either answered (a delay sample) or counted missed: none vanish."""
    wake = hostfacts.wakeup_ns(pings=50)
    assert wake["missed"] == 0


def test_call_cost_is_per_call_not_per_batch() -> None:
    """call_cost_ns divides by the batch: calling a counter shows every call was made."""
    calls = [0]

    def count() -> None:
        calls[0] += 1

    hostfacts.call_cost_ns(count, batch=10, batches=3)
    assert calls[0] == 30


def test_facts_lines_name_each_fact() -> None:
    """The printed lines carry the syscall, both clocks, the wake-up, the busy share and nproc."""
    text = "\n".join(hostfacts.facts_lines(_facts()))
    for needle in ("os.getppid()", "time.time_ns()", "perf_counter_ns()", "wake-up", "p99",
                   "busy processes", "nproc"):  # fmt: skip
        assert needle in text


@pytest.mark.parametrize(
    ("mode", "file"), [("suite", "latest.json"), ("exit", "exit.json"), ("memory", "memory.json")]
)
def test_every_mode_prints_and_keeps_the_facts(
    mode: str, file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """suite, exit and memory print the host facts before their first child and keep them in
    their JSON results under meta.host (paced: see test_paced)."""
    from benchmarks.__main__ import main

    argv = [mode, "--contenders", "baseline", "--calls", "200", "--records", "400",
            "--rounds", "1", "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.index("Host: ") < out.index("baseline")
    host = orjson.loads((tmp_path / file).read_bytes())["meta"]["host"]
    assert {"getppid_ns", "time_ns_ns", "perf_counter_ns_ns", "event_wakeup", "busy_share",
            "nproc", "platform"} <= host.keys()  # fmt: skip
