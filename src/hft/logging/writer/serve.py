"""The writer process: reads frames, writes them with the real backend, acknowledges them.

``python -m hft.logging.writer SPEC`` (started by :class:`ProcessBackend`). Delivery
goes through the same :class:`BackendSlot` as in-process, so a failing write is retried, then
failed over (stderr or a spill file) — the writer never dies of a full disk. A frame is
acknowledged once every record in it is disposed of, with the running totals of written,
failed-over and lost records and the backend's state; warnings go to the parent, which logs
them as its own (see :mod:`hft.logging.writer.wire` for the replies).

A replacement for a killed writer is told which frames its predecessor may have written
(``resend_through``). It holds those, reads the last complete line of the log (cutting off a
line the kill tore), finds the record that line was rendered from, and writes only what comes
after it: the file ends up with every record once.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Final

import orjson
from pydantic import BaseModel

from hft.logging.backends.base import BackendContext
from hft.logging.pipeline.metrics import LoggingMetrics
from hft.logging.pipeline.slots import BackendSlot
from hft.logging.record import BacktraceRecords, Record
from hft.logging.render.schemas import line_seq
from hft.logging.writer.sinks import LOSSLESS, DirectSink, QueuedSink, SinkGroup, SinkSpec
from hft.logging.writer.wire import (
    HEADER,
    READY,
    ack_message,
    closing_deadline,
    read_frame,
    stats_message,
    warn_message,
)

if TYPE_CHECKING:
    from hft.logging.backends.base import LoggingBackend

_CHILD_RETRIES: Final = 3
_READ_BYTES: Final = 1 << 20
#: Records the writer renders before it offers its CPU back (``sched_yield``). A frame holds
#: thousands (a millisecond and more of work after a wake-up). Woken on the CPU where a busy
#: application thread runs, the scheduler may run the writer first: that thread then waits
#: for the whole frame, unless the writer offers the CPU back as it goes.
YIELD_EVERY: Final = 128
_RETRY_POLL_S: Final = 0.005  #: how often held records are retried while no frame comes
#: How often the sinks' counts go to the parent at most while frames stream (at once when the
#: writer is idle); also how often an idle writer looks at its queued sinks' counts.
STATS_EVERY_S: Final = 0.05
#: The writer's GIL switch interval while it hosts a queued sink beside the file.
SWITCH_INTERVAL_S: Final = 0.0001
#: Longest the queued sinks (console, syslog) may take to write what they hold at shutdown.
DRAIN_DEADLINE_S: Final = 5.0


class FrameReader:
    """Frames from a pipe, with a timeout (so held records can be retried while idle).

    The pipe is read into one buffer that is kept and reused (grown only for a frame larger
    than it): a fresh megabyte per read, then copies to join and cut it, cost the writer
    page faults and ``mremap``/``munmap`` on every frame. A frame's payload is copied out
    once, as ``bytes``: records may be held (a retry, a resend) after the buffer moved on.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buf = bytearray(_READ_BYTES)
        self._view = memoryview(self._buf)
        self._start = 0  #: the first byte not yet taken
        self._end = 0  #: one past the last byte read
        self.eof = False

    def next(self, timeout: float | None) -> bytes | None:
        """The next frame's payload; None after *timeout* or at the end of the pipe."""
        while True:
            payload = self._take()
            if payload is not None or self.eof:
                return payload
            if timeout is not None and not select.select([self._fd], [], [], timeout)[0]:
                return None
            self._make_room()
            read = os.readv(self._fd, [self._view[self._end :]])
            if not read:
                self.eof = True  # a frame cut short by the parent's death was never handed over
                continue
            self._end += read

    @property
    def buffered(self) -> bool:
        """True when a whole frame is already read and waiting (the writer is not idle)."""
        start, end = self._start, self._end
        return end - start >= HEADER.size and end >= start + self._framed(start)

    def _take(self) -> bytes | None:
        start, end = self._start, self._end
        if end - start < HEADER.size:
            return None
        stop = start + self._framed(start)
        if end < stop:
            return None
        self._start = stop
        return bytes(self._view[start + HEADER.size : stop])

    def _framed(self, start: int) -> int:
        """The size, header included, of the frame whose header is at *start*."""
        return HEADER.size + int(HEADER.unpack_from(self._buf, start)[0])

    def _make_room(self) -> None:
        """Room after :attr:`_end` for the rest of the frame begun, and at least a quarter
        of a read."""
        start, end = self._start, self._end
        if start == end:
            self._start = self._end = 0
            return
        needed = _READ_BYTES
        if end - start >= HEADER.size:
            needed = max(needed, self._framed(start))
        if len(self._buf) - start >= needed and len(self._buf) - end >= _READ_BYTES // 4:
            return
        if len(self._buf) < needed:  # a frame larger than the buffer: a larger buffer
            buf = bytearray(needed)
            buf[: end - start] = self._view[start:end]
            self._view.release()
            self._buf, self._view = buf, memoryview(buf)
        else:  # the unread bytes to the front (one partial frame: usually little)
            self._view[: end - start] = self._buf[start:end]
        self._start, self._end = 0, end - start


