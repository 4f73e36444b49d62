"""The on-disk spool: octet-counted syslog frames kept while the collector is unreachable.

A directory of segment files, read oldest first. Frames are appended to the newest segment;
frames that must go *before* everything spooled (a broken connection's unconfirmed tail) get a
segment of their own in front. Reading and confirming are separate steps: a chunk read is only
removed once the transport confirms it (sent for TCP, acknowledged for RELP), and a broken
connection rewinds the reader to the last confirmed point. The confirmed offset into the oldest
segment is written beside it at close, so the next start resumes there instead of replaying
the segment from its beginning. Bounded by ``max_bytes``: what does not fit is refused.

Thread-safe: the dispatcher appends while the sender thread reads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Final, NamedTuple

from hft.logging.backends._rfc5424 import octet_frame, split_frames

_SUFFIX: Final = ".spool"
_POS: Final = ".pos"
_FIRST_ID: Final = 10**15  # room for ids below (prepends) and above (appends)


class Chunk(NamedTuple):
    """Messages read from one segment, and where the segment ends once they are confirmed."""

    messages: list[bytes]
    segment: int
    end: int


class Spool:
    """A bounded FIFO of syslog frames in segment files under *directory*."""

    def __init__(
        self, directory: str | os.PathLike[str], max_bytes: int, segment_bytes: int = 1 << 20
    ) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._sizes = {int(p.stem): p.stat().st_size for p in self.dir.glob(f"*{_SUFFIX}")}
        self._done = self._load_positions()  # confirmed offset per segment
        self._read = dict(self._done)  # read offset per segment
        self._tail_fd = -1
        self._tail = -1

    def _path(self, segment: int) -> Path:
        return self.dir / f"{segment:020d}{_SUFFIX}"

    def _load_positions(self) -> dict[int, int]:
        done = {}
        for pos in self.dir.glob(f"*{_POS}"):
            segment = int(pos.stem)
            if segment in self._sizes:
                done[segment] = min(int(pos.read_text() or 0), self._sizes[segment])
            pos.unlink()
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
        view = memoryview(data)
        while view:
            view = view[os.write(self._tail_fd, view) :]
        self._sizes[self._tail] += len(data)

    def _open_tail(self, segment: int) -> None:
        self._close_tail()
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self._tail_fd = os.open(self._path(segment), flags, 0o600)
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
            self._path(segment).write_bytes(data)
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
        with self._path(segment).open("rb") as file:
            file.seek(offset)
            data = file.read(min(max_bytes, self._sizes[segment] - offset))
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
        self._path(segment).unlink(missing_ok=True)
        for table in (self._sizes, self._done, self._read):
            table.pop(segment, None)

    def rewind(self) -> None:
        """Forget what was read but not confirmed: it is read again next time."""
        with self._lock:
            self._read = dict(self._done)

    def close(self) -> None:
        """Close the newest segment and note how far the oldest was confirmed."""
        with self._lock:
            self._close_tail()
            for segment, offset in self._done.items():
                if offset:
                    (self.dir / f"{segment:020d}{_POS}").write_text(str(offset))
