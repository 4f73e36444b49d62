"""Records the audit trail lost, said in the trail itself: the loss note and the gap record.

Audit records accepted (``audit()`` returned) are only lost when the pipeline closes while the
trail still cannot be written (see :mod:`hft.logging.audit._guard`). Their pipeline sequence
numbers then go to the *loss note* ``<file>.lost``: a file of ``NOTE_BYTES`` blanks that the
backend creates beside the trail when it opens (or makes whole again, when a kill cut its
making short), so the note is written in place (``pwrite`` over bytes already allocated) even
on a full disk. The next write to the trail (when writing
resumes, or on the next start) seals a **gap record** first, then blanks the note::

    {"alg":…,"event":"audit.gap","fields":{"lost":3,"pipeline_seqs":[[7,9]],…},"logger":"hft.audit",…}

``hft audit verify`` reports each gap record, and a note not yet sealed, as ``records_lost``
(exit code 1). Residual limit: when the note cannot be written either (read-only file system,
folder deleted), the loss is only counted (``lost``) and warned about.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import orjson

from hft.logging.levels import AUDIT
from hft.logging.record import Record, Source

NOTE_SUFFIX: Final = ".lost"
NOTE_BYTES: Final = 4096
GAP_EVENT: Final = "audit.gap"
GAP_SOURCE: Final = Source.create("hft.audit", ("hft", "audit"), {})
_MAX_RANGES: Final = 100
_GAP_MARK: Final = b'"event":"audit.gap"'


def note_path(trail: Path) -> Path:
    """The loss note beside *trail*."""
    return trail.with_name(trail.name + NOTE_SUFFIX)


def is_note(path: Path) -> bool:
    """True for a ``<file>.lost`` loss note (not a file of the chain)."""
    return path.name.endswith(NOTE_SUFFIX)


def ranges(seqs: Iterable[int]) -> list[list[int]]:
    """``[7, 8, 9, 12]`` -> ``[[7, 9], [12, 12]]``."""
    out: list[list[int]] = []
    for seq in sorted(seqs):
        if out and seq == out[-1][1] + 1:
            out[-1][1] = seq
        else:
            out.append([seq, seq])
    return out


def reserve_note(trail: Path, mode: int) -> None:
    """Create the blank note beside *trail* if there is none (best effort: a full disk now
    only means a later loss cannot be noted)."""
    path = note_path(trail)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        _complete_blank(path)
        return
    except OSError:
        return  # no room: nothing to do
    try:
        os.write(fd, _fit({}))
        os.fsync(fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)
    finally:
        os.close(fd)


def _complete_blank(path: Path) -> None:
    """A blank note cut short (a kill while it was made) is made whole again, so that a later
    loss can still be noted in it; a note, or any other file there, is left alone."""
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    with contextlib.suppress(OSError):
        fd = os.open(path, flags)
        try:
            data = os.read(fd, NOTE_BYTES + 1)
            if len(data) < NOTE_BYTES and not data.strip(b" "):
                os.pwrite(fd, _fit({}), 0)
                os.fsync(fd)
        finally:
            os.close(fd)


def read_note(trail: Path) -> dict[str, Any] | None:
    """The loss note beside *trail*, if it holds one (a file that is no note is ignored)."""
    try:
        data = _read_own(note_path(trail))
    except OSError:
        return None
    data = data.strip() if data is not None else b""
    if not data:
        return None
    try:
        note = orjson.loads(data)
    except orjson.JSONDecodeError:
        return {"lost": None, "error": "unreadable loss note"}
    return note if isinstance(note, dict) else None


def _read_own(path: Path) -> bytes | None:
    """The bytes of the note at *path*; ``None`` when the file there is not a note."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        data = os.read(fd, NOTE_BYTES + 1)
    finally:
        os.close(fd)
    ours = len(data) == NOTE_BYTES and (not data.strip() or data.startswith(b'{"lost":'))
    return data if ours or not data else None


def merge(note: dict[str, Any] | None, seqs: Sequence[int], error: str) -> dict[str, Any]:
    """*note* with the records *seqs* added (a fresh note when there is none)."""
    spans = ranges(seqs)
    if note is None:
        return {"lost": len(seqs), "pipeline_seqs": spans, "error": error, "at_ns": time.time_ns()}
    lost = note.get("lost")
    return {
        **note,
        "lost": lost + len(seqs) if isinstance(lost, int) else None,
        "pipeline_seqs": [*note.get("pipeline_seqs", []), *spans],
        "error": error,
    }


def write_note(trail: Path, note: dict[str, Any]) -> bool:
    """Overwrite the note's blanks in place with *note*; False when that is impossible, or
    when the file there is not a note (it is left untouched)."""
    path = note_path(trail)
    try:
        if os.path.lexists(path) and _read_own(path) is None:
            return False
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError:
        return False
    try:
        os.pwrite(fd, _fit(note), 0)
        os.fsync(fd)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def clear_note(trail: Path) -> None:
    """Blank the note again once its gap record is sealed in the trail."""
    write_note(trail, {})


def _fit(note: dict[str, Any]) -> bytes:
    """The note as JSON padded with blanks to ``NOTE_BYTES`` (ranges cut to fit)."""
    if not note:
        return b" " * (NOTE_BYTES - 1) + b"\n"
    spans = note.get("pipeline_seqs", [])
    if len(spans) > _MAX_RANGES:
        note = {
            **note,
            "pipeline_seqs": spans[:_MAX_RANGES],
            "more_ranges": len(spans) - _MAX_RANGES,
        }
    data = orjson.dumps(note)
    if len(data) >= NOTE_BYTES:
        data = orjson.dumps({k: v for k, v in note.items() if k != "pipeline_seqs"})
    return data.ljust(NOTE_BYTES - 1) + b"\n"


def gap_record(note: dict[str, Any]) -> Record:
    """The record that says, in the chain, what the note says."""
    fields = {k: v for k, v in note.items() if k != "at_ns"}
    return (-1, note.get("at_ns", time.time_ns()), AUDIT, GAP_SOURCE, GAP_EVENT, fields)


# -- verify ------------------------------------------------------------------------------


def gap_findings(chain_paths: Iterable[Path]) -> list[tuple[str, int, int | None, str]]:
    """``(path, line, seq, detail)`` for each gap record and each note not yet sealed."""
    found: list[tuple[str, int, int | None, str]] = []
    for path in chain_paths:
        try:
            data = path.read_bytes()
        except OSError:
            continue  # reported as unreadable by the verifier
        if _GAP_MARK in data:
            found.extend(_gap_lines(path, data))
        note = read_note(path)
        if note is not None:
            detail = f"loss note, not yet sealed in the trail: {_lost(note)}"
            found.append((str(note_path(path)), 0, None, detail))
    return found


def _gap_lines(path: Path, data: bytes) -> list[tuple[str, int, int | None, str]]:
    found = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        if _GAP_MARK not in raw:
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue  # the verifier reports the line itself
        if isinstance(obj, dict) and obj.get("event") == GAP_EVENT:
            fields = obj["fields"] if isinstance(obj.get("fields"), dict) else {}
            found.append((str(path), number, obj.get("seq"), f"gap record: {_lost(fields)}"))
    return found


def _lost(note: dict[str, Any]) -> str:
    spans = ", ".join(f"{a}..{b}" if a != b else str(a) for a, b in note.get("pipeline_seqs", []))
    error = note.get("error") or "unknown error"
    return f"{note.get('lost')} audit record(s) lost (pipeline seqs {spans or '?'}): {error}"
