"""Counting drops from sequence numbers: what was issued, taken and refused.

Every record takes a sequence number at its call site, so the dispatcher knows exactly how
many never arrived: issued - taken - still waiting. This ledger keeps those numbers and
decides when a drop count is worth a warning.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any, Final

from hft.logging.record import Record
from hft.logging.render.clock import iso_us

#: At most one drop warning this often.
REPORT_EVERY_S: Final = 1.0
#: A drop count must persist this long to be reported (see :meth:`DropLedger.confirmed`).
CONFIRM_S: Final = 1.0


def newest_seqs(rings: Iterable[Sequence[Record]]) -> list[int]:
    """The sequence number of the newest record in each of *rings* that holds one."""
    newest = []
    for ring in rings:
        with contextlib.suppress(IndexError):  # emptied by the dispatcher meanwhile
            newest.append(ring[-1][0])
    return newest


class DropLedger:
    """Sequence numbers taken by the dispatcher or refused at call sites, and drop reports."""

    def __init__(self) -> None:
        self.taken = 0
        self._max_seq = -1
        self._max_refused = -1
        self._refused_lock = threading.Lock()
        self._confirmed = 0
        self._flushed = 0  #: the exact count when the last flush marker was honoured
        self._window_start, self._window_min = time.monotonic(), 0
        self._reported = 0
        self._last_report = 0.0
        self._seen = 0
        self._first_drop_ns = self._last_drop_ns = 0

    def refused(self, seq: int) -> None:
        """A call site could not enqueue record *seq* (from call-site threads: locked)."""
        with self._refused_lock:
            self._max_refused = max(self._max_refused, seq)

    def take(self, count: int, newest: int) -> None:
        """The dispatcher took *count* records, the largest sequence number *newest*."""
        self.taken += count
        self._max_seq = max(self._max_seq, newest)

    def issued(self, rings: Iterable[Sequence[Record]], lane: Any = None) -> int:
        """Sequence numbers handed out so far, given the rings where records wait and the
        byte lane (its ``newest``: the largest number written into it)."""
        newest = newest_seqs(rings)
        if lane is not None:
            newest.append(lane.newest)
        return max(self._max_seq, self._max_refused, *newest) + 1

    def dropped(self, rings: Sequence[Sequence[Record]], lane: Any = None) -> int:
        """Issued, but neither taken nor still waiting in *rings* or the lane (``pending``).

        The newest numbers are read before the counts: a record added in between is then
        counted waiting without being issued (a drop under-counted for one look, never one
        that did not happen)."""
        issued = self.issued(rings, lane)
        waiting = sum(map(len, rings)) + (0 if lane is None else lane.pending)
        return max(0, issued - self.taken - waiting)

    def confirmed(self, dropped: int) -> int:
        """Drops that lasted: the smallest count seen over a whole window (O(1) per call), or
        the count a flush saw (:meth:`flushed`) if that is larger and still seen.

        Real drops never go away. While threads log, a record whose caller has taken its
        number but not yet appended it looks dropped, for microseconds: a window's minimum
        leaves such blips out.
        """
        now = time.monotonic()
        if now - self._window_start >= CONFIRM_S:
            self._confirmed = max(self._confirmed, self._window_min)
            self._window_start, self._window_min = now, dropped
        else:
            self._window_min = min(self._window_min, dropped)
        return max(self._confirmed, min(self._flushed, dropped))

    def flushed(self, dropped: int) -> None:
        """A flush marker was honoured: every older record was taken or dropped, so *dropped*
        is exact if the callers are quiet. A caller still between its number and its append
        (not quiet) looks dropped in it, but only as long as the count read later says so."""
        self._flushed = dropped

    def report(self, dropped: int, *, final: bool) -> dict[str, Any] | None:
        """The fields of a drop warning when one is due (at most one a second), else None.

        ``first_drop``/``last_drop`` are when the dispatcher first and last saw the count
        grow since the previous warning.
        """
        if dropped > self._seen:
            self._last_drop_ns = time.time_ns()
            if self._seen == self._reported:
                self._first_drop_ns = self._last_drop_ns
            self._seen = dropped
        now = time.monotonic()
        if dropped <= self._reported or not (final or now - self._last_report >= REPORT_EVERY_S):
            return None
        fields = {
            "dropped": dropped - self._reported,
            "dropped_total": dropped,
            "first_drop": iso_us(self._first_drop_ns),
            "last_drop": iso_us(self._last_drop_ns),
        }
        self._reported, self._last_report = dropped, now
        return fields
