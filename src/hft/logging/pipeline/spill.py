"""Where a failed backend's records go: standard error, or a spill file of JSON lines.

Both fallbacks render records with the careful JSON renderer, so what they write always parses,
whatever the fields hold. They are used only on the dispatcher thread, only while a backend is
failing, so they are written for safety rather than speed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, TextIO

from hft.logging.record import Record
from hft.logging.render.lines import JsonLineRenderer


class Fallback(Protocol):
    """Takes the records a failed backend could not; raises if it cannot either."""

    def write(self, records: Sequence[Record]) -> None:
        """Keep *records* somewhere a person can find them."""


class StderrFallback:
    """JSON lines on standard error (looked up at each write, so redirections are honoured)."""

    def __init__(self, stream: TextIO | None = None, max_field_chars: int = 4096) -> None:
        self._stream = stream
        self._render = JsonLineRenderer(max_field_chars)

    def write(self, records: Sequence[Record]) -> None:
        """Write *records* as JSON lines and flush."""
        stream = self._stream or sys.stderr
        stream.write(self._render.many(records).decode("utf-8", "replace"))
        stream.flush()

    def __repr__(self) -> str:
        return "stderr"


class SpillFile:
    """JSON lines appended to a file (``<spill_dir>/<backend>.jsonl``), opened on first use.

    Nothing is created until a backend actually fails over, so a healthy run leaves no empty
    spill files behind. Each batch is one ``write`` on an ``O_APPEND`` descriptor.
    """

    def __init__(self, path: str | os.PathLike[str], max_field_chars: int = 4096) -> None:
        self.path = Path(path)
        self._render = JsonLineRenderer(max_field_chars)
        self._fd = -1

    def write(self, records: Sequence[Record]) -> None:
        """Append *records* as JSON lines."""
        if self._fd < 0:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
            self._fd = os.open(self.path, flags, 0o600)
        view = memoryview(self._render.many(records))
        while view:
            view = view[os.write(self._fd, view) :]

    def close(self) -> None:
        """Close the file if it was opened; closing twice is harmless."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __repr__(self) -> str:
        return str(self.path)


class NoFallback:
    """``enable_failover: false``: nothing takes the records, so they are counted as lost."""

    def write(self, records: Sequence[Record]) -> None:
        """Refuse, always."""
        raise RuntimeError("failover is disabled")

    def __repr__(self) -> str:
        return "none"


#: Backends whose records are plain log lines fall back to stderr; the rest spill to a file.
STDERR_BACKENDS = frozenset({"console", "file"})


def fallback_for(
    backend_name: str, spill_dir: str | os.PathLike[str], max_field_chars: int
) -> StderrFallback | SpillFile:
    """The default fallback for a backend called *backend_name*."""
    if backend_name in STDERR_BACKENDS:
        return StderrFallback(max_field_chars=max_field_chars)
    return SpillFile(Path(spill_dir) / f"{backend_name}.jsonl", max_field_chars)