def _part(records: Sequence[Record], start: int, stop: int) -> Sequence[Record]:
    """*records* from *start* to *stop*: the very object when whole, a backtrace's part still
    routed at its trigger's level."""
    if start == 0 and stop == len(records):
        return records
    if type(records) is BacktraceRecords:
        return BacktraceRecords(records[start:stop], records.level)
    return records[start:stop]


class Writer:
    """Delivers frames to the sinks and acknowledges them; skips what a predecessor wrote."""

    def __init__(self, group: SinkGroup, out: IO[bytes], spec: Mapping[str, Any]):
        self._group = group
        self._out: IO[bytes] | None = out
        self._out_lock = threading.Lock()  #: sink threads warn too
        self.frame = int(spec.get("first_frame", 0)) - 1  #: the last frame read
        self._resend_through = int(spec.get("resend_through", -1))
        self._resent: list[Record] | None = None
        self._resent_frames: list[Sequence[Record]] = []  #: the same records, as framed
        self._last_line: bytes | None = None
        resumable = next((b for b in group.backends() if hasattr(b, "last_line")), None)
        self._render = getattr(resumable, "render", None)
        if self._resend_through > self.frame and resumable is not None:
            self._resent = []
            self._last_line = resumable.last_line()
        self.skipped = 0  #: records a killed predecessor had written (counted as written)
        self._told: tuple[int, str] = (self.frame, "healthy")
        self._stats: dict[str, Any] = {}
        self._stats_at = 0.0
        #: When the parent's drain deadline passes (``time.monotonic()``), once it is closing.
        self.deadline: float | None = None

    def take(self, payload: bytes) -> None:
        """One frame: deliver it (or hold it while resent frames are being gathered)."""
        self.frame += 1
        deadline = closing_deadline(payload)
        if deadline is not None:  # the parent is closing: the sinks' last moment
            self.deadline = deadline
            return
        try:
            records = read_frame(payload)
        except Exception as exc:  # noqa: BLE001 - the parent counts the frame's records as lost
            self.warn("writer could not read a frame", error=repr(exc), size=len(payload))
            records = []
        if self._resent is None:
            if records:
                self._group.deliver(records)
            return
        self._resent.extend(records)
        self._resent_frames.append(records)
        if self.frame >= self._resend_through:
            self.deliver_resent()

    def deliver_resent(self) -> None:
        """Skip the resent records already in the log; deliver the rest, frame by frame (a
        backtrace's frame is routed as one: :class:`~hft.logging.record.BacktraceRecords`)."""
        resent, frames = self._resent, self._resent_frames
        self._resent, self._resent_frames = None, []
        if not resent:
            return
        done = self._already_written(resent)
        self.skipped += done
        for records in frames:
            here = min(done, len(records))
            done -= here
            if here:  # in the file: counted as written
                self._group.already_written(_part(records, 0, here))
            if here < len(records):
                self._group.deliver(_part(records, here, len(records)))

    def _already_written(self, records: list[Record]) -> int:
        """How many of *records* lead up to (and include) the log's last line."""
        line = self._last_line
        if line is None or self._render is None:
            return 0
        seq = line_seq(line)  # any schema's line
        if seq is None:
            return 0
        for i in range(len(records) - 1, -1, -1):
            if records[i][0] == seq and self._render([records[i]]) == line:
                return i + 1
        return 0

    def acknowledge(self, *, idle: bool = True) -> None:
        """Tell the parent what is disposed of, when that (or a sink's state) changed; the
        sinks' counts go first, when they changed: always before an acknowledgement (a writer
        killed after it leaves no acknowledged record out of its sinks' counts), else at most
        every ``STATS_EVERY_S`` (at once when *idle*: a flush reads the counts after it)."""
        group = self._group
        if group.pending or self._resent is not None:
            return
        written, failed_over, lost, state = group.totals()
        now = (self.frame, state)
        if now == self._told:
            self.report_stats(force=idle)
            return
        self.report_stats(force=True)
        self._told = now
        self._send(ack_message(self.frame, written, failed_over, lost, state))

    def report_stats(self, *, force: bool = False) -> None:
        """Send the sinks' counts when they changed (at most every ``STATS_EVERY_S``)."""
        clock = time.monotonic()
        if not force and clock - self._stats_at < STATS_EVERY_S:
            return
        stats = self._group.stats()
        if stats == self._stats:
            return
        self._stats, self._stats_at = stats, clock
        self._send(stats_message(stats))

    def warn(self, msg: str, **fields: Any) -> None:
        """A warning, sent to the parent to be logged there."""
        self._send(warn_message(msg, fields))

    def _send(self, message: bytes) -> None:
        with self._out_lock:
            if self._out is None:
                return
            try:
                self._out.write(message)
                self._out.flush()
            except OSError:  # the parent is gone: keep writing what it handed over, quietly
                self._out = None


