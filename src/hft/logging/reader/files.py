"""A log's files on disk: which they are, in which order, and their lines, streamed.

A log is its live file (``file_path``) and its rotated files, ``<file_path>.<suffix>`` with the
file backend's suffixes (a UTC date, or a UTC timestamp with microseconds, then ``.N`` for a
name taken), compressed to ``….gz`` or ``….zst``. Its files are read oldest first: the rotated
ones as the file backend lists them (:func:`hft.logging.backends.rotated.rotated_groups`: one
per rotation, by mtime then name), the live file last. A compression in flight (``….gz.tmp``)
is never read; while both a rotated file and its compressed copy exist, only the original is,
and an original the compression deletes after it was listed is read from its compressed copy
(whole: it was renamed into place before the original went); a symbolic link among the
rotated files is left out. Files are read (and decompressed) by
:func:`~hft.logging.backends.rotated.read_rotated`.
"""

from __future__ import annotations

import io
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hft.logging.backends.rotated import (
    SUFFIXES,
    UNREADABLE,
    original_of,
    read_rotated,
    rotated_groups,
    variants,
)

_ROTATED: Final = re.compile(
    r"(?P<log>.+)\.(?:\d{4}-\d{2}-\d{2}|\d{8}T\d{6}\.\d{6}Z)(?:\.\d+)?(?P<zip>\.gz|\.zst)?"
)
COMPRESSED: Final = tuple(SUFFIXES.values())
#: Lines are read in batches of about this many bytes (one list per batch, then dropped).
BATCH_BYTES: Final = 1 << 20
TAIL_CHUNK: Final = 1 << 16


@dataclass(frozen=True)
class Log:
    """One log's files, oldest first, and its live file (None: a single rotated file)."""

    name: str
    files: tuple[Path, ...]
    live: Path | None


class Skips:
    """Lines left out because they are no record: a torn last line, or not a known schema;
    and files left out (or cut short) because they cannot be read."""

    def __init__(self) -> None:
        self.count = 0
        #: Files that could not be read (to their end): each said on stderr when met.
        self.unreadable = 0

    def unreadable_file(self, path: Path, exc: BaseException) -> None:
        """Say that *path* cannot be read (torn, corrupt, no permission) and count it."""
        self.unreadable += 1
        print(f"hft logs: unreadable: {path} ({type(exc).__name__}: {exc})", file=sys.stderr)


def find_logs(paths: list[str]) -> list[Log]:
    """The logs *paths* name: a log's live file, one rotated file, or a folder (each of its
    logs, by name). FileNotFoundError for a path that names none."""
    logs: list[Log] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            logs.extend(_folder(path))
        elif _ROTATED.fullmatch(path.name) or path.name.endswith(COMPRESSED):
            if not path.is_file():
                raise FileNotFoundError(f"no such file: {path}")
            logs.append(Log(str(path), (path,), None))
        else:
            logs.append(_live_log(path))
    return logs


def _live_log(path: Path) -> Log:
    rotated = rotated_files(path)
    if not rotated and not path.is_file():
        raise FileNotFoundError(f"no such log: {path}")
    return Log(str(path), (*rotated, path), path)


def _folder(folder: Path) -> list[Log]:
    names: set[str] = set()
    for entry in os.scandir(folder):
        if not entry.is_file() or entry.name.endswith(".tmp"):
            continue
        matched = _ROTATED.fullmatch(entry.name)
        names.add(matched["log"] if matched else entry.name)
    return [_live_log(folder / name) for name in sorted(names)]


def rotated_files(path: Path) -> list[Path]:
    """The rotated files of the log whose live file is *path*, oldest first, as the file
    backend lists them; each by its original name while that is there (its compression has
    not deleted it yet), and only names the backend gives (not ``hft.log.old``), regular files
    (not a symbolic link)."""
    found = []
    for listed in rotated_groups(path):
        matched = _ROTATED.fullmatch(listed.name)
        if matched is None or matched["log"] != path.name:
            continue
        chosen = original_of(listed)
        mode = _mode(chosen)
        if mode is None:  # compressed (or gone since: rotation_batches sees to that)
            chosen, mode = listed, _mode(listed)
        if mode is None or stat.S_ISREG(mode):
            found.append(chosen)
    return found


def _mode(path: Path) -> int | None:
    """*path*'s file type and mode, not through a symbolic link (None: no such file)."""
    try:
        return path.lstat().st_mode
    except FileNotFoundError:
        return None


def batches(path: Path, skips: Skips) -> Iterator[list[bytes]]:
    """The complete lines of *path*, a batch at a time, decompressed when its name says so;
    a torn last line is skipped. A file that cannot be read (to its end) is said and counted
    in *skips*, its lines before the fault given; only FileNotFoundError is raised."""
    rest = b""  # a line's start whose end is in the next chunk
    try:
        for chunk in _chunks(path):
            lines = io.BytesIO(chunk).readlines()  # split in C, the chunk not copied
            if rest:
                lines[0] = rest + lines[0]
            rest = b"" if lines[-1].endswith(b"\n") else lines.pop()
            if lines:
                yield lines
    except FileNotFoundError:
        raise
    except UNREADABLE as exc:
        skips.unreadable_file(path, exc)
    if rest:
        skips.count += 1


def _chunks(path: Path) -> Iterator[bytes]:
    """*path*'s bytes, decompressed, a chunk at a time (a torn file's up to the tear, then
    EOFError). A path the user named is read as cat would (rotated_files leaves symlinks out)."""
    return read_rotated(path, BATCH_BYTES, follow_symlinks=True)


def rotation_batches(path: Path, skips: Skips) -> Iterator[list[bytes]]:
    """:func:`batches` of a rotated file; an original gone before it was opened (compressed
    and deleted since it was listed) is read from its compressed copy, and one gone in every
    form (pruned by retention) reads as nothing."""
    for candidate in dict.fromkeys([path, *variants(original_of(path))]):
        lines = batches(candidate, skips)
        try:
            first = next(lines)
        except FileNotFoundError:
            continue
        except StopIteration:
            return
        yield first
        yield from lines
        return


def log_batches(log: Log, skips: Skips) -> Iterator[list[bytes]]:
    """Every complete line of *log*'s files in order (a rotation pruned meanwhile is left out;
    one compressed meanwhile is read compressed)."""
    for path in log.files:
        if path == log.live:
            try:
                yield from batches(path, skips)
            except FileNotFoundError:
                continue
        else:
            yield from rotation_batches(path, skips)


def last_lines(path: Path, size: int, keep: int, wanted: Callable[[bytes], bool]) -> list[bytes]:
    """The last *keep* complete lines of *path*'s first *size* bytes that *wanted* takes, read
    backwards from there a chunk at a time (a torn last line is no line)."""
    found: list[bytes] = []
    with open(path, "rb", buffering=0) as stream:
        end, head = size, b""  # head: a line's start, read, whose rest is in later chunks
        while end > 0 and len(found) < keep:
            start = max(0, end - TAIL_CHUNK)
            stream.seek(start)
            data = stream.read(end - start) + head
            end = start
            cut = data.find(b"\n") + 1 if start else 0
            if start and not cut:  # a line longer than the chunk: its start is further back
                head = data
                continue
            head, pieces = data[:cut], data[cut:].split(b"\n")[:-1]
            chosen = [line for line in (piece + b"\n" for piece in pieces) if wanted(line)]
            found[:0] = chosen[max(0, len(chosen) - (keep - len(found))) :]
    return found
