"""The lossless baseline: a deque drained in batches of 64 by a thread that writes orjson lines.

``collections.deque.append`` is atomic under the GIL, so the call site takes no lock. The writer
polls every millisecond when the deque is empty. ``close`` is registered with :mod:`atexit`, which
runs before daemon threads are killed, so records logged before a plain exit are still written.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import orjson

from benchmarks.contenders import Contender

INFO = 20
BATCH = 64
IDLE_SLEEP_S = 0.001

_Record = tuple[int, int, str, dict[str, Any]]


def render(record: _Record) -> bytes:
    """One JSON line: ts (ns), level, msg, then the fields."""
    ts, level, msg, fields = record
    return orjson.dumps(
        {"ts": ts, "level": level, "msg": msg, **fields}, option=orjson.OPT_APPEND_NEWLINE
    )


class _Writer:
    """The deque, the file and the thread that moves records from one to the other."""

    def __init__(self, path: Path) -> None:
        self.records: deque[_Record] = deque()
        self._file = path.open("wb")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="baseline-writer", daemon=True)
        self._thread.start()

    def _write_batch(self) -> int:
        popleft = self.records.popleft
        count = min(len(self.records), BATCH)
        self._file.write(b"".join([render(popleft()) for _ in range(count)]))
        return count

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._write_batch():
                time.sleep(IDLE_SLEEP_S)

    def close(self) -> None:
        if self._file.closed:
            return
        atexit.unregister(self.close)
        self._stop.set()
        self._thread.join()
        while self._write_batch():
            pass
        self._file.close()


def setup(path: Path) -> Contender:
    """Start the writer thread on *path*; its ``close`` drains everything, also at exit."""
    writer = _Writer(path)
    atexit.register(writer.close)
    append = writer.records.append

    def log(msg: str, /, **kw: Any) -> None:
        append((time.time_ns(), INFO, msg, kw))

    return Contender(log=log, log_filtered=None, close=writer.close)
