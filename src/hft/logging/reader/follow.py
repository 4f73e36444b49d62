"""Following a live file as it grows, across rotations, like ``tail -F``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Final

#: The most read from one file per poll (the rest comes at the next poll, at once).
READ_BYTES: Final = 4 << 20


class Follower:
    """The complete lines appended to one live file since the last :meth:`poll`.

    A rotation (the live file renamed and a new one made) is seen by the path naming another
    file: what is left of the old file is read to its end first, then the new one from its
    start. A file cut shorter is read again from its start; a path that is missing for a while
    is waited for.
    """

    def __init__(self, path: Path, offset: int) -> None:
        self.path = path
        self._stream: BinaryIO | None = None
        self._identity: tuple[int, int] | None = None
        self._pending = b""
        #: Bytes left behind without a newline when the file was left (torn lines).
        self.torn = 0
        self._open(offset)

    def _open(self, offset: int) -> None:
        try:
            stream = open(self.path, "rb", buffering=0)  # noqa: SIM115 - kept across polls
        except FileNotFoundError:
            return
        status = os.fstat(stream.fileno())
        stream.seek(min(offset, status.st_size))
        self._stream, self._identity = stream, (status.st_dev, status.st_ino)

    def poll(self) -> list[bytes]:
        """New complete lines, newline included, in file order."""
        lines = self._read()
        if self._replaced():
            lines += self._read_to_end()
            self._leave()
            self._open(0)
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
