"""Where call sites leave records and the dispatcher takes them: one pipeline's rings.

A call site appends a tuple to the main ring (an audit record to the audit ring, which never
drops) or copies a plain record into the byte lane (:mod:`~hft.logging.pipeline.lanes`). It
takes its sequence number from here, waits here for room (:class:`Gate`), and wakes the
dispatcher here. The dispatcher takes the rings in slices (:meth:`Rings.take`), audit first.
Every record's sequence number lets the drop ledger say how many never arrived
(:meth:`Rings.dropped`). A forked child gets new rings: the parent's are the parent's to drain.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Sequence
from itertools import repeat
from operator import call
from typing import TYPE_CHECKING, Any, Literal

from hft.logging.levels import MARKER
from hft.logging.native import Sequence as CSequence
from hft.logging.pipeline.drops import DropLedger
from hft.logging.pipeline.gate import REOPEN_AT, Gate
from hft.logging.pipeline.metrics import CallSamples
from hft.logging.record import Record, Source

if TYPE_CHECKING:
    from hft.logging.pipeline.lanes import LaneFeed

OverflowPolicy = Literal["drop_oldest", "drop_newest", "block"]


def new_sequence() -> Callable[[], int]:
    """A pipeline's record numbers: called, 0, 1, 2... A C ``Sequence`` where built (a C call
    site takes its number without a call or an int object), else ``itertools.count().__next__``."""
    if CSequence is not None:
        return CSequence()
    return itertools.count().__next__


class Rings:
    """One pipeline's rings, byte lane, sequence numbers, wake-up and drop ledger."""

    def __init__(
        self,
        capacity: int,
        overflow_policy: OverflowPolicy,
        gc_threshold: float,
        running: Callable[[], bool],
    ) -> None:
        self.capacity = capacity
        self.overflow_policy: OverflowPolicy = overflow_policy
        self._gc_threshold = gc_threshold
        self._running = running  #: whether a dispatcher thread drains these rings
        maxlen = capacity if overflow_policy == "drop_oldest" else None
        self.ring: deque[Record] = deque(maxlen=maxlen)
        self.retired: list[deque[Record]] = []  #: rings replaced by :meth:`resize`, still drained
        self.audit_ring: deque[Record] = deque()
        self.lane: LaneFeed | None = None  #: plain records as bytes (set once the slots exist)
        self.next_seq: Callable[[], int] = new_sequence()
        self.call_samples = CallSamples()
        self.drops = DropLedger()
        self.wakeup = threading.Event()  #: set to wake the dispatcher
        self._ring_gate = Gate()
        self._audit_gate = Gate()
        self.front = -1  #: sequence number of the last record taken from the main ring

    # -- the call sites' side -------------------------------------------------------------------

    @property
    def wake_at(self) -> int:
        """The ring length (``gc_threshold`` of the capacity) whose call wakes the dispatcher."""
        return max(1, int(self._gc_threshold * self.capacity))

    def wake(self) -> None:
        """Wake the dispatcher now."""
        self.wakeup.set()

    def note_refused(self, seq: int) -> None:
        """A call site could not enqueue record *seq* (ring full); it counts as dropped."""
        self.drops.refused(seq)

    def wait_for_space(self, ring: deque[Record], capacity: int, timeout_s: float | None) -> bool:
        """Block until *ring* has drained to ``REOPEN_AT`` of its *capacity* (see :class:`Gate`).

        Returns False when *timeout_s* passed with the ring still full. With no dispatcher
        running nobody would make room: a bounded wait gives up at once, an unbounded one
        (audit) lets the ring grow.
        """
        if not self._running():
            return timeout_s is None
        gate = self._audit_gate if ring is self.audit_ring else self._ring_gate
        return gate.wait(ring, capacity, timeout_s, self._running, self.wakeup)

    def lane_for(self, level: int, source: Source) -> tuple[Any, int]:
        """``(lane, source id)`` for call sites of *level* whose plain records go to the lane;
        ``(None, -1)``: every record takes the tuple ring."""
        if self.lane is None:
            return None, -1
        source_id = self.lane.source_id(level, source)
        return (self.lane.lane, source_id) if source_id >= 0 else (None, -1)

    def resize(self, capacity: int) -> None:
        """A new main ring of *capacity*; the old one is retired, its records still taken."""
        self.capacity = capacity
        self.retired.append(self.ring)
        self.ring = deque(maxlen=capacity if self.overflow_policy == "drop_oldest" else None)

    # -- the dispatcher's side ------------------------------------------------------------------

    def take(self, limit: int) -> list[Record]:
        """Pop up to *limit* records, audit first. Only the dispatcher pops, and call sites
        only add (a full drop_oldest ring discards as it adds), so ``len`` records are there."""
        ring = self.ring
        if self.audit_ring or self.retired:
            batch = self._take_in_order(limit)
        else:  # the common slice: the main ring only, popped at C level
            batch = list(map(call, repeat(ring.popleft, min(limit, len(ring)))))
        if batch and batch[-1][2] != MARKER:
            self.front = batch[-1][0]
        if self._ring_gate.waiters or self._audit_gate.waiters:
            low_water = int(self.capacity * REOPEN_AT)
            self._ring_gate.open_if_drained(ring, low_water)
            self._audit_gate.open_if_drained(self.audit_ring, low_water)
        return batch

    def _take_in_order(self, limit: int) -> list[Record]:
        """Audit records first, then rings retired by :meth:`resize` (dropped once empty)."""
        batch: list[Record] = []
        for ring in (self.audit_ring, *self.retired, self.ring):
            pop = ring.popleft
            batch.extend([pop() for _ in range(min(limit - len(batch), len(ring)))])
        self.retired = [r for r in self.retired if r]
        return batch

    # -- what waits, and what was lost ----------------------------------------------------------

    def tuples(self) -> list[Sequence[Record]]:
        """The rings where records wait as tuples."""
        return [self.ring, self.audit_ring, *self.retired]

    @property
    def lane_depth(self) -> int:
        """Records waiting in the byte lane (0 without one)."""
        return 0 if self.lane is None else int(self.lane.lane.pending)

    def _lane_ring(self) -> Any:  # where plain records wait as bytes (None: no lane)
        return None if self.lane is None else self.lane.lane

    def dropped(self) -> int:
        """Records given a sequence number that will never be taken: exact once the call sites
        are quiet (metrics use :meth:`DropLedger.confirmed`, which says why)."""
        return self.drops.dropped(self.tuples(), self._lane_ring())

    def issued(self) -> int:
        """Sequence numbers handed out so far."""
        return self.drops.issued(self.tuples(), self._lane_ring())