def pin_to_cpu(choice: str | int, warn: Callable[..., None]) -> None:
    """Keep the writer on one CPU (``writer_cpu``): a strategy's thread pinned to another one
    never shares a core with it (an unpinned thread may land on the writer's CPU; the writer
    offers it back every ``YIELD_EVERY`` records). "last": the last CPU this process may
    use, when it may use two or more; "any": the OS decides."""
    allowed = os.sched_getaffinity(0)
    if choice == "any" or (choice == "last" and len(allowed) < 2):
        return
    cpu = max(allowed) if choice == "last" else int(choice)
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:
        warn(
            "log writer process left unpinned: logging.backends.file.writer_cpu",
            writer_cpu=choice,
            allowed=sorted(allowed),
            error=exc.strerror or str(exc),
        )


def open_backend(
    name: str, section: BaseModel, limit: int, pid: int | None = None
) -> LoggingBackend:
    """The backend *name* from its validated *section*, as a writer process's sink: one that
    renders offers its CPU back as it goes. *pid* is the process whose records it writes
    (schema otel's ``process.pid``; None: this one)."""
    from hft.logging.backends.registry import build_in_process

    return build_in_process(name, section, max_field_chars=limit, yield_every=YIELD_EVERY, pid=pid)


def open_sinks(spec: SinkSpec, warn: Callable[..., None], pid: int | None = None) -> SinkGroup:
    """Every sink *spec* names, each behind a slot of its own (retries, failover); the lossless
    ones written in the caller's thread, the others on threads of their own. *pid*: the
    process whose records they write (None: this one)."""
    from hft.logging.pipeline.spill import fallback_for

    idle = threading.Event()
    sinks: list[DirectSink | QueuedSink] = []
    for name, section in spec.sections:
        backend = open_backend(name, section, spec.limit, pid)
        slot = BackendSlot(
            backend,
            max_retry_attempts=_CHILD_RETRIES,
            enable_failover=True,
            fallback=fallback_for(backend.name, spec.spill_dir, spec.limit),
            warn=warn,
        )
        slot.hooks.attach(BackendContext(warn=warn, note=warn, metrics=LoggingMetrics))
        if name in LOSSLESS:
            sinks.append(DirectSink(slot))
        else:
            sinks.append(QueuedSink(slot, warn, spec.queue_records, idle))
    return SinkGroup(sinks, idle)


