"""JSON lines on disk, with daily or size-based rotation and a retention count."""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from hft.logging._clock import utc_day, utc_stamp
from hft.logging._levels import parse_level
from hft.logging._record import Record
from hft.logging._render import JsonLineRenderer
from hft.logging.backends._base import BaseBackend

Rotation = Literal["daily", "size", "none"]


class FileBackend(BaseBackend):
    """Appends one JSON object per record to ``file_path``.

    Each batch becomes one ``write`` system call on an unbuffered descriptor, so a record the
    backend reports written is in the kernel, and a crash of the process loses none of them.
    ``rotation="daily"`` starts a new file at UTC midnight (the old one gets the date as a
    suffix); ``rotation="size"`` starts one when ``max_bytes`` is reached (a UTC timestamp
    suffix with microseconds, so names sort in time order). Only the newest ``retention``
    rotated files are kept.
    """

    name = "file"

    def __init__(
        self,
        *,
        level: int | str = "INFO",
        file_path: str | os.PathLike[str] = "logs/hft.log",
        format: Literal["json"] = "json",  # noqa: A002 - the spec's parameter name
        rotation: Rotation = "daily",
        max_bytes: int = 100 * 1024 * 1024,
        retention: int = 7,
        max_field_chars: int = 4096,
    ) -> None:
        if format != "json":
            raise ValueError(f"file backend: unsupported format {format!r} (only 'json')")
        if rotation not in ("daily", "size", "none"):
            raise ValueError(f"file backend: unknown rotation {rotation!r}")
        self.level = parse_level(level)
        self.path = Path(file_path)
        self._rotation = rotation
        self._max_bytes = max_bytes
        self._retention = retention
        self._render = JsonLineRenderer(max_field_chars)
        self._fd = -1
        self._size = 0
        self._day = ""
        self._open()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self._fd = os.open(self.path, flags, 0o644)
        stat = os.fstat(self._fd)
        self._size = stat.st_size
        self._day = utc_day(stat.st_mtime if stat.st_size else time.time())

    def write(self, records: Sequence[Record]) -> None:
        """Render *records* and append them with one write.

        A failed write leaves no torn line behind (the file is cut back to where the batch
        began), so the pipeline can retry the whole batch; a descriptor closed under the
        backend is reopened on the next write.
        """
        if self._fd < 0:
            self._open()
        self._maybe_rotate()
        self._write_all(self._render.many(records))

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            self._undo(exc)
            raise
        self._size += len(data)

    def _undo(self, exc: OSError) -> None:
        if exc.errno == errno.EBADF:
            self._fd = -1  # closed under us: reopen on the next write
            return
        with contextlib.suppress(OSError):  # the write error is what the caller needs to see
            os.ftruncate(self._fd, self._size)

    def _maybe_rotate(self) -> None:
        if self._rotation == "daily":
            today = utc_day(time.time())
            if today != self._day:
                self._rotate(self._day)
        elif self._rotation == "size" and self._size >= self._max_bytes:
            self._rotate(utc_stamp())

    def _rotate(self, suffix: str) -> None:
        os.close(self._fd)
        target = self.path.with_name(f"{self.path.name}.{suffix}")
        n = 1
        while target.exists():
            target = self.path.with_name(f"{self.path.name}.{suffix}.{n}")
            n += 1
        os.replace(self.path, target)
        self._prune()
        self._open()

    def rotated_files(self) -> list[Path]:
        """Rotated files of this log, oldest first."""
        rotated = self.path.parent.glob(f"{self.path.name}.*")
        return sorted(rotated, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def _prune(self) -> None:
        rotated = self.rotated_files()
        for old in rotated[: max(0, len(rotated) - self._retention)]:
            old.unlink(missing_ok=True)

    def close(self) -> None:
        """Close the file; closing twice is harmless."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
