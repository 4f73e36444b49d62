"""Following a live file as it grows, across rotations, like ``tail -F``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Final

from hft.logging.backends.compress import UNREADABLE
from hft.logging.reader.files import Skips, rotated_files, rotation_batches

Identity = tuple[int, int] | None
#: The most read from one file per poll (the rest comes at the next poll, at once).
READ_BYTES: Final = 4 << 20


class Follower:
    """The complete lines appended to one live file since the last :meth:`poll`.

    A rotation (the live file renamed and a new one made) is seen by the path naming another
    file: what is left of the old file is read to its end first, then any file rotated away
    after it before this poll (found among the rotated files by the old file's identity), then
    the new one from its start. A file cut shorter is read again from its start; a path that is
    missing for a while is waited for.
    """

    def __init__(self, path: Path, offset: int | None = None) -> None:
        self.path = path
        self._stream: BinaryIO | None = None
        self._identity: Identity = None
        self._pending = b""
        #: Bytes left behind without a newline when the file was left (torn lines).
        self.torn = 0
        #: Files that could not be read (each said on stderr once).
        self.unreadable = 0
        self._refused: Identity = None  # the live file last found unreadable (said once)
        #: Where following started in the file first opened (None: its end then; 0 if none).
        self.offset = self._open(offset)

    def _open(self, offset: int | None) -> int:
        try:
            stream = open(self.path, "rb", buffering=0)  # noqa: SIM115 - kept across polls
        except FileNotFoundError:
            return 0
        except UNREADABLE as exc:  # no permission, say: said once, tried again each poll
            refused = _identity(self.path)
            if refused is None or refused != self._refused:
                self._refused = refused
                skips = Skips()
                skips.unreadable_file(self.path, exc)
                self.unreadable += skips.unreadable
            return 0
        status = os.fstat(stream.fileno())
        offset = status.st_size if offset is None else min(offset, status.st_size)
        stream.seek(offset)
        self._stream, self._identity = stream, (status.st_dev, status.st_ino)
        return offset

    def poll(self) -> list[bytes]:
        """New complete lines, newline included, in file order."""
        lines = self._read()
        if self._replaced():
            lines += self._read_to_end()
            left = self._identity
            self._leave()
            self._open(0)
            lines += self._missed(left)
        return lines + self._read()  # the new file, or this one again if it was cut shorter

    def _replaced(self) -> bool:
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return False  # renamed, the new one not made yet: keep reading the old one
        if self._stream is None:
            return True
        if (status.st_dev, status.st_ino) != self._identity:
            return True
        if status.st_size < self._stream.tell():  # cut shorter: read it again from its start
            self._stream.seek(0)
            self._pending = b""
        return False

    def _read(self) -> list[bytes]:
        if self._stream is None:
            return []
        data = self._pending + (self._stream.read(READ_BYTES) or b"")
        cut = data.rfind(b"\n") + 1
        self._pending = data[cut:]
        return [line + b"\n" for line in data[: cut - 1].split(b"\n")] if cut else []

    def _missed(self, left: Identity) -> list[bytes]:
        """The lines of files rotated away after the one *left* and before the one now open
        (several rotations between two polls), whole."""
        later = _between(rotated_files(self.path), left, self._identity)
        skips = Skips()
        lines = [line for path in later for got in rotation_batches(path, skips) for line in got]
        self.torn += skips.count
        self.unreadable += skips.unreadable
        return lines

    def _read_to_end(self) -> list[bytes]:
        lines: list[bytes] = []
        while more := self._read():
            lines += more
        return lines

    def _leave(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self.torn += bool(self._pending)
        self._stream, self._identity, self._pending = None, None, b""

    def close(self) -> None:
        """Close the file followed."""
        self._leave()


def _between(rotated: list[Path], left: Identity, now: Identity) -> list[Path]:
    """The files of *rotated* after the one *left* and before the one open *now* (none when
    *left* is not there: gone to retention or compressed, its successors cannot be told)."""
    found: list[Path] = []
    started = False
    for path in rotated:
        identity = _identity(path)
        if started and identity == now:
            break
        if started:
            found.append(path)
        started = started or identity == left
    return found


def _identity(path: Path) -> Identity:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_dev, status.st_ino
