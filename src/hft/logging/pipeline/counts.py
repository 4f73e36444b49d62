"""Calls per logger and level, counted where the call is made.

Every logging method of a pipeline adds one to the counter of its (logger name, level) before
anything else, so a record refused or dropped later is counted all the same: these are calls,
not records delivered. A level that only a counting backend wants (Prometheus at DEBUG, every
other backend at WARNING) is a count-only call site: the add and nothing else. The counting
backend reads them all when it pushes or is scraped (``BackendContext.record_counts``), so it
needs no record and the levels it counts can take the byte lane.
"""

from __future__ import annotations

from typing import Protocol

from hft.logging.native import Counter  # the C one, or None (hft.logging.native chose)


class CallCounter(Protocol):
    """The calls of one logger at one level: ``value`` is read, only call sites add to it."""

    @property
    def value(self) -> int:
        """The calls counted so far."""


class PyCounter:
    """What the C ``Counter`` is, in Python: the pure-Python call sites add to ``value``."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


def new_counter() -> CallCounter:
    """A counter of the kind the call sites take: the C ``Counter`` where built."""
    return Counter() if Counter is not None else PyCounter()


class CallCounts:
    """A pipeline's counters by (logger name, level).

    Made on first use and kept for the pipeline's life: a logger that is garbage-collected
    keeps its count, and a logger made later under the same name adds to it.
    """

    def __init__(self) -> None:
        self._counters: dict[tuple[str, int], CallCounter] = {}

    def counter(self, name: str, level: int) -> CallCounter:
        """The counter shared by every call site of logger *name* at *level*."""
        key = (name, level)
        found = self._counters.get(key)
        if found is None:  # setdefault is atomic: two threads making one logger share a counter
            found = self._counters.setdefault(key, new_counter())
        return found

    def read(self) -> dict[tuple[str, int], int]:
        """Every count, read now (from any thread: the push and scrape threads call this)."""
        return {key: counter.value for key, counter in self._counters.copy().items()}


__all__ = ["CallCounter", "CallCounts", "PyCounter", "new_counter"]
