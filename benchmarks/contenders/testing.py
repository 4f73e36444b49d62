"""Fakes for testing the suite itself: a contender that loses records on purpose."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.contenders import Contender
from benchmarks.contenders.baseline import render

DROP_EVERY = 10


def setup_lossy(path: Path) -> Contender:
    """Write synchronously, but drop every tenth record (as a full bounded queue would)."""
    file = path.open("wb")
    calls = 0

    def log(msg: str, /, **kw: Any) -> None:
        nonlocal calls
        calls += 1
        if calls % DROP_EVERY:
            file.write(render((time.time_ns(), 20, msg, kw)))

    return Contender(log=log, log_filtered=None, close=file.close)
