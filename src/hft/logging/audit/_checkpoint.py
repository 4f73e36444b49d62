"""Checkpoints of an audit chain's head, kept outside the trail file.

A hash chain shows an edited or removed record *inside* it, but not its end cut off: the
shorter chain is still a valid chain. So the writer keeps ``<trail>.checkpoint`` beside the
trail, one sealed JSON object saying how far the chain had reached::

    {"alg":…,"digest":"<head digest>","file_first_seq":…,"kind":"hft.audit.checkpoint",
     "seq":<head seq>,"trail":"audit.log","ts":…,"ts_ns":…,"v":1,"seal":"<hex>"}

``seq`` / ``digest`` are the last record's (``-1`` / ``GENESIS`` before the first record),
``file_first_seq`` the first sequence number of the trail file at the time (the newest file;
older ones are rotated). ``seal`` is HMAC-SHA256 of the object without ``seal`` (orjson,
sorted keys) under the audit HMAC key, or plain SHA-256 when no key is configured (``alg``
says which): the plain form detects damage, not forgery. The file is replaced atomically
(temp file, fsync, rename, directory fsync), so it is always a whole checkpoint, and it is
written only after the records it vouches for are synced: it may lag the trail, never lead.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from hft.logging.audit._chain import HMAC_SHA256, SHA256, alg_for, digest_of, fsync_dir
from hft.logging.levels import INFO, WARNING
from hft.logging.render.clock import iso_us

if TYPE_CHECKING:
    from hft.logging.backends.base import BackendContext

KIND: Final = "hft.audit.checkpoint"
SUFFIX: Final = ".checkpoint"
_VERSION: Final = 1
_ROTATED: Final = re.compile(r"\.\d{8}T\d{6}\.\d{6}Z(?:\.\d+)?$")
_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_FIELDS: Final = ("alg", "digest", "file_first_seq", "kind", "seq", "trail", "ts_ns", "v")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, is not one, or does not verify."""


class CheckpointKeyError(CheckpointError):
    """A checkpoint sealed with HMAC-SHA256, checked without the key."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """How far the chain had reached when the checkpoint was written."""

    seq: int
    digest: str
    file_first_seq: int
    alg: str
    trail: str
    ts_ns: int

    def encode(self, key: bytes | None) -> bytes:
        """The sealed JSON object (one line)."""
        body: dict[str, Any] = {**asdict(self), "kind": KIND, "v": _VERSION}
        body["ts"] = iso_us(self.ts_ns)
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        seal = digest_of(canonical, key)
        return canonical[:-1] + b',"seal":"' + seal.encode() + b'"}\n'

    def fields(self) -> dict[str, Any]:
        """What the ``audit.checkpoint`` log record carries."""
        return {  # not "seq": the syslog backend's SD carries the record's own seq
            "head_seq": self.seq,
            "head_digest": self.digest,
            "alg": self.alg,
            "trail": self.trail,
            "file_first_seq": self.file_first_seq,
        }


def checkpoint_path(trail: Path) -> Path:
    """``<trail>.checkpoint``, beside the trail."""
    return trail.with_name(trail.name + SUFFIX)


def is_checkpoint_file(path: Path) -> bool:
    """True for a ``<trail>.checkpoint`` file."""
    return path.name.endswith(SUFFIX)


def trail_of(path: Path) -> Path:
    """The trail a chain file belongs to: ``audit.log`` for ``audit.log.<UTC stamp>``."""
    return path.with_name(_ROTATED.sub("", path.name))


def decode(data: bytes, key: bytes | None) -> Checkpoint:
    """Parse and check a checkpoint; :class:`CheckpointError` says what is wrong."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CheckpointError(f"not JSON ({exc})") from None
    if not isinstance(obj, dict) or obj.get("kind") != KIND or obj.get("v") != _VERSION:
        raise CheckpointError(f"not an {KIND} (version {_VERSION}) object")
    if not _well_formed(obj):
        raise CheckpointError("missing or mistyped fields")
    seal = obj.pop("seal")
    alg = obj["alg"]
    if alg == HMAC_SHA256 and key is None:
        raise CheckpointKeyError("sealed with HMAC-SHA256: give the key (--hmac-key-env)")
    if key is not None and alg == SHA256:
        raise CheckpointError("sealed with plain SHA-256 although a key was given (re-sealed?)")
    if digest_of(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS), key) != seal:
        raise CheckpointError("its seal does not match its content (edited, or another key)")
    return Checkpoint(**{k: obj[k] for k in _FIELDS if k not in ("kind", "v")})


