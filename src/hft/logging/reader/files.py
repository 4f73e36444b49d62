"""A log's files on disk: which they are, in which order, and their lines, streamed.

A log is its live file (``file_path``) and its rotated files, ``<file_path>.<suffix>`` with the
file backend's suffixes (a UTC date, or a UTC timestamp with microseconds, then ``.N`` for a
name taken), compressed to ``….gz`` or ``….zst``. Its files are read oldest first: the rotated
ones by mtime then name (as ``FileBackend.rotated_files()`` orders them), the live file last.
A compression in flight (``….gz.tmp``) is never read; and while both a rotated file and its
compressed copy exist, only the original is.
"""

from __future__ import annotations

import gzip
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import zstandard

_ROTATED: Final = re.compile(
    r"(?P<log>.+)\.(?:\d{4}-\d{2}-\d{2}|\d{8}T\d{6}\.\d{6}Z)(?:\.\d+)?(?P<zip>\.gz|\.zst)?"
)
COMPRESSED: Final = (".gz", ".zst")
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
    """Lines left out because they are no record: a torn last line, or not a known schema."""

    def __init__(self) -> None:
        self.count = 0


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
    """The rotated files of the log whose live file is *path*, oldest first; a compressed copy
    of a file that is still there is left out (its compression has not deleted it yet)."""
    folder, name = path.parent, path.name
    found = {}
    for entry in os.scandir(folder):
        matched = _ROTATED.fullmatch(entry.name)
        if matched and matched["log"] == name and entry.is_file(follow_symlinks=False):
            found[entry.name] = entry.stat(follow_symlinks=False).st_mtime_ns
    for compressed in [n for n in found if n.endswith(COMPRESSED)]:
        if compressed.rpartition(".")[0] in found:
            del found[compressed]
    return [folder / n for n in sorted(found, key=lambda n: (found[n], n))]


def open_binary(path: Path) -> io.BufferedIOBase:
    """*path* opened for streamed reading, decompressing ``.gz`` and ``.zst`` on the way."""
    if path.name.endswith(".gz"):
        return gzip.GzipFile(path, "rb")
    raw = io.FileIO(path, "r")
    if path.name.endswith(".zst"):
        reader = zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
        return io.BufferedReader(reader, BATCH_BYTES)
    return io.BufferedReader(raw, BATCH_BYTES)


def batches(path: Path, skips: Skips) -> Iterator[list[bytes]]:
    """The complete lines of *path*, a batch at a time; a torn last line is skipped."""
    with open_binary(path) as stream:
        while batch := stream.readlines(BATCH_BYTES):
            if not batch[-1].endswith(b"\n"):
                batch.pop()
                skips.count += 1
            if batch:
                yield batch


def log_batches(log: Log, skips: Skips) -> Iterator[list[bytes]]:
    """Every complete line of *log*'s files in order (a file gone meanwhile is left out)."""
    for path in log.files:
        try:
            yield from batches(path, skips)
        except FileNotFoundError:
            continue


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
