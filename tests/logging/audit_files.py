"""Helpers for audit tests: write real audit files record by record, edit their lines."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hft.logging import AUDIT
from hft.logging.audit.backend import AuditBackend
from hft.logging.record import Record, Source

SOURCE = Source.create("strategy.arb", ("arb",), {})


def record(n: int, event: str = "order.placed", **fields: Any) -> Record:
    """An audit record as the pipeline hands it to a backend."""
    return (n, time.time_ns(), AUDIT, SOURCE, event, {"n": n, **fields})


def write_trail(path: Path, count: int, start: int = 0, **settings: Any) -> AuditBackend:
    """Write *count* audit records (one per batch) to *path*; the backend is returned closed."""
    backend = AuditBackend(file_path=path, **settings)
    for n in range(start, start + count):
        backend.write([record(n)])
    backend.close()
    return backend


def lines(path: Path) -> list[bytes]:
    """The lines of *path*, newlines kept."""
    return path.read_bytes().splitlines(keepends=True)


def rewrite(path: Path, new_lines: list[bytes]) -> None:
    """Replace the content of *path* with *new_lines*."""
    path.write_bytes(b"".join(new_lines))


def append_torn(path: Path, size: int = 40) -> bytes:
    """Append the start of a line, as a crash mid-write leaves it (after the checkpoint)."""
    torn = lines(path)[-1][:size]
    with path.open("ab") as file:
        file.write(torn)
    return torn
