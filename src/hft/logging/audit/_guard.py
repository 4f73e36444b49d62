"""The audit backend's slot: nothing accepted is dropped, nothing refused is silent.

While the trail is healthy, ``audit()`` is the C call site: it appends to the audit ring and
returns; the dispatcher writes the record soon after. Records the backend cannot write are
*held* here, in order, and retried (exponential backoff up to ``MAX_BACKOFF_S``) until they
are written; they never go to a spill file and are never skipped.

As soon as a write fails the trail is *failing*: every audit call site's ``capacity`` is set
to 0, so each ``audit()`` call takes the slow path (:meth:`AuditSlot.submit`): it queues its
record with a *ticket* and waits for it.

- ``on_failure: block``: the call returns once its record is written; after
  ``failure_timeout_ms`` it withdraws the record and raises :class:`AuditWriteError`.
- ``on_failure: raise``: the call raises as soon as a write attempt fails while its record
  waits (its arrival triggers one at once), or at the time-out, whichever comes first.

A withdrawn record is never written later: a caller that was told owns the record again.
Once every held record is written the call sites get their fast path back. With
``durable: true`` every call takes the slow path, healthy or not, and returns only when its
record is written (fsynced under ``fsync_policy: every_batch``).

Records still held when the pipeline closes get ``failure_timeout_ms`` more (``block``), then
are lost: counted, warned about, and noted for a sealed gap record (see
:mod:`hft.logging.audit._gaps`). Counts: ``written + raised + lost + pending == routed``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any, Final

from hft.logging.backends.base import LoggingBackend
from hft.logging.pipeline.metrics import BackendStats
from hft.logging.pipeline.slots import HEALTHY, UNHEALTHY, BackendSlot, Warn
from hft.logging.pipeline.spill import NoFallback
from hft.logging.record import Record

MAX_BACKOFF_S: Final = 0.1  #: the longest pause between two tries of a failing trail
CHUNK: Final = 256  #: records per write attempt: a nearly full disk still takes what fits
_QUEUED, _WRITTEN, _FAILED = 1, 2, 3


class AuditWriteError(RuntimeError):
    """``audit()`` could not put its record in the trail; the record is not in it.

    ``pipeline_seq`` is the record's pipeline sequence number, ``reason`` the write error.
    ``in_doubt`` is True in one case only: the record was in a batch whose write failed and
    whose cut-back failed too (the file system refused both), so its bytes may still be in
    the file; the next write cuts them off first, and a restart after a crash finds them.
    """

    def __init__(
        self, message: str, *, pipeline_seq: int, reason: str, in_doubt: bool = False
    ) -> None:
        super().__init__(message)
        self.pipeline_seq = pipeline_seq
        self.reason = reason
        self.in_doubt = in_doubt


class _Ticket:
    __slots__ = ("done", "state")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.state = 0


class AuditSlot(BackendSlot):
    """Delivers audit records in order, holding them while the trail fails (module doc)."""

    def __init__(
        self,
        backend: LoggingBackend,
        *,
        warn: Warn,
        backoff_s: float = 0.005,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            backend,
            max_retry_attempts=0,
            enable_failover=False,
            fallback=NoFallback(),
            warn=warn,
            backoff_s=backoff_s,
            clock=clock,
        )
        self.policy: str = getattr(backend, "on_failure", "block")
        self.timeout_s: float = getattr(backend, "failure_timeout_s", 5.0)
        self.durable: bool = getattr(backend, "durable", False)
        self.raised = 0
        self._queue: deque[Record] = deque()
        #: Each audit call site (weakly) with the capacity of its fast path.
        self._sites: dict[weakref.ref[Any], int] = {}
        self._reset_sync()

    def _reset_sync(self) -> None:
        self._lock = threading.Lock()
        self._written = threading.Condition(self._lock)
        self._tickets: dict[int, _Ticket] = {}
        self._withdrawn: set[int] = set()

    @property
    def pending(self) -> int:
        """Records accepted and not written yet."""
        return len(self._queue)

    # -- call sites -----------------------------------------------------------------------

    def track(self, emitter: Any) -> Any:
        """Remember an audit call site (its ring's capacity is its fast path's room) and
        give it the capacity the trail's state calls for."""
        self._sites[weakref.ref(emitter, self._forget_site)] = emitter.capacity
        if not self.fast:
            emitter.capacity = 0
        return emitter

    def _forget_site(self, ref: weakref.ref[Any]) -> None:
        self._sites.pop(ref, None)

    def _set_sites(self) -> None:
        fast = self.fast
        for ref, capacity in list(self._sites.items()):  # one C-level copy: no race
            emitter = ref()
            if emitter is not None:
                emitter.capacity = capacity if fast else 0

    @property
    def fast(self) -> bool:
        """True while ``audit()`` may return before its record is written."""
        return self.state == HEALTHY and not self.durable

    def submit(
        self, record: Record, append: Callable[[Record], None], wake: Callable[[], None]
    ) -> None:
        """The slow path: queue *record*, wait until it is written, or withdraw it and raise."""
        ticket = _Ticket()
        seq = record[0]
        self._tickets[seq] = ticket
        append(record)
        wake()
        if ticket.done.wait(self.timeout_s) and ticket.state == _WRITTEN:
            return
        with self._lock:  # a write in flight finishes first: its outcome is known after
            state = ticket.state
            self._tickets.pop(seq, None)
            if state == _WRITTEN:
                return
            if state != _FAILED:
                self._withdraw(seq, state)
        waited = "at once" if state == _FAILED else f"after {self.timeout_s * 1000:g} ms"
        in_doubt = seq in getattr(self.backend, "in_doubt", ())
        doubt = "; its bytes may be in the file (the cut-back failed too)" if in_doubt else ""
        raise AuditWriteError(
            f"audit record {seq} not written ({self._error or 'trail not writable'}){doubt};"
            f" raised {waited} (logging.backends.audit.on_failure={self.policy})",
            pipeline_seq=seq,
            reason=self._error,
            in_doubt=in_doubt,
        )

    def _withdraw(self, seq: int, state: int) -> None:
        """Take a timed-out record back (lock held): it will never be written."""
        if state == _QUEUED:
            for index, record in enumerate(self._queue):
                if record[0] == seq:
                    del self._queue[index]
                    break
            self.raised += 1
        else:  # still in the ring: the slot skips it when it arrives
            self._withdrawn.add(seq)

    def wait_written(self, seq: int, timeout: float | None) -> bool:
        """Wait until no record numbered below *seq* is held (``flush``); False at time-out."""
        with self._written:
            return self._written.wait_for(
                lambda: not self._queue or min(r[0] for r in self._queue) > seq, timeout
            )

    # -- the dispatcher's calls -----------------------------------------------------------

    def deliver(self, records: Sequence[Record]) -> None:
        """Queue *records* behind those held, then write what the trail takes."""
        with self._lock:
            self.routed += len(records)
            if self._withdrawn or self._tickets:
                records = self._admit(records)
            if not self._queue and self.state == HEALTHY:  # the common case: straight through
                if self._write(records):
                    if self._tickets:
                        self._settle_tickets(records, _WRITTEN)
                    return
                self._queue.extend(records)
                self._failed()
                return
            self._queue.extend(records)
            if self._clock() >= self._next_try or self._urgent(records):
                self._pump()

    def _admit(self, records: Sequence[Record]) -> list[Record]:
        kept = []
        for record in records:
            seq = record[0]
            if seq in self._withdrawn:
                self._withdrawn.discard(seq)
                self.raised += 1
                continue
            ticket = self._tickets.get(seq)
            if ticket is not None:
                ticket.state = _QUEUED
            kept.append(record)
        return kept

    def _urgent(self, records: Sequence[Record]) -> bool:
        """``raise`` policy: a waiting caller's record gets its one attempt now."""
        return self.policy == "raise" and any(r[0] in self._tickets for r in records)

    def tick(self, now: float) -> None:
        """Retry held records once their backoff is over."""
        if self.state != HEALTHY and now >= self._next_try:
            with self._lock:
                self._pump()

    def _pump(self) -> None:
        """Write held records in order, a chunk at a time, until done or a write fails.

        Only a write that worked makes the trail healthy again: a queue emptied by callers
        who were refused (``raise``) or timed out proves nothing about the disk.
        """
        queue = self._queue
        wrote = False
        while queue:
            chunk = list(islice(queue, CHUNK))
            if not self._write(chunk):
                self._failed()
                return
            wrote = True
            for _ in chunk:
                queue.popleft()
            if self._tickets:
                self._settle_tickets(chunk, _WRITTEN)
        self._written.notify_all()
        if self.state != HEALTHY and wrote:
            self._recovered()

    def _settle_tickets(self, records: Sequence[Record], state: int) -> None:
        for record in records:
            ticket = self._tickets.pop(record[0], None)
            if ticket is not None:
                ticket.state = state
                ticket.done.set()

    def _failed(self) -> None:
        self._written.notify_all()
        if self.state == HEALTHY:
            self.state = UNHEALTHY
            self._failed_retries = 0
            self._set_sites()
            self._warn(
                "audit trail failing: audit() now waits for its record",
                backend=self.backend.name,
                error=self._error,
                on_failure=self.policy,
                failure_timeout_ms=self.timeout_s * 1000,
                held=len(self._queue),
            )
        self._failed_retries += 1
        delay = self._backoff_s * 2 ** min(self._failed_retries, 20)
        self._next_try = self._clock() + min(delay, MAX_BACKOFF_S)
        if self.policy == "raise" and self._tickets:
            self._refuse_ticketed()

    def _refuse_ticketed(self) -> None:
        """``raise``: the callers waiting on this failed attempt are told now."""
        refused = [r for r in self._queue if r[0] in self._tickets]
        if not refused:
            return
        self._queue = deque(r for r in self._queue if r[0] not in self._tickets)
        self.raised += len(refused)
        self._settle_tickets(refused, _FAILED)

    def _recovered(self) -> None:
        self.state = HEALTHY
        self._set_sites()
        self._warn("audit trail recovered", backend=self.backend.name, retries=self.retries)

    def settle(self) -> None:
        """At shutdown: held records get ``failure_timeout_ms`` more (``block``), then are lost."""
        deadline = self._clock() + (self.timeout_s if self.policy == "block" else 0)
        while True:
            with self._lock:
                self._pump()
                if not self._queue or self._clock() >= deadline:
                    self._lose_held()
                    return
            time.sleep(min(MAX_BACKOFF_S, max(0.0, self._next_try - self._clock())))

    def _lose_held(self) -> None:
        """Records that can no longer be written: callers waiting are told, the rest noted."""
        held, self._queue = list(self._queue), deque()
        ticketed = [r for r in held if r[0] in self._tickets]
        self.raised += len(ticketed)
        self._settle_tickets(ticketed, _FAILED)
        lost = [r[0] for r in held if r[0] not in {t[0] for t in ticketed}]
        self._written.notify_all()
        if not lost:
            return
        self.lost += len(lost)
        note = getattr(self.backend, "note_lost", None)
        where = note(lost, self._error) if note is not None else "nowhere"
        self._warn(
            "audit records lost: the trail could not be written before close",
            backend=self.backend.name,
            lost=len(lost),
            first_pipeline_seq=lost[0],
            last_pipeline_seq=lost[-1],
            error=self._error,
            gap_noted_in=where,
        )

    def forget_held(self) -> None:
        """After a fork, in the child: the parent owns what is held; locks start afresh."""
        self.routed -= len(self._queue)
        self._queue.clear()
        self._reset_sync()
        self.state = HEALTHY
        self._set_sites()

    def stats(self) -> BackendStats:
        """The slot's counts; ``extra`` adds the records raised to their callers."""
        stats = super().stats()
        return dataclasses.replace(stats, extra={**stats.extra, "raised": self.raised})


__all__ = ["AuditSlot", "AuditWriteError"]
