"""JSON lines on disk, with daily or size-based rotation and a retention count."""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

import orjson

from hft.logging.backends.base import BackendContext, BaseBackend, Say
from hft.logging.backends.compress import Compressor
from hft.logging.backends.rotated import (
    UNREADABLE,
    Compression,
    last_line_of,
    original_of,
    rotated_groups,
    taken,
    variants,
)
from hft.logging.levels import parse_level
from hft.logging.record import Record
from hft.logging.render.clock import utc_day, utc_stamp
from hft.logging.render.schemas import Schema, line_renderer

Rotation = Literal["daily", "size", "none"]
#: The settings key named in errors about the log's path.
PATH_KEY: Final = "logging.backends.file.file_path"
DEFAULT_FILE_MODE: Final = 0o640


class FileBackend(BaseBackend):
    """Appends one JSON object per record to ``file_path``.

    Each batch becomes one ``write`` system call on an unbuffered descriptor, so a record the
    backend reports written is in the kernel, and a crash of the process loses none of them.
    ``rotation="daily"`` starts a new file at UTC midnight (the old one gets the date as a
    suffix); ``rotation="size"`` starts one when ``max_bytes`` is reached (a UTC timestamp
    suffix with microseconds, so names sort in time order). Only the newest ``retention``
    rotated files are kept, compressed or not. ``compression="gzip"`` or ``"zstd"`` has a
    worker thread of the backend's own compress each rotated file to ``<name>.gz`` /
    ``<name>.zst``, crash-safe (see :mod:`hft.logging.backends.compress`).

    The log is ours: ``file_path`` is never followed when it is a symbolic link (the open
    refuses with an error naming the setting), and a file the backend creates gets
    ``file_mode`` whatever the umask; an existing file keeps its mode. ``schema`` names the
    lines' fields: hft's own, ECS or OTLP/JSON (:mod:`hft.logging.render.schemas`).

    A compression that fails is tried again a few times, then left until the next rotation
    (the original stays); the counts are in :meth:`stats`, and a run of failures is said once
    (with the path and errno) as the pipeline's warning, or on stderr when there is none.
    """

    name = "file"
    extra_settings = ("max_field_chars", "yield_every", "pid")

    def __init__(
        self,
        *,
        level: int | str = "INFO",
        file_path: str | os.PathLike[str] = "logs/hft.log",
        format: Literal["json"] = "json",  # noqa: A002 - the settings key's name
        schema: Schema = "hft",
        rotation: Rotation = "daily",
        max_bytes: int = 100 * 1024 * 1024,
        retention: int = 7,
        max_field_chars: int = 4096,
        file_mode: int | str = DEFAULT_FILE_MODE,
        yield_every: int = 0,
        pid: int | None = None,
        compression: Compression = "none",
    ) -> None:
        if format != "json":
            raise ValueError(f"file backend: unsupported format {format!r} (only 'json')")
        if rotation not in ("daily", "size", "none"):
            raise ValueError(f"file backend: unknown rotation {rotation!r}")
        self.level = parse_level(level)
        self.path = Path(file_path)
        self._mode = parse_file_mode(file_mode)
        self._rotation = rotation
        self._max_bytes = max_bytes
        self._retention = retention
        #: ``schema`` picks the field names (:mod:`hft.logging.render.schemas`); *pid* is the
        #: logging process's (otel's ``process.pid``), which a writer process passes on.
        self._render = line_renderer(schema, max_field_chars, yield_every=yield_every, pid=pid)
        self._fd = -1
        self._size = 0
        self._day = ""
        #: A failed write could not be cut back: bytes past ``_size`` are a torn batch.
        self._stray = False
        self._compressor = Compressor(self.path, compression)
        self._say: Say = say_on_stderr  #: until a pipeline attaches (then its warnings)
        self._over = False  #: a prune kept a file the worker had in hand: prune again at close
        self._open()
        self._compressor.recover()

    @property
    def yield_every(self) -> int:
        """Records rendered between offers of the CPU (0: never; a writer process sets it)."""
        return self._render.yield_every

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = open_log(self.path, self._mode)
        reader = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:  # a line torn by a kill must not glue itself to the first record of this start
            cut_torn_tail(reader, self._fd)
        finally:
            os.close(reader)
        stat = os.fstat(self._fd)
        self._size = stat.st_size  # measured afresh (a torn tail cut off above)
        self._stray = False
        self._day = utc_day(stat.st_mtime if stat.st_size else time.time())

    def attach(self, context: BackendContext) -> None:
        """Say the compressor's failures as the pipeline's own warnings (*context*)."""
        self._say = context.warn

    def stats(self) -> Mapping[str, float]:
        """The compressor's counts (``compressed``, ``compress_failures``,
        ``compress_retries``), for ``BackendStats.extra`` and Prometheus; none without
        compression."""
        return self._compressor.stats() if self._compressor.method != "none" else {}

    def flush(self) -> None:
        """Say what the compressor queued to be said (its worker cannot log)."""
        self._report()

    def _report(self) -> None:
        for msg, fields in self._compressor.take_reports():
            self._say(msg, backend=self.name, **fields)

    def write(self, records: Sequence[Record]) -> None:
        """Render *records* and append them with one write.

        A failed write leaves no torn line behind (the file is cut back to where the batch
        began), so the pipeline can retry the whole batch; a descriptor closed under the
        backend is reopened on the next write.
        """
        if self._fd < 0:
            self._open()
        if self._stray:  # a cut-back failed: never append behind a torn batch
            os.ftruncate(self._fd, self._size)
            self._stray = False
        self._maybe_rotate()
        self._write_all(self._render.many(records))
        self._report()

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
        try:
            os.ftruncate(self._fd, self._size)
        except OSError:  # the write error is what the caller needs to see; the next write
            self._stray = True  # cuts the torn batch off first, or fails without appending

    def _maybe_rotate(self) -> None:
        if self._rotation == "daily":
            today = utc_day(time.time())
            if today != self._day:
                self._rotate(self._day)
        elif self._rotation == "size" and self._size >= self._max_bytes:
            self._rotate(utc_stamp())

    def _rotate(self, suffix: str) -> None:
        os.close(self._fd)
        self._fd = -1  # a rename that fails reopens the file on the next write, never a stale fd
        target = self.path.with_name(f"{self.path.name}.{suffix}")
        n = 1
        while taken(target):  # compressed, its name is still taken: never compressed over
            target = self.path.with_name(f"{self.path.name}.{suffix}.{n}")
            n += 1
        os.replace(self.path, target)
        self._prune()
        self._open()
        if self._compressor.method != "none" and os.path.lexists(target):
            self._compressor.submit(target)

    def rotated_files(self) -> list[Path]:
        """Rotated files of this log, oldest first: one per rotation, by its compressed name
        once that exists (a ``.tmp`` never), else by its own."""
        return rotated_groups(self.path)

    def _prune(self) -> None:
        """Delete all but the newest ``retention`` rotations (each in every form it has on
        disk), never the one the compressor has in hand."""
        with self._compressor.held() as busy:
            rotated = self.rotated_files()
            self._over = False
            for old in rotated[: max(0, len(rotated) - self._retention)]:
                if original_of(old) == busy:
                    self._over = True
                    continue
                for path in variants(original_of(old)):
                    path.unlink(missing_ok=True)
                self._compressor.pause.at("pruning")

    def wait_compressed(self, timeout: float | None = None) -> bool:
        """Wait until no rotated file waits to be compressed; False at *timeout*."""
        return self._compressor.wait(timeout)

    def last_line(self) -> bytes | None:
        """The last complete line written (newline included), or None if there is none.

        A torn last line (a writer killed in the middle of a ``write``) is cut off first, so the
        next write starts on a line of its own. When the current file is empty, the newest
        rotated file is read instead. A replacement writer process uses this to skip the
        records a killed one already wrote (see ``hft.logging.writer``).
        """
        if self._fd < 0:
            self._open()
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            cut_torn_tail(fd, self._fd)
            self._size = os.fstat(self._fd).st_size
            line = read_last_line(fd)
        finally:
            os.close(fd)
        rotated = self.rotated_files()
        if line is None and rotated:
            return rotated_last_line(rotated[-1])
        return line

    def render(self, records: Sequence[Record]) -> bytes:
        """The bytes :meth:`write` would append for *records*."""
        return self._render.many(records)

    def close(self) -> None:
        """Close the file and stop the compressor (what it had not done, the next backend on
        this path does); closing twice is harmless."""
        self._compressor.close()
        self._report()
        if self._over:
            self._prune()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


