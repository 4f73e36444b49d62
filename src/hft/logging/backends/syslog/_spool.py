"""The on-disk spool: octet-counted syslog frames kept while the collector is unreachable.

A directory of segment files, read oldest first. Frames are appended to the newest segment;
frames that must go *before* everything spooled (a broken connection's unconfirmed tail) get a
segment of their own in front. Reading and confirming are separate steps: a chunk read is only
removed once the transport confirms it (sent for TCP, acknowledged for RELP), and a broken
connection rewinds the reader to the last confirmed point. The confirmed offset into the oldest
segment is written beside it at close, as a line, so the next start resumes there instead of
replaying the segment from its beginning (a note cut short by a crash is ignored: replayed).
A write that fails part-way is cut back off the segment, so a partial frame never sits before
the next one. Bounded by ``max_bytes``: what does not fit is refused.

Files are ours: the directory is opened once without following a symbolic link, and every
file in it is opened relative to it with ``O_NOFOLLOW``, so neither the directory nor a segment
can be a link to somewhere else; a link (or a hard-linked or special file) is refused with an
error naming ``logging.backends.syslog.spool_dir``. Every file has exactly ``file_mode``.

Thread-safe: the dispatcher appends while the sender thread reads.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Final, NamedTuple

from hft.logging.backends.syslog._rfc5424 import octet_frame, split_frames

_SUFFIX: Final = ".spool"
_POS: Final = ".pos"
_FIRST_ID: Final = 10**15  # room for ids below (prepends) and above (appends)
_KEY: Final = "logging.backends.syslog.spool_dir"
_NOFOLLOW: Final = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # NONBLOCK: a FIFO never hangs


class SpoolError(OSError):
    """The spool folder or one of its files is not ours to use (a symbolic link, ...)."""


class Chunk(NamedTuple):
    """Messages read from one segment, and where the segment ends once they are confirmed."""

    messages: list[bytes]
    segment: int
    end: int


class Spool:
    """A bounded FIFO of syslog frames in segment files under *directory*."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        max_bytes: int,
        segment_bytes: int = 1 << 20,
        *,
        file_mode: int = 0o600,
    ) -> None:
        self.dir = Path(directory)
        self.max_bytes = max_bytes
        self.file_mode = file_mode
        self._segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._dir_fd = _open_dir(self.dir, file_mode)
        try:
            self._sizes = {int(name[: -len(_SUFFIX)]): self._size(name)
                           for name in self._names(_SUFFIX)}  # fmt: skip
            self._done = self._load_positions()  # confirmed offset per segment
        except BaseException:
            os.close(self._dir_fd)
            raise
        self._read = dict(self._done)  # read offset per segment
        self._tail_fd = -1
        self._tail = -1

    def _name(self, segment: int, suffix: str = _SUFFIX) -> str:
        return f"{segment:020d}{suffix}"

    def _names(self, suffix: str) -> list[str]:
        names = os.listdir(self._dir_fd)
        return [n for n in names if n.endswith(suffix) and n[: -len(suffix)].isdigit()]

    def _size(self, name: str) -> int:
        """The size of a segment left by an earlier run, checked and given ``file_mode``."""
        fd = self._open(name, os.O_RDONLY)
        try:
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    def _open(self, name: str, flags: int) -> int:
        """*name* in the spool folder, never through a link; created files get ``file_mode``."""
        try:
            fd = os.open(name, flags | _NOFOLLOW, self.file_mode, dir_fd=self._dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _refused(self.dir / name, "is a symbolic link") from None
            raise
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                raise _refused(self.dir / name, "is not a regular file of its own")
            if stat.S_IMODE(info.st_mode) != self.file_mode:
                os.fchmod(fd, self.file_mode)  # whatever the umask or an earlier setting
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _write_file(self, name: str, data: bytes, flags: int) -> None:
        fd = self._open(name, os.O_WRONLY | os.O_CREAT | flags)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)

    def _read_file(self, name: str, offset: int, size: int) -> bytes:
        fd = self._open(name, os.O_RDONLY)
        try:
            return os.pread(fd, size, offset)
        finally:
            os.close(fd)

    def _load_positions(self) -> dict[int, int]:
        done = {}
        for name in self._names(_POS):
            segment = int(name[: -len(_POS)])
            if segment in self._sizes:
                text = self._read_file(name, 0, 32).decode("ascii", "replace")
                whole = text.endswith("\n") and text[:-1].isdigit()  # a torn note: from 0
                done[segment] = min(int(text[:-1]) if whole else 0, self._sizes[segment])
            os.unlink(name, dir_fd=self._dir_fd)
        return done

    @property
    def size(self) -> int:
        """Bytes spooled and not yet confirmed."""
        with self._lock:  # the other thread may be changing the tables
            return sum(self._sizes.values()) - sum(self._done.values())

    def __bool__(self) -> bool:
        return self.size > 0

    def append(self, messages: Sequence[bytes]) -> int:
        """Spool *messages* after everything else; returns how many fitted."""
        data, taken = self._fit(messages)
        if taken:
            with self._lock:
                self._append_locked(data)
        return taken

    def _fit(self, messages: Sequence[bytes]) -> tuple[bytes, int]:
        room = self.max_bytes - self.size
        frames = []
        for message in messages:
            frame = octet_frame(message)
            room -= len(frame)
            if room < 0:
                break
            frames.append(frame)
        return b"".join(frames), len(frames)

    def _append_locked(self, data: bytes) -> None:
        full = self._sizes.get(self._tail, self._segment_bytes) >= self._segment_bytes
        if self._tail_fd < 0 or full:
            self._open_tail(max(self._sizes, default=_FIRST_ID - 1) + 1)
        try:
            _write_all(self._tail_fd, data)
        except OSError:
            self._cut_back()
            raise
        self._sizes[self._tail] += len(data)

    def _cut_back(self) -> None:
        """A write that failed part-way leaves no partial frame for the next one to follow:
        the segment is cut back to its whole frames or, when that fails too, left (the next
        append opens a new segment; the stray bytes lie past the end this run reads, and are
        a torn last frame, skipped, at the next start)."""
        try:
            os.ftruncate(self._tail_fd, self._sizes[self._tail])
        except OSError:
            self._close_tail()

    def _open_tail(self, segment: int) -> None:
        self._close_tail()
        self._tail_fd = self._open(self._name(segment), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        self._tail = segment
        self._sizes.setdefault(segment, 0)

    def _close_tail(self) -> None:
        if self._tail_fd >= 0:
            os.close(self._tail_fd)
        self._tail_fd, self._tail = -1, -1

    def prepend(self, messages: Sequence[bytes]) -> None:
        """Spool *messages* before everything else (over the bound: they were accepted once)."""
        if not messages:
            return
        with self._lock:
            segment = min(self._sizes, default=_FIRST_ID) - 1
            data = b"".join(map(octet_frame, messages))
            self._write_file(self._name(segment), data, os.O_EXCL)
            self._sizes[segment] = len(data)

    def read(self, max_bytes: int = 1 << 20) -> Chunk | None:
        """The next unread messages of the oldest segment with any, or None."""
        with self._lock:
            for segment in sorted(self._sizes):
                offset = self._read.get(segment, 0)
                if offset < self._sizes[segment]:
                    return self._read_from(segment, offset, max_bytes)
        return None

    def _read_from(self, segment: int, offset: int, max_bytes: int) -> Chunk:
        size = min(max_bytes, self._sizes[segment] - offset)
        data = self._read_file(self._name(segment), offset, size)
        messages, used = split_frames(data)
        if messages:
            self._read[segment] = offset + used
            return Chunk(messages, segment, offset + used)
        remaining = self._sizes[segment] - offset
        if len(data) < remaining:  # one frame larger than max_bytes: read it whole
            return self._read_from(segment, offset, remaining)
        return Chunk([], segment, self._skip(segment))

    def _skip(self, segment: int) -> int:
        """A torn last frame (a crash mid-write) is skipped, not retried forever."""
        self._read[segment] = self._sizes[segment]
        return self._sizes[segment]

    def confirm(self, chunk: Chunk) -> None:
        """*chunk* reached the collector: forget it, and its segment once wholly confirmed."""
        with self._lock:
            segment = chunk.segment
            if segment not in self._sizes:
                return
            self._done[segment] = chunk.end
            if chunk.end >= self._sizes[segment]:
                self._remove(segment)

    def _remove(self, segment: int) -> None:
        if segment == self._tail:
            self._close_tail()
        self._unlink(self._name(segment))
        for table in (self._sizes, self._done, self._read):
            table.pop(segment, None)

    def _unlink(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self._dir_fd)

    def rewind(self) -> None:
        """Forget what was read but not confirmed: it is read again next time."""
        with self._lock:
            self._read = dict(self._done)

    def close(self) -> None:
        """Close the newest segment and note how far the oldest was confirmed (idempotent)."""
        with self._lock:
            if self._dir_fd < 0:
                return
            self._close_tail()
            for segment, offset in self._done.items():
                if offset:
                    self._unlink(self._name(segment, _POS))
                    self._write_file(self._name(segment, _POS), b"%d\n" % offset, os.O_EXCL)
            os.close(self._dir_fd)
            self._dir_fd = -1


def _open_dir(path: Path, file_mode: int) -> int:
    """The spool folder, created if missing (owner-only unless *file_mode* shares it), opened
    without following a link at its last component."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700 | (file_mode & 0o070 and 0o050) | (file_mode & 0o007 and 0o005))
    if path.is_symlink():
        raise _refused(path, "is a symbolic link")
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _refused(path, "is a symbolic link or not a folder") from None
        raise


def _refused(path: Path, why: str) -> SpoolError:
    error = SpoolError(f"{_KEY}: {path} {why}; the spool never follows links (remove it)")
    error.errno = errno.ELOOP
    return error


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
