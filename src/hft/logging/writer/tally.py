"""What became of the records handed to writer processes, as they reported it.

Only acknowledged records count as written (:class:`WriterTally`): each acknowledgement says
how many of a writer's records were written, failed over or lost, and the writer's backend
state; each writer's sink counts arrive in reports of their own, and those of a writer that
is gone are kept when the next one counts from zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hft.logging.pipeline.metrics import BackendStats
from hft.logging.writer.sinks import LOSSLESS, stats_from
from hft.logging.writer.wire import STATES


class WriterTally:
    """Records confirmed written, failed over and lost (by writers, or in this process), the
    writer's backend state, and each sink's counts."""

    def __init__(self, sink_names: tuple[str, ...]) -> None:
        self.sink_names = sink_names
        self._lossless = frozenset(n for n in sink_names if n in LOSSLESS)
        #: Each sink's counts as the writers reported them: those of writers that are gone,
        #: and the current one's latest report (see :meth:`sink_stats`).
        self._sink_base: dict[str, dict[str, Any]] = {}
        self._sink_now: dict[str, dict[str, Any]] = {}
        #: Records no sink took, in this process (its sinks could not be opened here either):
        #: counted in the first sink's figures.
        self._here = {"failed_over": 0, "lost": 0}
        self.written = self.failed_over = self.lost = 0
        self.state = "healthy"

    def acknowledged(self, records: int, totals: tuple[int, int, int], state: int) -> None:
        """A writer disposed of *records* more: *totals* (written, failed over, lost) more
        of them by its count; any it could not read are lost."""
        written, failed_over, lost = totals
        self.written += written
        self.failed_over += failed_over
        self.lost += lost + max(0, records - written - failed_over - lost)  # unreadable frames
        self.state = STATES[state]

    def counted_here(self, *, written: int = 0, failed_over: int = 0, lost: int = 0) -> None:
        """Records this process disposed of itself (no writer process could be had)."""
        self.written += written
        self.failed_over += failed_over
        self.lost += lost
        self._here["failed_over"] += failed_over
        self._here["lost"] += lost

    def reported(self, sinks: dict[str, dict[str, Any]]) -> None:
        """The current writer's latest counts, by sink."""
        self._sink_now = sinks

    def writer_gone(self) -> None:
        """A writer is gone: its last counts stay, and the next one counts from zero."""
        for name, counts in self._sink_now.items():
            self._sink_base[name] = _added(self._sink_base.get(name, {}), counts)
            self._sink_base[name]["pending"] = 0
        self._sink_now = {}

    def sink_stats(
        self,
        unconfirmed: int,
        local: Mapping[str, Mapping[str, Any]],
        extra: Mapping[str, float],
    ) -> list[BackendStats]:
        """Each sink's counts, as its writers reported them, plus *local* (this process's
        sinks); *unconfirmed* records count as pending in each lossless sink (they are on
        their way to it); *extra* goes with the first sink, as the writer's own figures."""
        stats = []
        for name in self.sink_names:
            counts = _added(self._sink_base.get(name, {}), self._sink_now.get(name, {}))
            counts = _added(counts, local.get(name, {}))
            if name in self._lossless:
                counts["pending"] = counts.get("pending", 0) + unconfirmed
                counts["routed"] = counts.get("routed", 0) + unconfirmed
            if name == self.sink_names[0]:  # the writer's own figures go with its first sink
                counts = _added(counts, {**self._here, "routed": sum(self._here.values())})
                counts["extra"] = {**counts.get("extra", {}), **extra}
            stats.append(stats_from(name, counts))
        return stats


def _added(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Two reports of one sink's counts added up (state and extras: the newer one's)."""
    out: dict[str, Any] = dict(a)
    for key, value in b.items():
        if isinstance(value, int) and not isinstance(value, bool):
            out[key] = int(out.get(key, 0)) + value
        else:
            out[key] = value
    return out