_TAIL_CHUNK: Final = 1 << 16


def say_on_stderr(msg: str, **fields: Any) -> None:
    """A warning as one JSON line on standard error (a backend no pipeline attached)."""
    line = {"level": "WARNING", "logger": "hft.logging", "msg": msg, "fields": fields}
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(orjson.dumps(line, default=str).decode() + "\n")
        sys.stderr.flush()


def parse_file_mode(mode: int | str) -> int:
    """A permission mode from an int (``0o640``) or an octal string (``"0640"``, ``"0o640"``)."""
    try:
        value = int(mode, 8) if isinstance(mode, str) else int(mode)
    except ValueError:
        value = -1
    if not 0 <= value <= 0o777:
        raise ValueError(f"logging.backends.file.file_mode: {mode!r} is not a mode like '0640'")
    return value


def open_log(path: Path, mode: int) -> int:
    """An append descriptor on *path*, never through a symlink; a new file gets *mode*."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            return os.open(path, flags)
        os.fchmod(fd, mode)  # the umask must not loosen (or tighten) what was configured
        return fd
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(
                errno.ELOOP,
                f"{PATH_KEY}: {path} is a symbolic link; hft does not write through it"
                " (point the setting at the real file)",
                str(path),
            ) from None
        raise


def rotated_last_line(entry: Path) -> bytes | None:
    """The last line of a rotated file as :meth:`FileBackend.rotated_files` lists it: read from
    the original while it is there (the compressed twin may still be in flight), else from the
    compressed file (whole: it was fsynced before it was renamed into place)."""
    original = original_of(entry)
    try:
        fd = os.open(original, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        twins = [p for p in variants(original)[1:] if p.exists()]
        try:
            return last_line_of(twins[0]) if twins else None
        except UNREADABLE:  # not ours to read (a symlink) or corrupt: as if none was found
            return None
    except OSError:
        return None
    try:
        return read_last_line(fd)
    finally:
        os.close(fd)


def cut_torn_tail(fd: int, write_fd: int) -> None:
    """Cut a last line that has no newline (a write torn by a kill) off the file."""
    size = os.fstat(fd).st_size
    if not size or os.pread(fd, 1, size - 1) == b"\n":
        return
    end = _last_newline(fd, size)
    os.ftruncate(write_fd, end + 1 if end >= 0 else 0)


def read_last_line(fd: int) -> bytes | None:
    """The last line of a file that ends with a newline (None if it is empty)."""
    size = os.fstat(fd).st_size
    if not size:
        return None
    start = _last_newline(fd, size - 1) + 1
    return os.pread(fd, size - start, start)


def _last_newline(fd: int, end: int) -> int:
    """The offset of the last newline before *end*, or -1 if there is none."""
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        found = os.pread(fd, end - start, start).rfind(b"\n")
        if found >= 0:
            return start + found
        end = start
    return -1