def _well_formed(obj: Mapping[str, Any]) -> bool:
    ints = all(type(obj.get(k)) is int for k in ("seq", "file_first_seq", "ts_ns"))
    strings = all(type(obj.get(k)) is str for k in ("alg", "digest", "trail", "seal"))
    return ints and strings and obj["alg"] in (SHA256, HMAC_SHA256)


def read_checkpoint(path: Path, key: bytes | None) -> Checkpoint:
    """Read and check the checkpoint at *path* (``OSError`` if it cannot be read)."""
    with path.open("rb") as file:
        data = file.read(1 << 16)
    return decode(data, key)


def write_checkpoint(path: Path, checkpoint: Checkpoint, key: bytes | None) -> None:
    """Replace *path* atomically: temp file, fsync, rename, directory fsync."""
    temp = path.with_name(f".{path.name}.tmp")  # hidden: ``audit.log*`` does not match it
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(temp, flags, 0o600)
    try:
        view = memoryview(checkpoint.encode(key))
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    fsync_dir(path.parent)


def is_digest(text: str) -> bool:
    """True for 64 lower-case hex digits."""
    return _HEX64.fullmatch(text) is not None


class Checkpointer:
    """The writer's side: when to write a checkpoint, and what to do with the one it finds.

    Called from the audit backend (the dispatcher thread). *before_write* makes the records a
    checkpoint vouches for durable first (the backend's pending sync).
    """

    def __init__(
        self, trail: Path, key: bytes | None, interval_ms: float, before_write: Callable[[], None]
    ) -> None:
        self.path = checkpoint_path(trail)
        self._trail = trail.name
        self._key = key
        self._alg = alg_for(key)
        self._interval_s = interval_ms / 1000
        self._before_write = before_write
        self._due = 0.0
        self._context: BackendContext | None = None
        self._held: list[tuple[int, str, dict[str, Any]]] = []
        #: The checkpoint last written or found; ``None`` before either.
        self.last: Checkpoint | None = None
        self.written = 0
        self.failures = 0
        #: The error of the last failed write (cleared by a successful one).
        self.error: str | None = None

    def load(self) -> Checkpoint | None:
        """The checkpoint beside the trail, if any; :class:`CheckpointError` if it is bad."""
        try:
            self.last = read_checkpoint(self.path, self._key)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CheckpointError(f"{self.path}: cannot be read ({exc.strerror})") from None
        except CheckpointError as exc:
            raise CheckpointError(f"{self.path}: {exc}") from None
        return self.last

    def reconcile(self, next_seq: int, prev: str) -> tuple[int, str, str | None]:
        """Where the chain goes on, given the trail's head and the checkpoint found.

        A trail shorter than its checkpoint lost records the checkpoint vouched for: the chain
        continues after them (so no sequence number is used twice and the gap stays visible
        to ``hft audit verify``) and a warning says so. A head that contradicts the checkpoint
        raises :class:`CheckpointError`: extending it would overwrite the evidence.
        """
        found = self.last
        if found is None or found.seq < next_seq - 1:
            return next_seq, prev, None
        if found.seq == next_seq - 1:
            if found.digest != prev:
                raise CheckpointError(
                    f"{self.path}: the trail's last record (seq {found.seq}) does not match its"
                    " checkpoint (the chain was rewritten); run hft audit verify"
                )
            return next_seq, prev, None
        lost = f"seq {next_seq}" if found.seq == next_seq else f"seqs {next_seq}..{found.seq}"
        warning = (
            f"audit trail shorter than its checkpoint: {lost} missing (truncated or deleted);"
            f" the chain continues at seq {found.seq + 1}, the gap stays for hft audit verify"
        )
        return found.seq + 1, found.digest, warning

    def due(self) -> bool:
        """True once the interval has passed since the last checkpoint."""
        return time.monotonic() >= self._due

    def current(self, seq: int, digest: str, file_first_seq: int) -> bool:
        """True when the last checkpoint already says this."""
        last = self.last
        return last is not None and (last.seq, last.digest, last.file_first_seq) == (
            seq,
            digest,
            file_first_seq,
        )

    def write(self, seq: int, digest: str, file_first_seq: int) -> Checkpoint | None:
        """Write a checkpoint of this head now; ``None`` (counted) if that failed."""
        self._due = time.monotonic() + self._interval_s
        checkpoint = Checkpoint(seq, digest, file_first_seq, self._alg, self._trail, time.time_ns())
        try:
            self._before_write()
            write_checkpoint(self.path, checkpoint, self._key)
        except OSError as exc:
            self.failures += 1
            if self.error is None:  # once per outage
                self._say(WARNING, "audit checkpoint not written", error=_describe(exc))
            self.error = _describe(exc)
            return None
        if self.error is not None:
            self._say(WARNING, "audit checkpoint written again", failures=self.failures)
        self.last, self.error = checkpoint, None
        self.written += 1
        self._say(INFO, "audit.checkpoint", **checkpoint.fields())
        return checkpoint

    # -- reporting through the pipeline --------------------------------------------------

    @property
    def context(self) -> BackendContext | None:
        """The pipeline's context the head goes out through, once attached."""
        return self._context

    def attach(self, context: BackendContext) -> None:
        """Report through *context* from now on: what opening found, then the head."""
        self._context = context
        for level, msg, fields in self._held:
            self._say(level, msg, **fields)
        self._held.clear()
        if self.last is not None and self.last.seq >= 0:  # an empty chain has no head to send
            self._say(INFO, "audit.checkpoint", **self.last.fields())

    def warn_on_attach(self, msg: str, **fields: Any) -> None:
        """A warning from opening the trail: sent once a pipeline is attached."""
        self._say(WARNING, msg, **fields)

    def _say(self, level: int, msg: str, **fields: Any) -> None:
        context = self._context
        if context is None:
            if level != INFO:  # the head is sent on attach anyway
                self._held.append((level, msg, fields))
        elif level == INFO:
            context.note(msg, **fields)
        else:
            context.warn(msg, **fields, checkpoint=str(self.path))

    def stats(self, head_seq: int) -> dict[str, float]:
        """Figures for Prometheus (``hft_audit_*``): the sequence numbers are gauges, the counts
        counters."""
        last = self.last
        return {
            "chain_head_seq": head_seq,
            "checkpoint_seq": last.seq if last is not None else -1,
            "checkpoints_written": self.written,
            "checkpoint_failures": self.failures,
        }


def _describe(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc}"


def first_seq_of(path: Path, default: int) -> int:
    """The sequence number on the first line of *path*; *default* if there is none."""
    try:
        with path.open("rb") as file:
            line = file.readline(1 << 20)
        seq = orjson.loads(line).get("seq")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return default
    return seq if type(seq) is int else default


__all__ = [
    "Checkpoint",
    "CheckpointError",
    "CheckpointKeyError",
    "Checkpointer",
    "checkpoint_path",
    "decode",
    "first_seq_of",
    "is_checkpoint_file",
    "is_digest",
    "read_checkpoint",
    "trail_of",
    "write_checkpoint",
]
