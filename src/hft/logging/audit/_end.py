"""The end of an audit chain: is every record the checkpoint (or the operator) vouches for there?

Used by :func:`hft.logging.verify_audit_files`. The *anchor* is what the chain must reach: the
checkpoint beside the trail (``<trail>.checkpoint``, found from any file of the chain), one
given with ``checkpoint=``, or a sequence number and digest given by the operator (from the
``audit.checkpoint`` record in the syslog stream, say). Records after the anchor are fine
(the checkpoint may lag the trail); a missing anchored record, or a different one, is not.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from hft.logging.audit._chain import Entry
from hft.logging.audit._checkpoint import (
    CheckpointError,
    CheckpointKeyError,
    checkpoint_path,
    is_checkpoint_file,
    is_digest,
    read_checkpoint,
    trail_of,
)
from hft.logging.render.clock import iso_us

_NO_CHECKPOINT = (
    "no checkpoint beside the trail: its end cannot be confirmed (give --checkpoint PATH, or"
    " --expect-seq N --expect-digest HEX from the off-host audit.checkpoint record, or"
    " --no-checkpoint to check the chain alone)"
)


class Finding(NamedTuple):
    """A problem, in the fields of :class:`hft.logging.AuditProblem`."""

    kind: str
    path: str
    line: int
    seq: int | None
    detail: str


@dataclass(frozen=True, slots=True)
class Anchor:
    """The head the chain must reach: its last sequence number and that record's digest."""

    seq: int
    digest: str
    #: Where it came from: a checkpoint's path, or the options that gave it.
    source: str
    #: The checkpoint's trail file name and its first seq then (``None`` when given by hand).
    trail: str | None = None
    file_first_seq: int | None = None
    ts_ns: int | None = None

    def describe(self) -> str:
        """``logs/audit.log.checkpoint (written …)`` or the options' names."""
        when = f" (written {iso_us(self.ts_ns)})" if self.ts_ns is not None else ""
        return f"{self.source}{when}"


def expected(seq: int, digest: str) -> Anchor:
    """An anchor given by hand; ``ValueError`` when *digest* is not 64 hex digits."""
    digest = digest.lower()
    if seq < -1 or not is_digest(digest):
        raise ValueError("--expect-seq needs a seq >= -1 and --expect-digest 64 hex digits")
    return Anchor(seq, digest, "--expect-seq/--expect-digest")


def find_anchor(
    given: Sequence[Path], chain: Sequence[Path], key: bytes | None, checkpoint: Path | None
) -> tuple[Anchor | None, list[Finding]]:
    """The checkpoint to hold the chain against: *checkpoint*, one among *given* (that of the
    chain's trail first), or the one beside the trail."""
    beside = [checkpoint_path(trail_of(p)) for p in chain]
    if checkpoint is None:
        among = sorted((p for p in given if is_checkpoint_file(p)), key=lambda p: p not in beside)
        checkpoint = among[0] if among else next((p for p in beside if p.exists()), None)
    if checkpoint is None:
        where = str(beside[0]) if beside else ""
        return None, [Finding("no_checkpoint", where, 0, None, _NO_CHECKPOINT)]
    return _load(checkpoint, key)


def _load(path: Path, key: bytes | None) -> tuple[Anchor | None, list[Finding]]:
    try:
        found = read_checkpoint(path, key)
    except OSError as exc:
        return None, [Finding("unreadable", str(path), 0, None, exc.strerror or str(exc))]
    except CheckpointKeyError as exc:
        return None, [Finding("key_required", str(path), 0, None, f"checkpoint {exc}")]
    except CheckpointError as exc:
        detail = f"the checkpoint does not verify: {exc}"
        return None, [Finding("checkpoint_invalid", str(path), 0, None, detail)]
    anchor = Anchor(
        found.seq, found.digest, str(path), found.trail, found.file_first_seq, found.ts_ns
    )
    return anchor, []


def check_end(anchor: Anchor, entries: Sequence[tuple[str, Entry]]) -> list[Finding]:
    """The anchored record must be there, with the anchored digest."""
    if anchor.seq < 0:
        return []
    at = next(((path, e) for path, e in entries if e.seq == anchor.seq), None)
    if at is not None:
        path, entry = at
        if entry.digest == anchor.digest:
            return []
        detail = (
            f"its digest {entry.digest[:16]}… is not {anchor.digest[:16]}… as"
            f" {anchor.describe()} says: the chain was rewritten"
        )
        return [Finding("checkpoint_mismatch", path, entry.line, entry.seq, detail)]
    top = max((e.seq for _, e in entries), default=None)
    if top is not None and top > anchor.seq:
        return []  # a hole inside the chain: reported as a gap
    return [_truncated(anchor, top)]


def _truncated(anchor: Anchor, top: int | None) -> Finding:
    start = 0 if top is None else top + 1
    span = f"seq {start}" if start == anchor.seq else f"seqs {start}..{anchor.seq}"
    first = anchor.file_first_seq
    if first is not None and first <= anchor.seq and (top is None or top < first):
        where = f"the newest file (from seq {first}) is missing or emptied"
    else:
        where = "the end of the trail was cut off"
    detail = (
        f"{where}: {span} missing ({anchor.seq - start + 1} records);"
        f" {anchor.describe()} says the chain reached seq {anchor.seq}"
    )
    return Finding("truncated", anchor.source, 0, anchor.seq, detail)


def missing_file(finding: Finding, anchor: Anchor | None, errno_: int | None) -> Finding:
    """An unreadable chain file that its trail's checkpoint says exists: deleted (tampering)."""
    if anchor is None or anchor.trail is None or errno_ != errno.ENOENT:
        return finding
    if trail_of(Path(finding.path)).name != anchor.trail:
        return finding
    detail = f"the file is gone although {anchor.source} vouches for its trail (deleted)"
    return finding._replace(kind="missing_file", detail=detail)


def set_aside_lines(path: Path) -> Finding | None:
    """A side file holding a complete line: a record moved out of the chain, not a crash."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\n" not in data:
        return None
    lines = data.count(b"\n")
    detail = (
        f"{lines} complete line(s) were moved out of the chain at a restart:"
        " an altered record, not a crash"
    )
    return Finding("set_aside_line", str(path), 0, None, detail)
