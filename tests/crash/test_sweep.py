"""The crash sweep itself (marker ``sweep``, left out of the plain suite): ``make
sweep-focused`` runs the focused one (part of ``make test``), ``make sweep`` the full one.

The full sweep's figures go to ``$HFT_SWEEP_REPORT`` (default ``build/sweep/last-run.txt``),
from which docs/resilience.md quotes them.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.crash.sweep import SCENARIOS, Harness, Scenario, sweep

pytestmark = pytest.mark.sweep
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fast_harness(shim: Path) -> Iterator[Harness]:
    """A harness in memory (/dev/shm) where there is one: the shim models the disk."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    work = Path(tempfile.mkdtemp(prefix="hft-sweep-", dir=base))
    yield Harness(shim, work)
    shutil.rmtree(work, ignore_errors=True)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_focused(fast_harness: Harness, scenario: Scenario) -> None:
    """At the start-up, rotation, checkpoint, close and some steady calls: no violation."""
    summary = sweep(fast_harness, [scenario], full=False)
    assert not summary.failures, summary.render()


def test_full(fast_harness: Harness) -> None:
    """Every fault at every persistence call of every scenario: no invariant broken."""
    summary = sweep(fast_harness, SCENARIOS, full=True)
    report = Path(os.environ.get("HFT_SWEEP_REPORT", ROOT / "build" / "sweep" / "last-run.txt"))
    report.parent.mkdir(parents=True, exist_ok=True)
    where = f"Python {sys.version.split()[0]}, {platform.machine()}, {os.cpu_count()} CPUs"
    report.write_text(f"make sweep ({where}): {summary.render()}\n")
    print(f"\n{report.read_text()}")
    assert not summary.failures, summary.render()
