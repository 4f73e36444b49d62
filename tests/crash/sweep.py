"""The crash-point and fault-injection sweep (issue 27): every persistence call, numbered by
the LD_PRELOAD shim (``faultshim.c``), is crashed, torn or failed in turn, then the result is
checked from disk, restarted, appended to and checked again (``checks.py``).

A *scenario* is one workload (``workload.py``) with its settings. A first run traces the
persistence calls; each *point* is then one fault at one call number ``k`` on a fresh folder:

- ``crash``: SIGKILL before call k (for crash points, the power-loss state is checked too);
- ``torn``: call k, a write, half done, then SIGKILL;
- ``short``: call k, a write, returns half done and the process's next call fails (ENOSPC);
- ``errno``: call k fails with ENOSPC, EIO, EACCES or EROFS: once (``span`` 1), twice in a
  row (``span`` 2) or from k on for the rest of the run (``span`` 0, persistent).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from tests.crash import checks

HERE = Path(__file__).resolve().parent
SHIM_SOURCE = HERE / "faultshim.c"
WORKLOAD = HERE / "workload.py"
KEY_ENV = "HFT_AUDIT_HMAC_KEY"
ERRNOS = (errno.ENOSPC, errno.EIO, errno.EACCES, errno.EROFS)
WRITES = frozenset({"write", "pwrite"})


def build_shim(build_dir: Path) -> Path:
    """Compile ``faultshim.c`` with gcc into *build_dir* (once per source version)."""
    source = SHIM_SOURCE.read_bytes()
    target = build_dir / f"faultshim-{hashlib.sha256(source).hexdigest()[:12]}.so"
    if not target.exists():
        build_dir.mkdir(parents=True, exist_ok=True)
        temp = target.with_suffix(f".{os.getpid()}.tmp")
        subprocess.run(
            ["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-o", str(temp), str(SHIM_SOURCE), "-ldl"],
            check=True,
            capture_output=True,
        )
        temp.replace(target)
    return target


@dataclass(frozen=True)
class Scenario:
    """A workload and its settings; ``restart`` settings are used for the run after a fault."""

    name: str
    kind: str
    n: int
    settings: dict[str, Any] = field(default_factory=dict)
    keyed: bool = False
    durable: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    """One fault: what to do at call *at* (``errno_`` and ``span`` for errno and short)."""

    at: int
    action: str
    errno_: int = 0
    span: int = 1
    call: str = ""

    def __str__(self) -> str:
        what = self.action
        if self.errno_:
            what += f" {errno.errorcode[self.errno_]}"
            what += {0: " persistent", 1: "", 2: " twice"}.get(self.span, f" x{self.span}")
        return f"{what} at call {self.at} ({self.call})"

    def env(self) -> dict[str, str]:
        """The shim's settings for this fault."""
        return {
            "FAULT_AT": str(self.at),
            "FAULT_ACTION": self.action,
            "FAULT_ERRNO": str(self.errno_ or errno.EIO),
            "FAULT_SPAN": str(self.span),
        }


@dataclass
class Outcome:
    """What one point showed: the violations of the invariants (none, one hopes)."""

    scenario: str
    fault: Fault
    violations: list[str]


