"""Where an audit trail's chain stands when it is opened: after a crash, a tampering, a rotation.

A crash leaves only bytes after the last newline: they are moved to ``<file>.torn-<UTC
stamp>`` (mode 0600) and the file is cut to its intact prefix. A complete last line that
does not verify was altered: it stays, and the chain continues after its seq, anchored on the
record before it, which must verify. An empty trail continues from the newest rotated file.
The head found is reconciled with ``<file>.checkpoint`` (:mod:`hft.logging.audit._checkpoint`)
so that a sequence number it vouched for is never used again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from hft.logging.audit._chain import (
    GENESIS,
    LineError,
    Tail,
    alg_for,
    free_name,
    fsync_dir,
    parse_line,
    read_tail,
    rotated_files,
)
from hft.logging.audit._checkpoint import CheckpointError, is_digest
from hft.logging.audit._files import check_ours
from hft.logging.render.clock import utc_stamp

if TYPE_CHECKING:
    from pathlib import Path

    from hft.logging.audit._checkpoint import Checkpointer

_UNVERIFIED: Final = (
    "the last records do not verify (a different HMAC key, or tampering); run hft audit verify"
)


class AuditChainError(RuntimeError):
    """The existing audit file cannot be continued safely (run ``hft audit verify``)."""


@dataclass(frozen=True, slots=True)
class ChainState:
    """Where the chain stands: the next sequence number and the last digest."""

    next_seq: int = 0
    prev: str = GENESIS


class TrailOpening:
    """Finds the head of the chain in the trail at *path* (and its rotated files), for a
    backend sealing with *key*; :attr:`set_aside` is where a torn tail went, if one did."""

    def __init__(self, path: Path, key: bytes | None, checkpoints: Checkpointer) -> None:
        self.path = path
        self._key = key
        self._alg = alg_for(key)
        self._checkpoints = checkpoints
        self.set_aside: Path | None = None

    def resume(self) -> ChainState:
        """The trail's head, reconciled with its checkpoint (never reusing a vouched-for seq)."""
        try:
            state = self._recover()
            self._checkpoints.load()
            next_seq, prev, warning = self._checkpoints.reconcile(state.next_seq, state.prev)
        except CheckpointError as exc:
            raise AuditChainError(str(exc)) from None
        if warning is not None:
            self._checkpoints.warn_on_attach(warning, file=str(self.path))
        return ChainState(next_seq, prev)

    def _recover(self) -> ChainState:
        """Find the last intact record, setting a torn tail aside first (see the module doc)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        check_ours(self.path)
        if not self.path.exists() or self.path.stat().st_size == 0:
            return self._state_of_predecessors()
        tail = read_tail(self.path)
        cut, state = tail.end, self._state_of(tail.line, tail.end)
        if state is None:  # a complete line that does not verify: tampering, left as found
            state = self._past_damaged(tail)
        if cut < tail.size:
            self.set_aside = _move_aside(self.path, cut)
        return state if cut else self._state_of_predecessors()

    def _state_of(self, line: bytes, end: int) -> ChainState | None:
        """The state after *line*; ``None`` if it is not a valid record (start: empty file)."""
        if end == 0:
            return ChainState()
        try:
            entry = parse_line(line, 0, self._key)
        except LineError:
            return None
        if entry.alg != self._alg:
            raise AuditChainError(
                f"{self.path}: the chain is sealed with {entry.alg}, this backend with"
                f" {self._alg} (HMAC key variable set or unset since): rotate the file away first"
            )
        return ChainState(entry.seq + 1, entry.digest) if entry.valid else None

    def _past_damaged(self, tail: Tail) -> ChainState:
        """Continue after a damaged last line, never reusing the sequence number it held.

        A crash leaves only bytes without a newline; a complete line that does not verify was
        altered. It stays in place for ``hft audit verify`` to report (exit 1), and the chain
        goes on after it, anchored on the record before it, which must verify.
        """
        before = read_tail(self.path, tail.start)
        state = self._state_of(before.line, before.end)
        if state is None:
            raise AuditChainError(f"{self.path}: {_UNVERIFIED}")
        if before.end == 0:
            state = self._state_of_predecessors()
        self._checkpoints.warn_on_attach(
            "audit trail: its last record does not verify (tampering?); kept as found, the"
            f" chain continues at seq {state.next_seq + 1}; run hft audit verify",
            file=str(self.path),
        )
        return ChainState(state.next_seq + 1, _stored_digest(tail.line) or state.prev)

    def _state_of_predecessors(self) -> ChainState:
        for older in reversed(rotated_files(self.path)):
            tail = read_tail(older)
            if tail.end:
                state = self._state_of(tail.line, tail.end)
                if state is None:
                    raise AuditChainError(f"{older}: {_UNVERIFIED}")
                return state
        return ChainState()


def _move_aside(path: Path, cut: int) -> Path:
    """Copy the bytes of *path* from *cut* on to a side file, then truncate *path* to *cut*."""
    with path.open("rb") as source:
        source.seek(cut)
        torn = source.read()
    side = free_name(path, f"torn-{utc_stamp()}")
    fd = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, torn)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)
    os.truncate(path, cut)
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return side


def _stored_digest(line: bytes) -> str | None:
    """The digest a line claims (its last 66 bytes), if it has that shape."""
    head, digest, tail = line[-77:-66], line[-66:-2].decode("ascii", "replace"), line[-2:]
    return digest if head == b',"digest":"' and tail == b'"}' and is_digest(digest) else None
