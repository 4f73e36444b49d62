"""``hft logs cat|tail [-f]``: what the command does with its options (``hft.cli`` parses them).

Lines are parsed only when something needs them: with ``--format json`` and no filter and no
``--merge``, a line is printed as it is on disk once its first key says it is a record, so a
plain ``cat`` runs close to the speed of the disk.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, Final

from hft.logging.backends.rotated import UNREADABLE
from hft.logging.reader.files import (
    COMPRESSED,
    Log,
    Skips,
    find_logs,
    last_lines,
    log_batches,
    rotation_batches,
)
from hft.logging.reader.filters import (
    Query,
    level_gate,
    parse_field,
    parse_level_option,
    parse_time,
)
from hft.logging.reader.follow import Follower
from hft.logging.reader.lines import KNOWN_STARTS, Entry, parse, stamped
from hft.logging.reader.merge import merge, merge_last
from hft.logging.reader.output import Output

#: How long ``tail -f`` sleeps when no file has grown.
POLL_S: Final = 0.1
_CHUNK: Final = 4096


class Chooser:
    """Which lines print, and how they reach the output: decided once, from the options."""

    def __init__(self, query: Query, output: Output, *, parse_all: bool) -> None:
        self.skips = Skips()
        self.parse_all = parse_all or output.pretty or not query.empty
        #: Only a merge needs entries, and of them only the time: read it without parsing.
        self._parse = parse if output.pretty or not query.empty else stamped
        self._check = query.predicate()
        self._gate = level_gate(query.level)
        self._output = output

    def select(self, batch: list[bytes]) -> list[Any]:
        """The lines of *batch* that print: entries when parsed, else the lines themselves."""
        if not self.parse_all:
            kept = [line for line in batch if line.startswith(KNOWN_STARTS)]
            self.skips.count += len(batch) - len(kept)
            return kept
        chosen = []
        check, parse_line = self._check, self._parse
        if self._gate is not None:  # most lines below --level are not parsed
            batch = [line for line in batch if self._gate(line)]
        for line in batch:
            entry = parse_line(line)
            if entry is None:
                self.skips.count += 1
            elif check(entry):
                chosen.append(entry)
        return chosen

    def emit(self, chosen: list[Any]) -> None:
        """Print what :meth:`select` chose."""
        if self.parse_all:
            self._output.entries(chosen)
        else:
            self._output.lines(chosen)

    def flush(self) -> None:
        """Flush the output (following prints each round at once)."""
        self._output.flush()

    def wanted(self, line: bytes) -> bool:
        """True when *line* prints (a skipped one is counted)."""
        return bool(self.select([line]))

    def entries(self, log: Log) -> Iterator[Entry]:
        """The chosen entries of *log*, one at a time (for a merge)."""
        for batch in log_batches(log, self.skips):
            yield from self.select(batch)


def run(args: argparse.Namespace) -> int:
    """Run ``hft logs``; 0 done (also on a closed pipe, or Ctrl-C while following), 1 some
    file could not be read (each said on stderr, the others printed), 2 usage."""
    try:
        query = _query(args)
        logs = find_logs(args.paths)
    except (ValueError, re.error, OSError) as exc:
        print(f"hft: logs: {exc}", file=sys.stderr)
        return 2
    colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    output = Output(sys.stdout.buffer, pretty=args.format == "pretty", colour=colour)
    chooser = Chooser(query, output, parse_all=args.merge)
    try:
        if args.logs_command == "cat":
            cat(logs, chooser, merged=args.merge)
        else:
            _tail(logs, chooser, args)
        output.flush()
    except BrokenPipeError:
        _quiet_stdout()
    except KeyboardInterrupt:
        if args.logs_command == "cat":
            return 130
    finally:
        _report(chooser.skips)
    return 1 if chooser.skips.unreadable else 0


def _tail(logs: Sequence[Log], chooser: Chooser, args: argparse.Namespace) -> None:
    # followers open first, so that what is appended once the tail is read is theirs
    live = {i: log.live for i, log in enumerate(logs) if log.live and args.follow}
    followers = {i: Follower(path) for i, path in live.items()}
    ends = [
        followers[i].offset if i in followers else _size(log.live) for i, log in enumerate(logs)
    ]
    tail(logs, chooser, args.lines, ends, merged=args.merge)
    chooser.flush()
    follow(list(followers.values()), chooser, merged=args.merge)


def _query(args: argparse.Namespace) -> Query:
    return Query(
        level=None if args.level is None else parse_level_option(args.level),
        logger=args.logger,
        since_ns=None if args.since is None else parse_time(args.since),
        until_ns=None if args.until is None else parse_time(args.until),
        grep=None if args.grep is None else re.compile(args.grep),
        fields=tuple(parse_field(text) for text in args.field),
    )


def cat(logs: Sequence[Log], chooser: Chooser, *, merged: bool) -> None:
    """Print every chosen line of *logs*: one log after another, or interleaved by time."""
    if merged:
        entries = merge([chooser.entries(log) for log in logs])
        while chunk := list(islice(entries, _CHUNK)):
            chooser.emit(chunk)
        return
    for log in logs:
        for batch in log_batches(log, chooser.skips):
            chooser.emit(chooser.select(batch))


def tail(
    logs: Sequence[Log], chooser: Chooser, count: int, ends: list[int], *, merged: bool
) -> None:
    """Print the last *count* chosen lines of each log (of all, *merged*), each log's live
    file read up to its end in *ends*."""
    found = [last_of(log, count, chooser, end) for log, end in zip(logs, ends, strict=True)]
    chosen = [chooser.select(lines) for lines in found]
    if merged:
        chooser.emit(merge_last(chosen, count))
    else:
        for part in chosen:
            chooser.emit(part)


def last_of(log: Log, count: int, chooser: Chooser, size: int) -> list[bytes]:
    """The last *count* lines of *log* that print, read backwards from *size* bytes into its
    live file, then from the end of each rotated file, newest first."""
    found: list[bytes] = []
    for path in reversed(log.files):
        if len(found) >= count or count <= 0:
            break
        want = count - len(found)
        if path == log.live:
            found[:0] = _last_live(path, size, want, chooser) if size > 0 else []
        elif path.name.endswith(COMPRESSED) or (lines := _last_plain(path, want, chooser)) is None:
            window: deque[bytes] = deque(maxlen=want)  # decompressed from the start
            for batch in rotation_batches(path, chooser.skips):
                window.extend(line for line in batch if chooser.wanted(line))
            found[:0] = window
        else:
            found[:0] = lines
    return found


def follow(followers: list[Follower], chooser: Chooser, *, merged: bool) -> None:
    """Print lines as they are appended to the followed files, until interrupted."""
    try:
        while followers:
            if not _round(followers, chooser, merged):
                time.sleep(POLL_S)
    finally:
        for follower in followers:
            chooser.skips.count += follower.torn
            chooser.skips.unreadable += follower.unreadable
            follower.close()


def _round(followers: list[Follower], chooser: Chooser, merged: bool) -> bool:
    """Print each follower's new lines, streamed a batch at a time (*merged*: by time, a heap
    merge of the followers' streams); True when any line was read."""
    read = False

    def chosen(follower: Follower) -> Iterator[list[Any]]:
        nonlocal read
        for batch in follower.batches():
            read = True
            yield chooser.select(batch)

    if merged:
        entries = merge([(e for part in chosen(f) for e in part) for f in followers])
        while chunk := list(islice(entries, _CHUNK)):
            chooser.emit(chunk)
    else:
        for follower in followers:
            for part in chosen(follower):
                chooser.emit(part)
    chooser.flush()
    return read


