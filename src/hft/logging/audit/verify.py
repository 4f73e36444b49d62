"""Checking an audit trail: every record sealed, linked, present and in order, up to its end.

``verify_audit_files(paths)`` reads the files of one chain (in any order: they are sorted by
their first sequence number), checks each line's digest, each record's link to its
predecessor and the sequence numbers, and returns an :class:`AuditReport`. Side files of torn
tails set aside at a restart (``<file>.torn-<stamp>``) are reported when seen.

A chain alone cannot show its end cut off, so the chain is also held against an *anchor*
(:mod:`hft.logging.audit._end`): the checkpoint the writer keeps beside the trail
(``<trail>.checkpoint``, found by itself), one given with *checkpoint*, or an expected last
seq and digest (*expect*). With none of them (``find_checkpoint=False``) the end is not
checked; with no checkpoint found, the report says the end is unconfirmed.

Exit codes (:attr:`AuditReport.exit_code`, used by ``hft audit verify``):

- 0 intact: every record verifies, links to its predecessor, no sequence number is missing,
  and the chain reaches its checkpoint (or was not asked to);
- 1 tampered: a record altered, deleted, duplicated, reordered, unparsable or unkeyed where a
  key was given; records the checkpoint vouches for missing from the end (truncated, newest
  file deleted or emptied); a chain or checkpoint that disagree; a complete line set aside;
- 2 usage or configuration error: a file unreadable, a keyed chain (or checkpoint) and no key,
  or no checkpoint to confirm the end (when nothing worse was found);
- 3 torn tail only: the intact chain ends in (or a side file holds) a write cut short by a crash,
  wherever it stands: a file whose only bytes are the start of a sealed record (the first write
  of a new trail, or the first into a file after a rotation, cut short) is a torn tail too;
- 4 not an audit trail: a file given holds text but not one sealed record (the wrong file).

Records the writer lost (accepted, then never written: the disk stayed full until close) are
reported as ``records_lost`` (exit code 1, verdict GAP): each sealed gap record, and a loss
note ``<file>.lost`` not yet sealed (see :mod:`hft.logging.audit._gaps`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from hft.logging.audit import _end as end
from hft.logging.audit._chain import (
    GENESIS,
    HMAC_SHA256,
    SHA256,
    Entry,
    LineError,
    is_side_file,
    parse_line,
    side_files,
)
from hft.logging.audit._checkpoint import is_checkpoint_file
from hft.logging.audit._files import starts_as_record
from hft.logging.audit._gaps import gap_findings, is_note

USAGE_KINDS: Final = frozenset({"unreadable", "key_required"})
TORN_KINDS: Final = frozenset({"torn_tail", "side_file"})
#: Kinds that mean the chain was altered (exit code 1).
TAMPER_KINDS: Final = frozenset(
    {
        "digest_mismatch",
        "chain_break",
        "gap",
        "reordered",
        "duplicate",
        "unparsable",
        "alg_mismatch",
        "truncated",
        "checkpoint_mismatch",
        "checkpoint_invalid",
        "missing_file",
        "set_aside_line",
    }
)
#: The end could not be confirmed (exit code 2, unless something worse was found).
UNCONFIRMED_KINDS: Final = frozenset({"no_checkpoint"})
#: Records lost by the writer, said by a gap record or a loss note (exit code 1, verdict GAP).
LOST_KINDS: Final = frozenset({"records_lost"})
#: A file given that holds no sealed record at all: the wrong file (exit code 4).
NOT_TRAIL_KINDS: Final = frozenset({"not_audit_trail"})
_SHOWN: Final = 50


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """One finding: its kind, where it is (file, 1-based line) and what is wrong."""

    kind: str
    path: str
    line: int
    seq: int | None
    detail: str

    def __str__(self) -> str:
        at = f" at seq {self.seq}" if self.seq is not None else ""
        return f"{self.path}:{self.line}: {self.kind}{at}: {self.detail}"


@dataclass(frozen=True, slots=True)
class AuditReport:
    """What :func:`verify_audit_files` found."""

    files: tuple[str, ...]
    records: int
    first_seq: int | None
    last_seq: int | None
    first_ts_ns: int | None
    last_ts_ns: int | None
    problems: tuple[AuditProblem, ...] = field(default=())
    #: The last seq the chain was held against (checkpoint or expected), if any.
    anchor_seq: int | None = None
    #: Where that came from: the checkpoint's path, or the options that gave it.
    anchor: str | None = None

    @property
    def exit_code(self) -> int:
        """0 intact, 1 tampered or gap, 2 usage error or end unconfirmed, 3 torn tail only,
        4 not an audit trail."""
        kinds = {p.kind for p in self.problems}
        if kinds & USAGE_KINDS:
            return 2
        if kinds & NOT_TRAIL_KINDS:
            return 4
        if kinds & (TAMPER_KINDS | LOST_KINDS):
            return 1
        if kinds & UNCONFIRMED_KINDS:
            return 2
        return 3 if kinds else 0

    @property
    def intact(self) -> bool:
        """True when nothing at all was found."""
        return not self.problems

    def of_kind(self, kind: str) -> list[AuditProblem]:
        """The problems of one kind."""
        return [p for p in self.problems if p.kind == kind]

    def render(self) -> str:
        """The report as text: a verdict, a summary line, then one line per problem."""
        verdict = {0: "INTACT", 1: "TAMPERED", 2: "ERROR", 3: "TORN TAIL", 4: "NOT AN AUDIT TRAIL"}[
            self.exit_code
        ]
        if verdict == "ERROR" and not {p.kind for p in self.problems} & USAGE_KINDS:
            verdict = "UNCONFIRMED"
        if self.exit_code == 1 and not {p.kind for p in self.problems} & TAMPER_KINDS:
            verdict = "GAP"
        lines = [f"{verdict}: {self._summary()}"]
        lines.extend(f"  {p}" for p in self.problems[:_SHOWN])
        if len(self.problems) > _SHOWN:
            lines.append(f"  … and {len(self.problems) - _SHOWN} more")
        return "\n".join(lines)

    def _summary(self) -> str:
        head = f"{self.records} records in {len(self.files)} file(s)"
        if self.first_seq is None or self.first_ts_ns is None or self.last_ts_ns is None:
            return head + self._anchored()
        span = (self.last_ts_ns - self.first_ts_ns) / 1e9
        return (
            f"{head}, seq {self.first_seq}..{self.last_seq},"
            f" {_iso(self.first_ts_ns)} .. {_iso(self.last_ts_ns)} ({span:.3f} s)"
            + self._anchored()
        )

    def _anchored(self) -> str:
        if self.anchor is None:
            return ""
        return f"; end checked against seq {self.anchor_seq} of {self.anchor}"


def _iso(ts_ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ns // 10**9)) + "Z"


@dataclass(slots=True)
class _File:
    path: str
    entries: list[Entry]


def verify_audit_files(
    paths: Iterable[str | Path],
    hmac_key: bytes | str | None = None,
    *,
    checkpoint: str | Path | None = None,
    expect: tuple[int, str] | None = None,
    find_checkpoint: bool = True,
) -> AuditReport:
    """Verify the files of one audit chain; *hmac_key* is needed for a keyed chain.

    The chain's end is held against *checkpoint*, against *expect* (last seq, its digest),
    or, with neither, against the checkpoint found beside the trail (``find_checkpoint``).
    """
    key = hmac_key.encode() if isinstance(hmac_key, str) else hmac_key
    given = [Path(p) for p in paths]
    if not given:
        raise ValueError("no audit files given")
    chain_paths = [p for p in given if not (is_side_file(p) or is_checkpoint_file(p) or is_note(p))]
    anchors, findings = _anchors(
        given, chain_paths, key, checkpoint=checkpoint, expect=expect, find=find_checkpoint
    )
    problems: list[AuditProblem] = []
    files = [f for p in chain_paths if (f := _read(p, key, problems, anchors)) is not None]
    if not files and problems and all(p.kind == "not_audit_trail" for p in problems):
        return _report((), [], problems)  # nothing to verify: say only that
    files.sort(key=lambda f: f.entries[0].seq if f.entries else -1)
    entries = [(f.path, e) for f in files for e in f.entries]
    problems += _check_keys(entries, key)
    problems += _check_digests(entries)
    problems += _check_order(entries)
    problems += _check_links(entries)
    findings += [f for a in anchors for f in end.check_end(a, entries)]
    problems += [AuditProblem(*f) for f in findings]
    problems += _side_files(given, chain_paths)
    problems += _lost_records(chain_paths)
    order = {f.path: i for i, f in enumerate(files)}
    problems.sort(key=lambda p: (order.get(p.path, len(order)), p.line))
    report = _report(tuple(f.path for f in files), [e for _, e in entries], problems)
    if not anchors:
        return report
    return replace(report, anchor_seq=anchors[-1].seq, anchor=anchors[-1].describe())


def _anchors(
    given: list[Path],
    chain: list[Path],
    key: bytes | None,
    *,
    checkpoint: str | Path | None,
    expect: tuple[int, str] | None,
    find: bool,
) -> tuple[list[end.Anchor], list[end.Finding]]:
    """What the chain's end is held against, and what went wrong finding it."""
    anchors = [end.expected(*expect)] if expect is not None else []
    findings: list[end.Finding] = []
    if checkpoint is not None or (find and expect is None):
        explicit = Path(checkpoint) if checkpoint is not None else None
        found, findings = end.find_anchor(given, chain, key, explicit)
        anchors += [found] if found is not None else []
    return anchors, findings