class Harness:
    """Runs workloads under the shim in fresh folders below *work*."""

    def __init__(self, shim: Path, work: Path) -> None:
        self.shim = shim
        self.work = work
        work.mkdir(parents=True, exist_ok=True)

    def run(self, scenario: Scenario, where: Path, fault: Fault | None, *, phase: str) -> Path:
        """Run *scenario*'s workload on ``where/d`` (the shim on when *fault* is given, a
        trace when it is ``Fault(0, "")``); returns its results file."""
        results = where / f"results-{phase}"
        spec = {
            "kind": scenario.kind,
            "dir": str(where / "d"),
            "results": str(results),
            "phase": phase,
            "n": scenario.n if phase == "run" else 3,
            "settings": scenario.settings,
            **scenario.extra,
        }
        env = self._env(scenario)
        if fault is not None:
            env.update(self._shim_env(where, fault))
        argv = [sys.executable, str(WORKLOAD), orjson.dumps(spec).decode()]
        subprocess.run(argv, env=env, capture_output=True, timeout=120, check=False)
        return results

    def _env(self, scenario: Scenario) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FAULT_", "LD_PRE"))}
        env.pop(KEY_ENV, None)
        if scenario.keyed:
            env[KEY_ENV] = "sweep-key"
        return env

    def _shim_env(self, where: Path, fault: Fault) -> dict[str, str]:
        counter = where / "counter"
        counter.write_bytes(bytes(8))
        (where / "shadow").mkdir(exist_ok=True)
        return {
            "LD_PRELOAD": str(self.shim),
            "FAULT_DIR": str(where / "d"),
            "FAULT_COUNTER": str(counter),
            "FAULT_LOG": str(where / "trace"),
            "FAULT_SHADOW": str(where / "shadow"),
            "FAULT_FIRED": str(where / "fired"),
            **fault.env(),
        }

    def fresh(self, label: str) -> Path:
        """A new folder for one point, with the workload's folder made (as an operator's
        ``logs/`` is: the writer's folder exists before it starts)."""
        where = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=self.work))
        (where / "d").mkdir()
        return where

    def trace(self, scenario: Scenario) -> list[Call]:
        """The persistence calls of a run without a fault, in order."""
        where = self.fresh(f"{scenario.name}-trace")
        self.run(scenario, where, Fault(0, ""), phase="run")
        calls = []
        for line in (where / "trace").read_text().splitlines():
            k, pid, tid, call, path, *_ = line.split(" ")
            calls.append(Call(int(k), call, Path(path).name, int(pid), int(tid)))
        shutil.rmtree(where)
        return sorted(calls)

    def point(self, scenario: Scenario, fault: Fault) -> Outcome:
        """One fault, then the checks from disk, a restart, an append and the checks again."""
        where = self.fresh(scenario.name)
        try:
            self.run(scenario, where, fault, phase="run")
            violations = checks.check_point(self, scenario, fault, where)
        except Exception as exc:  # noqa: BLE001 - a harness failure is reported as a violation
            violations = [f"harness: {type(exc).__name__}: {exc}"]
        if not violations:
            shutil.rmtree(where, ignore_errors=True)
        else:
            violations.append(f"(kept in {where})")
        return Outcome(scenario.name, fault, violations)


@dataclass(frozen=True, order=True)
class Call:
    """One persistence call of a trace: its number, name, file name, process and thread."""

    k: int
    call: str
    name: str
    pid: int
    tid: int

    def __str__(self) -> str:
        return f"{self.call} {self.name}"


def faults(calls: Sequence[Call], *, full: bool) -> list[Fault]:
    """Every fault of the sweep at every call (*full*), or the focused set."""
    if not full:
        return focused(calls)
    found: list[Fault] = []
    for c in calls:
        found.append(Fault(c.k, "crash", call=str(c)))
        if c.call in WRITES:
            found += [Fault(c.k, "torn", call=str(c)), Fault(c.k, "short", errno.ENOSPC, 1, str(c))]
        found += [Fault(c.k, "errno", e, 1, str(c)) for e in ERRNOS]
        found += [Fault(c.k, "errno", errno.EIO, 2, str(c))]
        found += [Fault(c.k, "errno", e, 0, str(c)) for e in (errno.ENOSPC, errno.EACCES)]
    return found


def focused(calls: Sequence[Call]) -> list[Fault]:
    """One fault at each call that matters most: the start-up calls, the calls around a
    rotation and a checkpoint's rename, the last calls (close), and a spread of steady ones;
    the kinds of fault taken in turn, a write torn where the turn falls on one."""
    keep = {c.k for c in calls[:8]} | {c.k for c in calls[-3:]}
    renames = [c.k for c in calls if c.call == "rename"]
    rotations = [c.k for c in calls if c.call == "rename" and "checkpoint" not in c.name]
    for k in rotations[:1] + renames[:1]:
        keep |= {k - 1, k, k + 1}
    keep |= {c.k for c in calls[8::12]}
    chosen = [c for c in calls if c.k in keep]
    return [_turn(i, c) for i, c in enumerate(chosen)]