class RingViews:
    """The pipeline's rings as its attributes (``LoggingPipeline`` inherits them): what tests,
    benchmarks and backends read. Call sites bind :attr:`rings` directly (callsites.py)."""

    rings: Rings

    @property
    def capacity(self) -> int:
        """The main ring's capacity (``ring_buffer_size``; :meth:`resize` raises it)."""
        return self.rings.capacity

    @property
    def ring(self) -> deque[Record]:
        """The main ring, where call sites append their records."""
        return self.rings.ring

    @property
    def audit_ring(self) -> deque[Record]:
        """The audit ring: it never drops."""
        return self.rings.audit_ring

    @property
    def next_seq(self) -> Callable[[], int]:
        """The record numbers: called, 0, 1, 2..."""
        return self.rings.next_seq

    @property
    def call_samples(self) -> CallSamples:
        """Sampled call-site latencies."""
        return self.rings.call_samples

    @property
    def wake_at(self) -> int:
        """The ring length (``gc_threshold`` of the capacity) whose call wakes the dispatcher."""
        return self.rings.wake_at

    def lane_for(self, level: int, source: Source) -> tuple[Any, int]:
        """``(lane, source id)`` for call sites of *level* whose plain records go to the lane;
        ``(None, -1)``: every record takes the tuple ring (see
        :mod:`~hft.logging.pipeline.lanes`)."""
        return self.rings.lane_for(level, source)

    @property
    def _lane(self) -> LaneFeed | None:
        return self.rings.lane


__all__ = ["OverflowPolicy", "RingViews", "Rings"]