def _report(
    files: tuple[str, ...], entries: list[Entry], problems: list[AuditProblem]
) -> AuditReport:
    seqs = [e.seq for e in entries]
    stamps = [e.ts_ns for e in entries]
    return AuditReport(
        files=files,
        records=len(entries),
        first_seq=min(seqs, default=None),
        last_seq=max(seqs, default=None),
        first_ts_ns=min(stamps, default=None),
        last_ts_ns=max(stamps, default=None),
        problems=tuple(problems),
    )


def _read(
    path: Path, key: bytes | None, problems: list[AuditProblem], anchors: list[end.Anchor]
) -> _File | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        found = end.Finding("unreadable", str(path), 0, None, exc.strerror or str(exc))
        for anchor in anchors:
            found = end.missing_file(found, anchor, exc.errno)
        problems.append(AuditProblem(*found))
        return None
    *lines, torn = data.split(b"\n")
    result = _File(str(path), [])
    unparsable: list[AuditProblem] = []
    for number, raw in enumerate(lines, 1):
        try:
            result.entries.append(parse_line(raw, number, key))
        except LineError as exc:
            unparsable.append(AuditProblem("unparsable", str(path), number, None, str(exc)))
    if not result.entries and (unparsable or not starts_as_record(torn)):
        problems.append(_not_a_trail(path, unparsable))
        return None
    problems += unparsable
    if torn:
        problems.append(_torn(result, len(lines) + 1, len(torn)))
    return result