def _turn(index: int, c: Call) -> Fault:
    kinds = [
        Fault(c.k, "crash"),
        Fault(c.k, "errno", ERRNOS[index // 6 % 4], 1),
        Fault(c.k, "torn") if c.call in WRITES else Fault(c.k, "errno", errno.EROFS, 1),
        Fault(c.k, "errno", errno.ENOSPC, 0),
        Fault(c.k, "errno", errno.EIO, 2),
        Fault(c.k, "short", errno.ENOSPC) if c.call in WRITES else Fault(c.k, "crash"),
    ]
    return replace(kinds[index % len(kinds)], call=str(c))


@dataclass
class Summary:
    """The figures of one sweep."""

    points: int = 0
    seconds: float = 0.0
    by_scenario: dict[str, int] = field(default_factory=dict)
    failures: list[Outcome] = field(default_factory=list)

    def render(self) -> str:
        """Points, violations and run time, then each failing point."""
        head = (
            f"{self.points} points, {sum(len(f.violations) > 0 for f in self.failures)}"
            f" with violations, {self.seconds:.0f} s: "
            + ", ".join(f"{name} {count}" for name, count in self.by_scenario.items())
        )
        lines = [head]
        for failure in self.failures[:40]:
            lines.append(f"- {failure.scenario}: {failure.fault}")
            lines.extend(f"    {v}" for v in failure.violations[:6])
        return "\n".join(lines)


def sweep(
    harness: Harness, scenarios: Iterable[Scenario], *, full: bool, workers: int = 2
) -> Summary:
    """Trace each scenario, run every point of it, and count."""
    started = time.monotonic()
    summary = Summary()
    jobs = []
    for scenario in scenarios:
        points = faults(harness.trace(scenario), full=full)
        summary.by_scenario[scenario.name] = len(points)
        jobs += [(scenario, fault) for fault in points]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for outcome in pool.map(lambda job: harness.point(*job), jobs):
            summary.points += 1
            if outcome.violations:
                summary.failures.append(outcome)
    summary.seconds = time.monotonic() - started
    return summary


AUDIT_DURABLE = Scenario(
    "audit-durable",
    "audit",
    6,
    {
        "durable": True,
        "on_failure": "raise",
        "rotation": "size",
        "max_bytes": 1200,
        "checkpoint_interval_ms": 0,
        "failure_timeout_ms": 100,
    },
    keyed=True,
    durable=True,
)
AUDIT_DEFAULT = Scenario(
    "audit-default",
    "audit",
    12,
    {"failure_timeout_ms": 100, "rotation": "size", "max_bytes": 2500},
)
AUDIT_BLOCK = Scenario(
    "audit-durable-block",
    "audit",
    4,
    {"durable": True, "failure_timeout_ms": 100, "checkpoint_interval_ms": 0},
    durable=True,
)
SPOOL = Scenario("syslog-spool", "spool", 12, extra={"segment_bytes": 1200})
JSON_FILE = Scenario(
    "json-file-rotation",
    "file",
    10,
    {"rotation": "size", "max_bytes": 500, "retention": 100},
)
JSON_FILE_GZIP = Scenario(
    "json-file-gzip",
    "file",
    10,
    {"rotation": "size", "max_bytes": 500, "retention": 100, "compression": "gzip"},
)
SCENARIOS = (AUDIT_DURABLE, AUDIT_DEFAULT, AUDIT_BLOCK, SPOOL, JSON_FILE, JSON_FILE_GZIP)


def with_n(scenario: Scenario, n: int) -> Scenario:
    """*scenario* with *n* calls."""
    return replace(scenario, n=n)
