"""The syslog backend's sender thread: the only place that waits for the network.

The dispatcher hands over rendered messages (:meth:`Sender.submit`) and returns at once: they
go to a bounded in-memory queue, or to the spool while the collector is unreachable, the queue
is full or the spool is still being replayed (so order is kept: queue, then spool, then new).
The thread sends the queue, then the spool, in large batches, and counts a message delivered
only once the transport confirms it. When a connection breaks, everything not confirmed (and a
TCP connection's tail, which may have been lost in flight) is put in front of the spool, and
the thread reconnects with a growing pause.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from typing import Final

from hft.logging.backends.syslog._spool import Chunk, Spool
from hft.logging.backends.syslog._transport import Transport

_BATCH: Final = 2048  # messages per send
_CHUNK_BYTES: Final = 512 * 1024  # spool bytes read per send
_BACKOFF: Final = (0.05, 1.0)  # first and longest pause between connection attempts
_IDLE_S: Final = 0.05


class _InFlight:
    """Messages sent together and how many of them are confirmed."""

    __slots__ = ("chunk", "done", "messages")

    def __init__(self, messages: list[bytes], chunk: Chunk | None) -> None:
        self.messages, self.chunk, self.done = messages, chunk, 0


class Sender:
    """Owns the transport; moves messages from the queue and the spool to the collector."""

    def __init__(self, transport: Transport, spool: Spool, *, max_queue: int = 50_000) -> None:
        self._transport = transport
        self.spool = spool
        self._max_queue = max_queue
        self._lock = threading.Lock()
        self._queue: deque[list[bytes]] = deque()
        self._inflight: deque[_InFlight] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.spooling = bool(spool)  # a spool left by the last run is replayed first
        self.connected = False
        self.queued = self.sent = self.acknowledged = self.spooled = self.replayed = 0
        self.resent = self.dropped = self.connects = self.disconnects = self.failures = 0
        self.last_error = ""
        self.last_exception: BaseException | None = None

    # -- dispatcher side --------------------------------------------------------------------

    def submit(self, messages: list[bytes]) -> None:
        """Queue *messages* for the thread, or spool them (never waits for the network)."""
        with self._lock:
            if self.spooling or self.queued + len(messages) > self._max_queue:
                self.spooling = True
                self._spool_locked(messages)
            else:
                self._queue.append(messages)
                self.queued += len(messages)
        self._wake.set()

    def _spool_locked(self, messages: list[bytes]) -> None:
        taken = self.spool.append(messages)
        self.spooled += taken
        self.dropped += len(messages) - taken

    @property
    def down(self) -> bool:
        """True from a failed connection attempt or a broken connection until it is back."""
        return not self.connected and (self.failures > 0 or self.disconnects > 0)

    @property
    def busy(self) -> bool:
        """True while anything is queued, spooled or waiting for confirmation."""
        return bool(self._queue or self._inflight or self.spooling or self.spool)

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hft-syslog", daemon=True)
            self._thread.start()

    def drain(self, idle_s: float = 2.0) -> bool:
        """Wait while the collector keeps taking messages; give up after *idle_s* without
        progress (or without a connection). Returns True when nothing is left."""
        last, deadline = -1, 0.0
        while self.busy and self._thread is not None and self._thread.is_alive():
            now = time.monotonic()
            if self.acknowledged != last:
                last, deadline = self.acknowledged, now + idle_s
            if now > deadline:
                return False
            self._wake.set()
            time.sleep(0.005)
        return not self.busy

    def stop(self) -> None:
        """Stop the thread; what is not confirmed goes to the spool for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        if self.connected:
            with contextlib.suppress(OSError):
                self._confirm(self._transport.close(1.0))
            self.connected = False
        with self._lock:
            self._spool_leftovers([])
        self.spool.close()

    # -- thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        pause = _BACKOFF[0]
        while not self._stop.is_set():
            if not self.connected:
                if self._connect():
                    pause = _BACKOFF[0]
                else:
                    self._stop.wait(pause)
                    pause = min(pause * 2, _BACKOFF[1])
                continue
            try:
                self._step()
            except OSError as exc:  # ssl.SSLError, RelpError and timeouts are OSErrors
                self._broken(exc)
            except Exception as exc:  # noqa: BLE001 - the sender thread must never die
                self._broken(OSError(f"{type(exc).__name__}: {exc}"))

    def _connect(self) -> bool:
        try:
            self._transport.connect()
        except OSError as exc:
            self.failures += 1
            self.last_error, self.last_exception = f"{type(exc).__name__}: {exc}", exc
            with contextlib.suppress(OSError):
                self._transport.close(0)
            with self._lock:  # queued records wait on disk, not in memory, until it is back
                self.spooling = True
                self._spool_leftovers([])
            return False
        self.connected = True
        self.connects += 1
        return True

    def _step(self) -> None:
        self._confirm(self._transport.poll())
        batch = self._next()
        if batch is None:
            if self._inflight:
                self._confirm(self._transport.poll(_IDLE_S))
            elif not self._resume():
                self._wake.wait(_IDLE_S)
                self._wake.clear()
            return
        messages, chunk = batch
        self._inflight.append(_InFlight(messages, chunk))
        if messages:
            self._transport.send(messages)
            self.sent += len(messages)
        self._confirm(self._transport.poll())

    def _next(self) -> tuple[list[bytes], Chunk | None] | None:
        with self._lock:
            if self._queue:
                return self._take_queue(), None
            if not self.spooling:
                return None
        chunk = self.spool.read(_CHUNK_BYTES)
        return None if chunk is None else (chunk.messages, chunk)

    def _take_queue(self) -> list[bytes]:
        queue = self._queue
        messages = queue.popleft()
        while queue and len(messages) < _BATCH:
            messages = messages + queue.popleft()
        self.queued -= len(messages)
        return messages

    def _resume(self) -> bool:
        """Once the queue and the spool are empty and confirmed, new messages are queued."""
        with self._lock:
            resumed = self.spooling and not (self._queue or self._inflight or self.spool)
            if resumed:
                self.spooling = False
            return resumed

    def _confirm(self, count: int) -> None:
        inflight = self._inflight
        while count and inflight:
            entry = inflight[0]
            take = min(count, len(entry.messages) - entry.done)
            entry.done += take
            count -= take
            self.acknowledged += take
            if entry.chunk is not None:
                self.replayed += take
            if entry.done == len(entry.messages):
                inflight.popleft()
                if entry.chunk is not None:
                    self.spool.confirm(entry.chunk)
        while inflight and not inflight[0].messages:  # an empty (torn) spool chunk
            chunk = inflight.popleft().chunk
            if chunk is not None:
                self.spool.confirm(chunk)

    def _broken(self, error: OSError) -> None:
        self.connected = False
        self.disconnects += 1
        self.last_error, self.last_exception = f"{type(error).__name__}: {error}", error
        tail = self._transport.take_tail()
        with contextlib.suppress(OSError):
            self._transport.close(0)
        with self._lock:
            self.spooling = True
            self._spool_leftovers(tail)

    def _spool_leftovers(self, tail: list[bytes]) -> None:
        """Put *tail*, unconfirmed and queued messages in front of the spool, in order.

        Unconfirmed messages read from the spool are still there: the reader rewinds to them.
        """
        unconfirmed = [m for e in self._inflight if e.chunk is None for m in e.messages[e.done :]]
        self.resent += len(tail) + sum(len(e.messages) - e.done for e in self._inflight)
        queued = [m for batch in self._queue for m in batch]
        self._queue.clear()
        self._inflight.clear()
        self.queued = 0
        self.spool.rewind()
        leftovers = tail + unconfirmed + queued
        self.spool.prepend(leftovers)
        self.spooled += len(leftovers)
