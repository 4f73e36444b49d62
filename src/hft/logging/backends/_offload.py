"""Run a backend in a writer process of its own, so formatting and I/O use the second core.

CPython runs one thread at a time per process: in-process, the dispatcher's JSON work competes
with the strategy's own code for the GIL. :class:`ProcessBackend` hands batches to a child
interpreter instead. The dispatcher's share shrinks to pickling a batch (records are plain
tuples; each logger's ``Source`` is pickled once per batch) and one ``write`` on a pipe; the
child unpickles, renders and writes with the ordinary in-process backend.

Guarantees and their limits:
- Order is kept: one pipe, one reader.
- A record the dispatcher handed over is in the pipe or the child. The child reads until the
  pipe closes and ignores SIGINT and SIGTERM, so neither Ctrl-C nor the parent's death (even by
  SIGKILL) loses what was handed over. If the *child* is killed, what it had not yet written is
  lost; the next batch starts a new child (``restarts`` counts them).
- A value that cannot cross the process boundary as itself (a user's class, a lock, a lambda)
  crosses as its ``repr``, which is what the JSON renderer would have printed anyway; dates,
  UUIDs, decimals, enums and dataclasses keep their native JSON forms.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import decimal
import enum
import fcntl
import io
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import time
import types
import uuid
from collections.abc import Mapping, Sequence
from typing import IO, Any, Final

import orjson

from hft._native import require_native
from hft.logging._record import Record, Source
from hft.logging._render import safe_repr, sanitize
from hft.logging._spill import StderrFallback
from hft.logging.backends._base import LoggingBackend

try:  # the optional C fast path for frames of plain records (src/hft/_frames.c)
    require_native()
    from hft import _frames
except ImportError:  # pragma: no cover - depends on how hft was installed
    _frames = None  # type: ignore[assignment]

_HEADER: Final = struct.Struct("<Q")
_PACKED: Final = b"H"  #: first byte of a packed frame (a pickled one starts with 0x80)
#: Records per frame at most: large enough that per-frame costs vanish, small enough that a
#: frame is written while the dispatcher is still draining a burst.
_FRAME_RECORDS: Final = 2048
_PIPE_BYTES: Final = 1 << 20
_F_SETPIPE_SZ: Final = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux
_READY: Final = b"R"
_SYNCED: Final = b"S"
_START_TIMEOUT_S: Final = 30.0
_SYNC_TIMEOUT_S: Final = 10.0
_CLOSE_TIMEOUT_S: Final = 60.0
_CHILD_RETRIES: Final = 3
#: Pickled as themselves: stdlib values the child can import, and the types and functions
#: that the pickles of plain-ified values refer to.
_BY_REFERENCE: Final = (
    datetime.date,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    uuid.UUID,
)
_PLAIN: Final = (str, bytes, int, float, dict, list, tuple, set, frozenset)
#: Modules the writer process surely imports: types and functions from these cross by name.
_IMPORTABLE: Final = frozenset(
    {"builtins", "datetime", "decimal", "uuid", __name__, "hft.logging._record"}
)


def _same(value: Any) -> Any:
    """Rebuilds a value from itself (what an enum or dataclass crosses the boundary as)."""
    return value


def _importable(obj: Any) -> bool:
    """A type or function the writer can find by name (a user's callback or class cannot)."""
    callable_kinds = type | types.FunctionType | types.BuiltinFunctionType
    return isinstance(obj, callable_kinds) and getattr(obj, "__module__", None) in _IMPORTABLE


class _RecordPickler(pickle.Pickler):
    """Pickles records; anything the child might not be able to import becomes its repr."""

    def __init__(self, file: IO[bytes], max_field_chars: int) -> None:
        super().__init__(file, protocol=5)
        self._limit = max_field_chars

    def reducer_override(self, obj: Any) -> Any:
        """Keep sources, stdlib values, types and functions; plain-ify the rest."""
        if type(obj) is Source or isinstance(obj, _BY_REFERENCE) or _importable(obj):
            return NotImplemented
        if isinstance(obj, enum.Enum):
            return _same, (obj.value,)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return _same, (dataclasses.asdict(obj),)
        for base in _PLAIN:  # subclasses of plain types, which the child may not know
            if isinstance(obj, base):
                plain: Any = base
                return base, (plain(obj),)
        return _same, (safe_repr(obj, self._limit),)


class ProcessBackend:
    """A backend (by its registry name and settings) running in a writer process.

    It looks like the backend it wraps (``name``, ``level``, routing flags), so the pipeline
    routes to it as usual. ``write`` queues a batch, ``flush`` (called by the dispatcher after
    every drain) sends the queue as one frame; ``close`` closes the pipe and waits until the
    child has written everything. If no writer process can be had, the backend writes in this
    process instead: slower, never lossy.
    """

    def __init__(
        self,
        backend_name: str,
        settings: Mapping[str, Any],
        max_field_chars: int,
        *,
        spill_dir: str = "logs/spill",
    ) -> None:
        from hft.logging._factory import create_backend_from_config

        probe = create_backend_from_config(backend_name, settings)  # validates; how to route
        self.name, self.level = probe.name, probe.level
        self.takes_metrics, self.takes_audit = probe.takes_metrics, probe.takes_audit
        probe.close()
        spec = {
            "backend": backend_name,
            "settings": dict(settings),
            "limit": max_field_chars,
            "spill_dir": str(spill_dir),
        }
        self._spec = orjson.dumps(spec)
        self._limit = max_field_chars
        self._backend_name, self._settings = backend_name, dict(settings)
        self._pending: list[Record] = []
        self._local: LoggingBackend | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._pid = -1
        self.restarts = -1
        self.lost = self.failed_over = 0
        self._start()

    def _start(self) -> None:
        """Start a writer process and wait until its backend is open (or it failed to open)."""
        child = subprocess.Popen(
            [sys.executable, "-m", "hft.logging.backends._offload", self._spec.decode()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        assert child.stdin is not None
        assert child.stdout is not None
        if _read_byte(child.stdout, _START_TIMEOUT_S) != _READY:  # b"R": its backend is open
            child.kill()
            child.stdin.close()
            child.stdout.close()
            code = child.wait()
            raise RuntimeError(f"{self.name} writer process failed to start (exit status {code})")
        with contextlib.suppress(OSError):  # a smaller pipe only makes the dispatcher wait sooner
            fcntl.fcntl(child.stdin.fileno(), _F_SETPIPE_SZ, _PIPE_BYTES)
        self._child, self._pid = child, os.getpid()
        self.restarts += 1

    def _pipe(self) -> int:
        """The pipe's descriptor, with a new child after a fork or if the old one died."""
        child = self._child
        if child is None or self._pid != os.getpid() or child.poll() is not None:
            self._discard_child()
            self._start()
            child = self._child
        assert child is not None
        assert child.stdin is not None
        return child.stdin.fileno()

    def _discard_child(self) -> None:
        """Forget a dead child (or, after a fork, the parent's child: not ours to reap)."""
        child, self._child = self._child, None
        if child is None or child.stdin is None:
            return
        with contextlib.suppress(OSError):
            child.stdin.close()  # after a fork this closes only our copy of the pipe
        if child.stdout is not None:
            child.stdout.close()
        if self._pid == os.getpid():
            _reap(child)

    def after_fork_in_child(self) -> None:
        """A forked process must neither resend the parent's queue nor hold its pipe open."""
        self._pending = []
        self._pid = os.getpid()  # the next frame starts a writer of our own
        child, self._child = self._child, None
        if child is not None:
            for stream in (child.stdin, child.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()

    def write(self, records: Sequence[Record]) -> None:
        """Queue *records* for the child; a full frame's worth is sent at once."""
        if self._pid != os.getpid():  # forked (the pipeline's fork hook normally did this)
            self.after_fork_in_child()
        self._pending.extend(records)
        if len(self._pending) >= _FRAME_RECORDS:
            self._send()

    def flush(self) -> None:
        """Send what is queued (the dispatcher flushes at the end of every drain)."""
        if self._pending:
            self._send()

    def sync(self, timeout: float = _SYNC_TIMEOUT_S) -> bool:
        """Send what is queued and wait until the writer has written it (``pipeline.flush``)."""
        self.flush()
        child = self._child
        if child is None or child.stdout is None:
            return True  # nothing sent since the last writer went away: all was written here
        try:
            self._write_frame(memoryview(_HEADER.pack(0)))  # an empty frame asks for a reply
        except OSError:
            return False
        return _read_byte(child.stdout, timeout) == _SYNCED

    def _send(self) -> None:
        """Send the queue as one frame; a dead writer is replaced once, then we write here.

        Every record handed to :meth:`write` ends in the writer, in this process's own copy of
        the backend, or (if that raises too) in :attr:`lost`, and the error propagates so the
        pipeline counts it: none disappears without a count.
        """
        records, self._pending = self._pending, []
        frame = self._frame(records)
        try:
            self._write_frame(frame)
            return
        except (OSError, RuntimeError):  # the child died: one more try with a new one
            self._discard_child()
        try:
            self._write_frame(frame)
        except (OSError, RuntimeError):
            self._last_resort(records)

    def _frame(self, records: list[Record]) -> memoryview:
        if _frames is not None:  # plain records: a compact frame, ~5x cheaper than pickling
            packed = _frames.pack(records, self._pickle_source)  # header included
            if packed is not None:
                return memoryview(packed)
        try:
            return self._pickle(records)
        except Exception:  # noqa: BLE001 - whatever a value's pickling raised: send it as text
            limit = self._limit
            return self._pickle([(*r[:5], sanitize(r[5], limit)) for r in records])

    def _pickle_source(self, source: Source) -> bytes:
        """A source inside a packed frame, pickled as in a pickled frame."""
        buffer = io.BytesIO()
        _RecordPickler(buffer, self._limit).dump(source)
        return buffer.getvalue()

    def _pickle(self, records: list[Record]) -> memoryview:
        buffer = io.BytesIO()
        buffer.write(_HEADER.pack(0))
        _RecordPickler(buffer, self._limit).dump(records)
        frame = buffer.getbuffer()
        _HEADER.pack_into(frame, 0, len(frame) - _HEADER.size)
        return frame

    def _write_frame(self, frame: memoryview) -> None:
        fd = self._pipe()
        view = frame
        while view:
            view = view[os.write(fd, view) :]

    def _last_resort(self, records: list[Any]) -> None:
        """No writer process: this process's own copy of the backend, else standard error."""
        try:
            self._fallback().write(records)
        except Exception:  # noqa: BLE001 - the backend cannot write here either
            try:
                StderrFallback(max_field_chars=self._limit).write(records)
            except Exception:
                self.lost += len(records)
                raise
            self.failed_over += len(records)

    def _fallback(self) -> LoggingBackend:
        """The same backend in this process, for when no writer process can be had."""
        if self._local is None:
            from hft.logging._factory import create_backend_from_config

            self._local = create_backend_from_config(
                self._backend_name, self._settings, max_field_chars=self._limit
            )
        return self._local

    def close(self) -> None:
        """Close the pipe and wait until the child has written everything it was handed."""
        self.flush()
        if self._local is not None:
            self._local.close()
        if self._pid == os.getpid():
            self._discard_child()  # EOF: the writer writes what it holds, then exits

    def stats(self) -> dict[str, float]:
        """Writer process restarts (0 while the first child lives), records lost here."""
        return {
            "writer_restarts": float(self.restarts),
            "writer_failed_over": float(self.failed_over),
            "writer_lost": float(self.lost),
        }


def _read_byte(stream: IO[bytes], timeout: float) -> bytes:
    """One byte from the writer's reply pipe, or b"" if none came within *timeout*."""
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.read(1) if ready else b""


def _reap(child: subprocess.Popen[bytes]) -> None:
    """Wait for a writer whose pipe is closed; one that hangs is killed after a bound."""
    try:
        child.wait(_CLOSE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _read_exact(stream: IO[bytes], size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def serve(stream: IO[bytes], spec: Mapping[str, Any], ready: IO[bytes] | None = None) -> None:
    """The child's loop: read frames until the pipe closes, deliver each to the real backend.

    Delivery goes through the same :class:`BackendSlot` as in-process, so a failing write in
    the child is retried, then failed over (stderr or a spill file), and reported once on the
    child's standard error — the child never dies of a full disk and takes records with it.
    """
    from hft.logging._factory import create_backend_from_config
    from hft.logging._slots import BackendSlot
    from hft.logging._spill import fallback_for

    limit = spec["limit"]
    backend = create_backend_from_config(spec["backend"], spec["settings"], max_field_chars=limit)
    slot = BackendSlot(
        backend,
        max_retry_attempts=_CHILD_RETRIES,
        enable_failover=True,
        fallback=fallback_for(backend.name, spec.get("spill_dir", "logs/spill"), limit),
        warn=_warn_on_stderr,
    )
    if ready is not None:
        ready.write(_READY)
        ready.flush()
    try:
        while (header := _read_exact(stream, _HEADER.size)) is not None:
            size = _HEADER.unpack(header)[0]
            if size == 0:  # the parent's sync(): say when everything before it is written
                slot.settle()
                if ready is not None:
                    ready.write(_SYNCED)
                    ready.flush()
                continue
            payload = _read_exact(stream, size)
            if payload is None:
                break  # the parent died mid-frame: that frame was never handed over whole
            _deliver(slot, payload)
            slot.tick(time.monotonic())
    finally:
        slot.settle()
        backend.close()


def _deliver(slot: Any, payload: bytes) -> None:
    try:
        if payload[:1] == _PACKED:
            assert _frames is not None  # the parent packs only when the extension is built
            records = _frames.unpack(payload, pickle.loads)
        else:
            records = pickle.loads(payload)  # noqa: S301 - our own parent's frames
    except Exception as exc:  # noqa: BLE001 - a frame that cannot be read is reported, not fatal
        _warn_on_stderr("writer could not read a frame", error=repr(exc), size=len(payload))
        return
    slot.deliver(records)


def _warn_on_stderr(msg: str, **fields: Any) -> None:
    """The child's warnings: one JSON line each on its standard error (the parent's)."""
    line = {"level": "WARNING", "logger": "hft.logging.writer", "msg": msg, "fields": fields}
    sys.stderr.write(orjson.dumps(line, default=str).decode() + "\n")
    sys.stderr.flush()


def main() -> None:
    """Entry point of the writer process: ``python -m hft.logging.backends._offload SPEC``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the parent decides when we stop: EOF
    serve(sys.stdin.buffer, orjson.loads(sys.argv[1]), ready=sys.stdout.buffer)


if __name__ == "__main__":
    main()
