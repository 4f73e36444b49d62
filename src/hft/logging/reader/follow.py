"""Following a live file as it grows, across rotations, like ``tail -F``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

from hft.logging.backends.rotated import UNREADABLE, original_of
from hft.logging.reader.files import Skips, rotated_files, rotation_batches

Identity = tuple[int, int] | None
#: The most read from one file at a time (of the live file, per poll: the rest comes at the
#: next poll, at once; of a file left or missed, per batch, so none is held whole).
READ_BYTES: Final = 4 << 20


class Follower:
    """The complete lines appended to one live file since the last :meth:`poll`.

    A rotation (the live file renamed and a new one made) is seen by the path naming another
    file: what is left of the old file is read to its end first, then the files rotated away
    after it before this poll, then the new one from its start. Those are the rotations (by
    their original rotated name, compressed or not now) that were not there at the previous
    rotation (or at the start), oldest first, less the one the follower had open (found by its
    identity; compressed since, it is the oldest of them: rotations come in order) and the one
    now open. A file cut shorter is read again from its start; a path that is missing for a
    while is waited for.
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
        #: The rotations there at the last rotation seen (or the start), by original name.
        self._seen = {original for original, _ in self._rotations()}

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
        return [line for batch in self.batches() for line in batch]

    def batches(self) -> Iterator[list[bytes]]:
        """:meth:`poll`'s lines a batch at a time (each from at most READ_BYTES), so that a
        file left or missed is streamed, never held whole."""
        if lines := self._read():
            yield lines
        if self._replaced():
            yield from self._rest()  # of the file left
            left = self._identity
            self._leave()
            self._open(0)
            yield from self._missed(left)
        if lines := self._read():  # the new file, or this one again if it was cut shorter
            yield lines

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
        return self._lines(self._stream.read(READ_BYTES) or b"")

    def _rest(self) -> Iterator[list[bytes]]:
        """The lines of the file open up to its end, a batch at a time (a line longer than a
        batch included)."""
        while self._stream is not None and (data := self._stream.read(READ_BYTES)):
            if lines := self._lines(data):
                yield lines

    def _lines(self, data: bytes) -> list[bytes]:
        data = self._pending + data
        cut = data.rfind(b"\n") + 1
        self._pending = data[cut:]
        return [line + b"\n" for line in data[: cut - 1].split(b"\n")] if cut else []

    def _rotations(self) -> list[tuple[Path, Path]]:
        """The rotated files now, oldest first: (original name, the name to read it by)."""
        return [(original_of(path), path) for path in rotated_files(self.path)]

    def _missed(self, left: Identity) -> Iterator[list[bytes]]:
        """The lines of the files rotated away after the one *left* (None: none was open)
        and before the one now open, a batch at a time."""
        rotations = self._rotations()
        seen, self._seen = self._seen, {original for original, _ in rotations}
        new = [(original, path) for original, path in rotations if original not in seen]
        skip = {_rotation_of(rotations, self._identity)}  # the one now open, if rotated yet
        if left is not None:
            mine = _rotation_of(rotations, left)
            skip.add(mine if mine is not None or not new else new[0][0])
        for original, path in new:
            if original in skip:
                continue
            skips = Skips()
            yield from rotation_batches(path, skips)
            self.torn += skips.count
            self.unreadable += skips.unreadable

    def _leave(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self.torn += bool(self._pending)
        self._stream, self._identity, self._pending = None, None, b""

    def close(self) -> None:
        """Close the file followed."""
        self._leave()


def _rotation_of(rotations: list[tuple[Path, Path]], identity: Identity) -> Path | None:
    """The original name of the rotation whose uncompressed file is *identity* (never a
    match for None: a file gone has no identity to compare)."""
    if identity is None:
        return None
    for original, _ in rotations:
        if _identity(original) == identity:
            return original
    return None


def _identity(path: Path) -> Identity:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_dev, status.st_ino