def _last_live(path: Path, size: int, want: int, chooser: Chooser) -> list[bytes]:
    """The last *want* lines of the live file's first *size* bytes (none if it is gone, or
    cannot be read: said and counted)."""
    try:
        return last_lines(path, size, want, chooser.wanted)
    except FileNotFoundError:
        return []
    except UNREADABLE as exc:
        chooser.skips.unreadable_file(path, exc)
        return []


def _last_plain(path: Path, want: int, chooser: Chooser) -> list[bytes] | None:
    """The last *want* lines of an uncompressed rotated file, read backwards; None when it is
    gone (compressed and deleted since it was listed: its compressed copy is read instead).
    One that cannot be read gives none (said and counted)."""
    try:
        return last_lines(path, _size(path), want, chooser.wanted)
    except FileNotFoundError:
        return None
    except UNREADABLE as exc:
        chooser.skips.unreadable_file(path, exc)
        return []


def _size(path: Any) -> int:
    try:
        return os.stat(path).st_size if path is not None else 0
    except FileNotFoundError:
        return 0


def _quiet_stdout() -> None:
    """The reader went away (``| head``): send what is left to /dev/null, say nothing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _report(skips: Skips) -> None:
    if skips.count:
        print(
            f"hft: logs: skipped {skips.count} line(s) that are no hft, ECS or OTel record"
            " (not JSON, another shape, or torn)",
            file=sys.stderr,
        )
