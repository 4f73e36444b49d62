"""The audit trail: append-only, hash-chained, fsynced, continued across rotations and crashes.

Only ``logger.audit(...)`` records come here (``level`` is ``AUDIT`` whatever the settings
say). Each record gets the chain's own sequence number (``seq``: 0, 1, 2, … across files; the
pipeline's number is kept as ``pipeline_seq``), the digest of the previous record (``prev``)
and its own ``digest`` (format in :mod:`hft.logging.audit._chain`).

Durability (``fsync_policy``):

- ``every_batch``: a batch is written with one ``write`` and ``fdatasync``-ed before
  :meth:`AuditBackend.write` returns, so a record the pipeline counts as written (and every
  record before a ``logger.flush()`` that returned) is on disk.
- ``interval_ms``: a batch reaches the kernel on each write (a process crash loses nothing),
  and is synced at most ``fsync_interval_ms`` later; a power loss or kernel crash may lose the
  records of that last interval (the file then ends early or with a torn line).

Restart after a crash: on open, bytes after the last newline (all a crash leaves) are moved
to ``<file>.torn-<UTC stamp>`` (mode 0600) and the file is truncated to its intact prefix
before anything is appended; the chain continues from the last intact record. A complete last
line that does not verify was altered: it stays, and the chain continues after its seq. If
the record before it does not verify either (wrong key, tampering), opening fails rather than
extending a broken chain. ``<file>.checkpoint`` (:mod:`hft.logging.audit._checkpoint`) keeps
the head outside the trail; a trail shorter than it continues after the checkpoint's seq.
The file is opened ``O_APPEND | O_NOFOLLOW`` with ``file_mode`` (0600); rotated files are
never deleted. A symlink, or a file that is not an audit trail, is refused untouched
(:mod:`hft.logging.audit._files`); a forked child writes its own chain,
``<stem>.<pid><suffix>``, with its own checkpoint. Finding the head on open is
:mod:`hft.logging.audit._resume`'s; appending, syncing, cutting back and rotating the file
is :mod:`hft.logging.audit._trail`'s.

When the trail cannot be written, the pipeline's audit slot holds the records and ``audit()``
waits or raises (``on_failure``, ``failure_timeout_ms``, ``durable``: see
:mod:`hft.logging.audit._guard`); records lost at close are sealed as a gap record
(:mod:`hft.logging.audit._gaps`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

import orjson

from hft.logging.audit._chain import alg_for, rotated_files, seal
from hft.logging.audit._checkpoint import Checkpointer, first_seq_of
from hft.logging.audit._files import child_path
from hft.logging.audit._gaps import (
    clear_note,
    gap_record,
    merge,
    read_note,
    reserve_note,
    write_note,
)
from hft.logging.audit._resume import AuditChainError, ChainState, TrailOpening
from hft.logging.audit._trail import TrailFile
from hft.logging.backends.base import BackendContext, BaseBackend
from hft.logging.levels import AUDIT
from hft.logging.record import Record
from hft.logging.render.clock import TimestampFormatter
from hft.logging.render.lines import safe_repr, sanitize

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["AuditBackend", "AuditChainError"]

FsyncPolicy = Literal["every_batch", "interval_ms"]
Rotation = Literal["none", "daily", "size"]
OnFailure = Literal["block", "raise"]
_SORTED: Final = orjson.OPT_SORT_KEYS


class AuditBackend(BaseBackend):
    """Appends sealed audit records to ``file_path``; see the module docstring for guarantees.

    It seals records into the chain and keeps its head (:class:`ChainState`), its checkpoints
    and its gap records; the file itself is a :class:`~hft.logging.audit._trail.TrailFile`.
    """

    name = "audit"
    level = AUDIT
    takes_metrics = False
    takes_audit = True

    def __init__(
        self,
        *,
        level: str = "INFO",
        file_path: str | os.PathLike[str] = "logs/audit.log",
        format: Literal["json"] = "json",  # noqa: A002 - the settings key's name
        fsync_policy: FsyncPolicy = "every_batch",
        fsync_interval_ms: float = 50,
        hmac_key_env: str = "HFT_AUDIT_HMAC_KEY",
        rotation: Rotation = "none",
        max_bytes: int = 100 * 1024 * 1024,
        max_field_chars: int = 4096,
        checkpoint_interval_ms: float = 1000,
        on_failure: OnFailure = "block",
        failure_timeout_ms: float = 5000,
        durable: bool = False,
        file_mode: int = 0o600,
    ) -> None:
        _check_choices(format, fsync_policy, rotation)
        _check_failure_policy(on_failure, failure_timeout_ms)
        del level  # the section's shape is shared; this backend takes audit records only
        #: Read by the pipeline's audit slot (:mod:`hft.logging.audit._guard`).
        self.on_failure, self.durable = on_failure, durable
        self.failure_timeout_s = failure_timeout_ms / 1000
        self._mode = file_mode
        self._base_path = Path(file_path)
        secret = os.environ.get(hmac_key_env, "")
        self._key = secret.encode() if secret else None
        self._alg = alg_for(self._key)
        self._file = TrailFile(
            self._base_path,
            file_mode,
            every_batch=fsync_policy == "every_batch",
            interval_s=fsync_interval_ms / 1000,
        )
        self._rotation = rotation
        self._max_bytes = max_bytes
        self._limit = max_field_chars
        self._timestamp = TimestampFormatter()
        self._pid = os.getpid()
        #: Pipeline seqs of records written by a failed batch that could not be cut back:
        #: they may be in the file until the next cut works (``AuditWriteError.in_doubt``).
        self.in_doubt: frozenset[int] = frozenset()
        #: The side file the torn tail went to when this backend opened, if there was one.
        self.set_aside: Path | None = None
        self._fork_error: BaseException | None = None
        self._checkpoint_interval_ms = checkpoint_interval_ms
        #: ``<file>.checkpoint``: the chain's head, outside the trail (see audit._checkpoint).
        self.checkpoints = Checkpointer(
            self.path, self._key, checkpoint_interval_ms, self._file.sync_if_dirty
        )
        self.state = self._resume()
        self._file.open()
        self._first_seq = first_seq_of(self.path, self.state.next_seq)
        self._checkpoint(force=True)
        self._gap = self._ready_gap_note()
        if self._gap is not None:  # records lost at the last close: say so in the chain now
            with contextlib.suppress(OSError):
                self.write(())

    @property
    def path(self) -> Path:
        """The trail this backend writes (a forked child's own: ``<stem>.<pid><suffix>``)."""
        return self._file.path

    @property
    def keyed(self) -> bool:
        """True when records are sealed with HMAC-SHA256 (a key was found in the variable)."""
        return self._key is not None

    def _resume(self) -> ChainState:
        """The trail's head (:mod:`hft.logging.audit._resume`); where a torn tail went."""
        opening = TrailOpening(self.path, self._key, self.checkpoints)
        try:
            return opening.resume()
        finally:
            self.set_aside = opening.set_aside

    # -- writing --------------------------------------------------------------------------

    def write(self, records: Sequence[Record]) -> None:
        """Seal *records*, append them with one write and sync as the policy says.

        On any failure the file is cut back to where it was, so a retry cannot duplicate;
        when that cut fails too, nothing is appended until a later cut works.
        """
        self._ready_to_write()
        records = self._with_gap(records)
        if self._file.rotation_due(self._rotation, self._max_bytes):
            self.rotate()
        seq, prev = self.state.next_seq, self.state.prev
        lines = []
        for record in records:
            line, prev = self._seal(seq, prev, record)
            lines.append(line)
            seq += 1
        try:
            self._file.append(b"".join(lines))
        except BaseException:
            if not self._file.undo():
                self.in_doubt |= {record[0] for record in records}
            raise
        self.state = ChainState(seq, prev)
        if self._gap is not None and records and records[0][0] == -1:
            self._gap_sealed()
        self._checkpoint()

    def _seal(self, seq: int, prev: str, record: Record) -> tuple[bytes, str]:
        pipeline_seq, ts_ns, _level, source, msg, fields = record
        body = {
            "alg": self._alg,
            "event": msg if type(msg) is str else safe_repr(msg, self._limit),
            "fields": fields,
            "logger": source.name,
            "pipeline_seq": pipeline_seq,
            "prev": prev,
            "seq": seq,
            "tags": source.tags,
            "ts": self._timestamp(ts_ns),
            "ts_ns": ts_ns,
        }
        try:
            canonical = orjson.dumps(body, option=_SORTED)
        except (TypeError, orjson.JSONEncodeError):
            body["fields"] = sanitize(fields, self._limit)
            try:
                canonical = orjson.dumps(body, option=_SORTED)
            except (TypeError, orjson.JSONEncodeError):  # a lone surrogate in event or logger
                canonical = orjson.dumps(sanitize(body, self._limit), option=_SORTED)
        return seal(canonical, self._key)

    def _ready_to_write(self) -> None:
        """A forked child switches to its own trail; a deleted trail is created again; a
        cut-back that failed is finished first."""
        if os.getpid() != self._pid:
            self.after_fork_in_child()
        if self._fork_error is not None:
            raise AuditChainError(f"the forked child's own trail: {self._fork_error}")
        if self._file.cut_pending and not self._file.deleted:
            self._cut_back()
        if self._file.deleted:
            self._file.reopen()
            self.in_doubt = frozenset()
            reserve_note(self.path, self._mode)

    def _cut_back(self) -> None:
        """The file ends where the chain does again: no record is in doubt any more."""
        self._file.cut_back()
        self.in_doubt = frozenset()

    def flush(self) -> None:
        """Under ``interval_ms``, sync once the interval has passed since the last sync.

        A checkpoint is written here too when its interval has passed.
        """
        self._file.sync_if_due()
        self._checkpoint()

    def close(self) -> None:
        """Sync what is pending and close the file; closing twice is harmless."""
        if self._file.fd >= 0:
            if self._file.cut_pending:
                self._cut_back()
            self._checkpoint(force=True)
            self._file.close()

    # -- loss notes and gap records (hft.logging.audit._gaps) -------------------------------

    def _ready_gap_note(self) -> dict[str, object] | None:
        reserve_note(self.path, self._mode)
        return read_note(self.path)

    def _with_gap(self, records: Sequence[Record]) -> Sequence[Record]:
        """A pending loss goes into the chain first, sealed as a gap record."""
        return records if self._gap is None else [gap_record(self._gap), *records]

    def _gap_sealed(self) -> None:
        self._gap = None
        clear_note(self.path)

    def note_lost(self, pipeline_seqs: Sequence[int], error: str) -> str:
        """Records accepted and never written: note them for a gap record; where it went."""
        self._gap = merge(self._gap, pipeline_seqs, error)
        if write_note(self.path, self._gap):
            return f"{self.path}.lost"
        return "nowhere (the loss note could not be written: counted and warned only)"

    # -- fork -----------------------------------------------------------------------------

    def after_fork_in_child(self) -> None:
        """A forked child leaves the parent's trail to the parent and opens its own."""
        self._file.forget()
        self._pid = os.getpid()
        self._file.path, self.set_aside = child_path(self._base_path, self._pid), None
        context = self.checkpoints.context
        self.checkpoints = Checkpointer(
            self.path, self._key, self._checkpoint_interval_ms, self._file.sync_if_dirty
        )
        if context is not None:
            self.checkpoints.attach(context)
        try:
            self.state = self._resume()
            self._file.open()
            self._first_seq = first_seq_of(self.path, self.state.next_seq)
            self._gap, self._fork_error = self._ready_gap_note(), None
        except (OSError, ValueError, AuditChainError) as exc:
            self._fork_error = exc

    # -- rotation -------------------------------------------------------------------------

    def rotate(self) -> Path | None:
        """Rename the current file to ``<file>.<UTC stamp>`` and start a new one.

        The new file's first record links to the old file's last, so the chain goes on.
        Returns the rotated file, or ``None`` when the current one is still empty.
        """
        if self._file.size == 0:
            return None
        self.close()
        target = self._file.rename_away()
        self._first_seq = self.state.next_seq
        self._checkpoint(force=True)
        return target

    def rotated_files(self) -> list[Path]:
        """Rotated files of this trail, oldest first (never pruned: they are evidence)."""
        return rotated_files(self.path)

    # -- checkpoints ----------------------------------------------------------------------

    def _checkpoint(self, *, force: bool = False) -> None:
        """Write ``<file>.checkpoint`` when due (or *force*), unless it already says this."""
        checkpoints = self.checkpoints
        if not (force or checkpoints.due()) or os.getpid() != self._pid:
            return  # a forked child must not move its parent's checkpoint back
        head = (self.state.next_seq - 1, self.state.prev, self._first_seq)
        if not checkpoints.current(*head):
            checkpoints.write(*head)

    def attach(self, context: BackendContext) -> None:
        """Send the chain head (``audit.checkpoint``) and opening warnings through *context*."""
        self.checkpoints.attach(context)

    def stats(self) -> Mapping[str, float]:
        """The chain head and checkpoint counts (``hft_audit_*`` in Prometheus)."""
        return self.checkpoints.stats(self.state.next_seq - 1)


def _check_failure_policy(on_failure: str, timeout_ms: float) -> None:
    if on_failure not in ("block", "raise"):
        raise ValueError(f"audit backend: unknown on_failure {on_failure!r} (block or raise)")
    if not timeout_ms > 0:
        raise ValueError(f"audit backend: failure_timeout_ms must be > 0, not {timeout_ms!r}")


def _check_choices(fmt: str, fsync_policy: str, rotation: str) -> None:
    if fmt != "json":
        raise ValueError(f"audit backend: unsupported format {fmt!r} (only 'json')")
    if fsync_policy not in ("every_batch", "interval_ms"):
        raise ValueError(f"audit backend: unknown fsync_policy {fsync_policy!r}")
    if rotation not in ("none", "daily", "size"):
        raise ValueError(f"audit backend: unknown rotation {rotation!r}")
