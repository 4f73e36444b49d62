"""A stuck console against a drained one, under the shipped ``dev`` settings, side by side.

``python -m benchmarks stall [--rates 10000] [--seconds 8] [--rounds 3]``: each round runs two
children, interleaved, that log paced ``log.info`` calls for the given seconds under
``settings/dev.yaml`` (console at DEBUG on stderr, the file at INFO): one whose stderr a thread
drains (``drained``), one whose stderr is a pipe nobody reads until it has exited
(``stuck``). Each child times every call; then it is sent SIGTERM and the time to its exit is
taken. The parent counts the file's lines against the calls the child made.

Per run it prints: calls made / scheduled (the caller keeping its schedule), calls over 1 ms,
p99 and p99.9 of the call, the file's records against the calls, the console's drops as the
child's metrics give them, and the seconds from SIGTERM to exit.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

__all__ = ["run_stall"]

ROOT = Path(__file__).resolve().parents[1]
DRAIN_DEADLINE_MS = 2000


def _child(work: Path, rate: float, seconds: float) -> None:
    """Log paced calls under dev's settings, report, then wait for SIGTERM."""
    from hft.config import LoggingConfigManager
    from hft.logging import HFTLogger, create_pipeline_from_config

    variables = {
        "HFT_LOGGING__BACKENDS__FILE__FILE_PATH": str(work / "hft.log"),
        "HFT_LOGGING__BACKENDS__FILE__ROTATION": "none",
        "HFT_LOGGING__HFT_SETTINGS__SPILL_DIR": str(work / "spill"),
        "HFT_LOGGING__HFT_SETTINGS__DRAIN_DEADLINE_MS": str(DRAIN_DEADLINE_MS),
    }
    settings = LoggingConfigManager("dev", ROOT / "settings", variables).settings
    pipeline = create_pipeline_from_config(settings).start()
    log = HFTLogger(pipeline, "exchange.mexc.orders", ["mexc", "orders"])
    step, durations = 1.0 / rate, []
    clock, start = time.perf_counter_ns, time.monotonic()
    end, i = start + seconds, 0
    while True:
        due = start + i * step
        while (now := time.monotonic()) < due:
            pass
        if now >= end:
            break
        t0 = clock()
        log.info("order placed", symbol="BTCUSDT", price=123.45, qty=i)
        durations.append(clock() - t0)
        i += 1
    durations.sort()
    console = pipeline.metrics().backends.get("console")
    report = {
        "calls": i,
        "scheduled": int(rate * seconds),
        "over_1ms": sum(1 for d in durations if d > 1_000_000),
        "p99_ns": durations[int(0.99 * len(durations))],
        "p999_ns": durations[int(0.999 * len(durations))],
        "max_ns": durations[-1],
        "console_dropped": 0 if console is None else console.dropped,
    }
    print(orjson.dumps(report).decode(), flush=True)
    while True:
        time.sleep(0.05)


def _one(kind: str, rate: float, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hft-stall-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
        argv = [sys.executable, "-m", "benchmarks.stall", "child", str(work), str(rate)]
        argv.append(str(seconds))
        child = subprocess.Popen(
            argv, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert child.stdout is not None
        assert child.stderr is not None
        if kind == "drained":
            err = child.stderr
            threading.Thread(target=err.read, daemon=True).start()
        line = child.stdout.readline()
        if not line:
            raise RuntimeError(f"stall child failed: {child.communicate()[1][-2000:]!r}")
        report: dict[str, Any] = orjson.loads(line)
        sent = time.monotonic()
        child.send_signal(signal.SIGTERM)
        while child.poll() is None:
            time.sleep(0.01)
        report["exit_s"] = time.monotonic() - sent
        report["status"] = child.returncode
        lines = (work / "hft.log").read_bytes().splitlines()
        report["in_file"] = sum(1 for x in lines if b'"msg":"order placed"' in x)
        if kind == "stuck":
            child.communicate()
        report["kind"] = kind
        return report


def run_stall(rate: float = 10_000, seconds: float = 8.0, rounds: int = 3) -> list[dict[str, Any]]:
    """Interleaved rounds of a drained and a stuck console; one report per child."""
    runs: list[dict[str, Any]] = []
    for n in range(rounds):
        kinds = ["drained", "stuck"] if n % 2 == 0 else ["stuck", "drained"]
        runs.extend(_one(kind, rate, seconds) for kind in kinds)
    return runs


def table(runs: list[dict[str, Any]]) -> str:
    """The runs, one line each, and the medians per kind."""
    head = "kind     kept    >1ms  p99 ns  p99.9 ns  in file / calls   console dropped  exit s"
    rows = [head]
    for r in runs:
        kept = r["calls"] / r["scheduled"]
        rows.append(
            f"{r['kind']:<8} {kept:6.1%} {r['over_1ms']:5d} {r['p99_ns']:7,d} {r['p999_ns']:9,d}"
            f"  {r['in_file']:,} / {r['calls']:,}   {r['console_dropped']:>14,}  {r['exit_s']:5.2f}"
        )
    for kind in ("drained", "stuck"):
        mine = [r for r in runs if r["kind"] == kind]
        if mine:
            over = statistics.median(r["over_1ms"] for r in mine)
            kept = statistics.median(r["calls"] / r["scheduled"] for r in mine)
            rows.append(f"median {kind}: kept {kept:.1%}, calls over 1 ms {over:g}")
    return "\n".join(rows)


if __name__ == "__main__" and sys.argv[1:2] == ["child"]:
    _child(Path(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