def _not_a_trail(path: Path, unparsable: list[AuditProblem]) -> AuditProblem:
    """A file with text in it and not one sealed record: not an audit trail at all."""
    first = f" (line 1: {unparsable[0].detail})" if unparsable else ""
    return AuditProblem(
        "not_audit_trail", str(path), 1, None, f"no line is a sealed audit record{first}"
    )


def _torn(file: _File, line: int, size: int) -> AuditProblem:
    last = file.entries[-1].seq if file.entries else None
    after = f"after seq {last}" if last is not None else "with no record before it"
    detail = f"{size} bytes without a newline {after}: a write cut short (crash)"
    return AuditProblem("torn_tail", file.path, line, None, detail)


def _check_keys(entries: Sequence[tuple[str, Entry]], key: bytes | None) -> list[AuditProblem]:
    """One finding per file at most: a keyed chain needs the key, a key wants a keyed chain."""
    found: dict[tuple[str, str], AuditProblem] = {}
    for path, entry in entries:
        if key is None and entry.alg == HMAC_SHA256:
            detail = "records are sealed with HMAC-SHA256: give the key (--hmac-key-env)"
            found.setdefault((path, "key_required"), _at("key_required", path, entry, detail))
        elif key is not None and entry.alg == SHA256:
            detail = "record sealed with plain SHA-256 although a key was given (re-sealed?)"
            found.setdefault((path, "alg_mismatch"), _at("alg_mismatch", path, entry, detail))
    return list(found.values())


