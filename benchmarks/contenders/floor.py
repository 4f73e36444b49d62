"""The call-site floor: append a tuple to a deque that nobody drains.

It is the cost of a Python call that captures a timestamp, a level, the message and the fields;
no logger can be cheaper at the call site. It writes no file, so it has no throughput figure.
Nothing drains the deque, so every record stays alive: the collector's passes over them (gen 2
above all) show in the floor's tail and max, which are therefore not a floor for other loggers.
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Any

from benchmarks.contenders import Contender

INFO = 20


def setup(path: Path) -> Contender:
    """A deque and two plain functions; *path* is unused (nothing is written)."""
    del path
    records: deque[tuple[int, int, str, dict[str, Any]]] = deque()
    append = records.append

    def log(msg: str, /, **kw: Any) -> None:
        append((time.time_ns(), INFO, msg, kw))

    def log_filtered(msg: str, /, **kw: Any) -> None:
        return None

    return Contender(log=log, log_filtered=log_filtered, close=records.clear, writes_file=False)