def serve(fd: int, spec: Mapping[str, Any], sinks: SinkSpec, out: IO[bytes]) -> bool:
    """The writer's loop: frames until the pipe closes, each delivered and acknowledged to
    *sinks* (read from *spec*, the JSON the writer was started with, by :func:`main`).

    Returns False when a sink was still stuck in a write at the drain deadline: the process
    must then leave without waiting for it (``os._exit``)."""
    writer: Writer | None = None

    def warn(msg: str, **fields: Any) -> None:
        if writer is not None:
            writer.warn(msg, **fields)

    group = open_sinks(sinks, warn, os.getppid())  # the records are our parent's
    if any(isinstance(s, QueuedSink) for s in group.sinks):
        # The lossless sink's thread gives up the GIL at every read and write of its pipe and
        # file; a console thread busy rendering would then keep it for a whole switch interval
        # (5 ms) each time, and the file would crawl at the console's pace. A short interval
        # hands it back within a tenth of a millisecond.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
    writer = Writer(group, out, spec)
    pin_to_cpu(spec.get("writer_cpu", "any"), writer.warn)
    # What startup made lives as long as the writer: out of the collector's sight, so that
    # full collections (triggered by the frames' short-lived records) scan next to nothing.
    gc.freeze()
    out.write(READY)
    out.flush()
    try:
        _loop(FrameReader(fd), writer, group)
    finally:
        writer.deliver_resent()  # the parent died before sending them all: write what came
        default = time.monotonic() + float(spec.get("drain_deadline_s", DRAIN_DEADLINE_S))
        undelivered = group.close(max(0.0, (writer.deadline or default) - time.monotonic()))
        writer.report_stats(force=True)
        writer.acknowledge()
        if undelivered:
            _say_on_stderr(undelivered)
        for backend in group.backends():
            if not group.stuck:
                backend.close()
    return not group.stuck


def _say_on_stderr(undelivered: Mapping[str, int]) -> None:
    """One line on standard error, from a thread of its own: stderr may be the very pipe that
    nobody reads (the process leaves without waiting for it)."""
    line = orjson.dumps(
        {"level": "WARNING", "logger": "hft.logging", "msg": "log records not delivered by the "
         "drain deadline", "fields": dict(undelivered)}
    ) + b"\n"  # fmt: skip
    thread = threading.Thread(target=_write_quietly, args=(2, line), daemon=True)
    thread.start()
    thread.join(0.1)


def _write_quietly(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, data)


def _loop(reader: FrameReader, writer: Writer, group: SinkGroup) -> None:
    idle = group.idle
    while True:
        if not reader.buffered:
            idle.set()  # the queued sinks' turn while no frame waits
        payload = reader.next(_RETRY_POLL_S if group.pending else STATS_EVERY_S)
        idle.clear()
        if payload is not None:
            writer.take(payload)
        elif reader.eof:
            idle.set()
            return
        group.tick(time.monotonic())
        writer.acknowledge(idle=payload is None or not reader.buffered)


def main() -> None:
    """Entry point of the writer process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the parent decides when we stop: EOF
    spec = orjson.loads(sys.argv[1])
    sinks = SinkSpec.read(spec)  # the one validation of the sinks' settings in this process
    out = os.fdopen(int(spec["reply_fd"]), "wb")
    if not serve(sys.stdin.fileno(), spec, sinks, out):
        with contextlib.suppress(OSError):
            out.flush()
        os._exit(0)  # a sink thread is stuck in a write: do not wait for it at exit