def _at(kind: str, path: str, entry: Entry, detail: str) -> AuditProblem:
    return AuditProblem(kind, path, entry.line, entry.seq, detail)


def _check_digests(entries: Sequence[tuple[str, Entry]]) -> list[AuditProblem]:
    """Records whose bytes do not hash to their stored digest, and what was altered."""
    next_prev = {e.seq - 1: e.prev for _, e in entries}
    problems = []
    for path, entry in entries:
        if entry.computed is None or entry.valid:
            continue
        successor = next_prev.get(entry.seq)
        if successor == entry.computed:
            what = "the stored digest was altered (the next record links to the true one)"
        elif successor == entry.digest:
            what = "the record's content was altered after it was written"
        else:
            what = "the record was altered"
        problems.append(_at("digest_mismatch", path, entry, f"digest mismatch: {what}"))
    return problems


def _check_order(entries: Sequence[tuple[str, Entry]]) -> list[AuditProblem]:
    """Missing, repeated and out-of-order sequence numbers."""
    present = {e.seq for _, e in entries}
    first_line: dict[int, tuple[str, int]] = {}
    top = -1
    problems = []
    for path, entry in entries:
        seq = entry.seq
        if seq in first_line:
            where = "{}:{}".format(*first_line[seq])
            problems.append(_at("duplicate", path, entry, f"seq {seq} already at {where}"))
            continue
        first_line[seq] = (path, entry.line)
        if seq > top + 1:
            problems.append(_jump(path, entry, top, present))
        elif seq <= top:
            detail = f"seq {seq} comes after seq {top}"
            problems.append(_at("reordered", path, entry, detail))
        top = max(top, seq)
    return problems


def _jump(path: str, entry: Entry, top: int, present: set[int]) -> AuditProblem:
    missing = range(top + 1, entry.seq)
    span = f"seq {missing[0]}" if len(missing) == 1 else f"seqs {missing[0]}..{missing[-1]}"
    if any(s in present for s in missing):
        return _at("reordered", path, entry, f"seq {entry.seq} comes before {span}")
    return _at("gap", path, entry, f"{span} missing ({len(missing)} records deleted)")


def _check_links(entries: Sequence[tuple[str, Entry]]) -> list[AuditProblem]:
    """Each record's ``prev`` against its predecessor's stored digest (valid ones only)."""
    by_seq: dict[int, Entry] = {}
    for _, entry in entries:
        by_seq.setdefault(entry.seq, entry)
    problems = []
    for path, entry in entries:
        if entry.seq == 0:
            if entry.prev != GENESIS:
                detail = "the first record does not start a chain (prev is not the genesis)"
                problems.append(_at("chain_break", path, entry, detail))
            continue
        before = by_seq.get(entry.seq - 1)
        if before is None or not before.valid or entry.prev == before.digest:
            continue
        detail = f"prev does not match the digest of seq {before.seq}: that record was re-sealed"
        problems.append(_at("chain_break", path, entry, detail))
    return problems


def _lost_records(chain_paths: list[Path]) -> list[AuditProblem]:
    """Gap records in the chain and loss notes beside it (:mod:`hft.logging.audit._gaps`)."""
    return [AuditProblem("records_lost", *found) for found in gap_findings(chain_paths)]


def _side_files(given: list[Path], chain_paths: list[Path]) -> list[AuditProblem]:
    found = {p for p in given if is_side_file(p)}
    for path in chain_paths:
        found.update(side_files(path))
    problems = []
    for side in sorted(found):
        try:
            size = side.stat().st_size
        except OSError:
            continue
        moved = end.set_aside_lines(side)
        if moved is not None:
            problems.append(AuditProblem(*moved))
            continue
        detail = f"{size} bytes of a torn tail set aside at a restart (crash before it)"
        problems.append(AuditProblem("side_file", str(side), 0, None, detail))
    return problems


__all__ = ["AuditProblem", "AuditReport", "verify_audit_files"]
