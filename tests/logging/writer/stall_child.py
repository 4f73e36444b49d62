"""A child process for test_stalls.py: logs under the shipped ``dev`` settings while its
stderr is a pipe that the test does not read.

Usage: ``python stall_child.py <work folder> <calls> <rate per s> <close|wait> [overrides]``
(*overrides*: JSON merged over the ``logging`` section, e.g. a syslog collector to use).
Paced calls of ``log.info`` (the console takes them at DEBUG, the file at INFO); then
``close`` shuts the pipeline down, ``wait`` prints ``ready`` and waits for a signal. The
number of calls made and the pipeline's per-sink counts go to ``<work folder>/child.json``,
written at exit (``atexit``, after the pipeline's own drain).
"""

from __future__ import annotations

import atexit
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from hft.config import load_settings
from hft.logging import HFTLogger, create_pipeline_from_config

_made = {"calls": 0, "late_calls": 0}


def _report(work: Path, pipeline: Any) -> None:
    metrics = pipeline.metrics()
    stats = {
        name: {
            "written": s.written,
            "dropped": s.dropped,
            "routed": s.routed,
            "pending": s.pending,
            "failed_over": s.failed_over,
            "lost": s.lost,
            "state": s.state,
        }
        for name, s in metrics.backends.items()
    }
    body = {**_made, "backends": stats, "exited_at": time.monotonic()}
    (work / "child.json").write_bytes(orjson.dumps(body))


def main() -> None:
    """Log paced calls, then close or wait for a signal."""
    work, calls, rate, how = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    config = load_settings("dev").logging.model_dump()
    config["backends"]["file"].update(file_path=str(work / "hft.log"), rotation="none")
    config["hft_settings"].update(spill_dir=str(work / "spill"), drain_deadline_ms=1000)
    for section, keys in (orjson.loads(sys.argv[5]) if len(sys.argv) > 5 else {}).items():
        for key, value in keys.items():
            target = config[section][key] if section == "backends" else config[section]
            target.update(value if section == "backends" else {key: value})
    pipeline = create_pipeline_from_config(config)
    atexit.register(_report, work, pipeline)  # registered first: runs after the drain
    pipeline.start()
    log = HFTLogger(pipeline, "exchange.mexc.orders", ["mexc", "orders"])
    start, step = time.monotonic(), 1.0 / rate
    for i in range(calls):
        while time.monotonic() < start + i * step:
            pass
        log.info("order placed", symbol="BTCUSDT", price=123.45, qty=i)
        _made["calls"] = i + 1
    if how == "close":
        pipeline.close()
        return
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # short sleeps: a signal's handler runs within one
        time.sleep(0.05)


if __name__ == "__main__":
    main()
