"""A log's rotated files: their names (compressed or not, a compression in flight), the
rotations listed oldest first, and their bytes read back, decompressed.

A rotated file ``<log>.<suffix>`` becomes ``<log>.<suffix>.gz`` (or ``.zst``) once compressed
(:mod:`hft.logging.backends.compress`), through ``<name>.gz.tmp``, which is never a log to read.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, Literal

import zstandard

Compression = Literal["none", "gzip", "zstd"]
#: The file name ending of each method's compressed files.
SUFFIXES: Final = {"gzip": ".gz", "zstd": ".zst"}
TEMP: Final = ".tmp"  #: a compression in flight: ``<name>.gz.tmp`` (never read as a log)
CHUNK: Final = 1 << 20  #: bytes read, compressed and written at a time
#: What reading a rotated file that is torn, corrupt or not ours (a symlink) raises.
UNREADABLE: Final = (OSError, EOFError, zlib.error, zstandard.ZstdError)


def original_of(path: Path) -> Path:
    """The rotated file *path* was compressed from (*path* itself when it is not compressed)."""
    for suffix in SUFFIXES.values():
        if path.name.endswith(suffix):
            return path.with_name(path.name[: -len(suffix)])
    return path


def variants(original: Path) -> list[Path]:
    """Every name one rotation may have on disk: the original and each compressed one."""
    return [original, *(original.with_name(original.name + s) for s in SUFFIXES.values())]


def taken(original: Path) -> bool:
    """True when a rotation by that name exists, compressed or not (rotation picks another)."""
    return any(os.path.lexists(p) for p in variants(original))


def is_temp(path: Path) -> bool:
    """A compression in flight (or one a kill left): ``<name>.gz.tmp`` / ``<name>.zst.tmp``."""
    return path.name.endswith(tuple(s + TEMP for s in SUFFIXES.values()))


def siblings(log: Path) -> list[Path]:
    """Every ``<log>.*`` beside *log*, its name taken as it is (no glob: ``[`` is a letter)."""
    prefix = log.name + "."
    try:
        return [log.parent / n for n in os.listdir(log.parent) if n.startswith(prefix)]
    except FileNotFoundError:
        return []


def rotated_groups(log: Path) -> list[Path]:
    """The rotated files of *log*, one per rotation, oldest first (mtime, then name).

    A rotation being compressed is listed once: by its compressed name once that exists (it is
    whole: renamed into place after an fsync; the original is about to go), else by its
    original name; a ``.tmp`` is never listed.
    """
    chosen: dict[Path, Path] = {}
    for path in siblings(log):
        if is_temp(path):
            continue
        original = original_of(path)
        if chosen.get(original, original) == original:
            chosen[original] = path
    return [path for _, _, path in sorted(map(_entry, chosen.values()))]


def _entry(listed: Path) -> tuple[int, str, Path]:
    """A rotation's sort key and the name it has now: an original compressed and deleted since
    it was listed is found under its compressed name (never sorted as if it were gone)."""
    original = original_of(listed)
    for path in dict.fromkeys([listed, *variants(original)[1:]]):
        try:
            return path.lstat().st_mtime_ns, original.name, path
        except FileNotFoundError:
            continue
    return 0, original.name, listed  # pruned meanwhile: sorts first, reads as nothing


def read_rotated(
    path: Path, chunk_bytes: int = CHUNK, *, follow_symlinks: bool = False
) -> Iterator[bytes]:
    """The bytes of a rotated file, *chunk_bytes* at a time, decompressed when its name says
    it is compressed (a torn gzip gives what it holds up to the tear, then raises ``EOFError``;
    a corrupt file raises ``OSError``, ``zlib.error`` or ``ZstdError``; a zstd file cut short
    gives what it holds, then ends).
    Never through a symbolic link (``ELOOP``) unless *follow_symlinks* (a reader's choice)."""
    nofollow = 0 if follow_symlinks else os.O_NOFOLLOW
    fd = os.open(path, os.O_RDONLY | nofollow | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as raw:
        reader: Any = raw
        read = raw.read1
        if path.name.endswith(SUFFIXES["gzip"]):
            reader = gzip.GzipFile(fileobj=raw, mode="rb")
            read = reader.read1  # what it decoded before a tear comes before the EOFError
        elif path.name.endswith(SUFFIXES["zstd"]):
            reader = zstandard.open(raw, "rb")  # a torn frame ends where it was cut, silently:
            read = reader.read  # its torn last line is no line (hft logs counts it)
        with reader:
            while chunk := read(chunk_bytes):
                yield chunk


def last_line_of(path: Path) -> bytes | None:
    """The last complete line of a (compressed) rotated file (None if it has none)."""
    tail = b""
    for chunk in read_rotated(path):
        tail += chunk
        end = tail.rfind(b"\n")
        tail = tail[tail.rfind(b"\n", 0, end) + 1 :] if end > 0 else tail
    end = tail.rfind(b"\n")
    return tail[tail.rfind(b"\n", 0, end) + 1 : end + 1] if end >= 0 else None


def decompressed_size(path: Path) -> int:
    """How many bytes *path* decompresses to (raises if it is torn or corrupt)."""
    return sum(len(chunk) for chunk in read_rotated(path))
