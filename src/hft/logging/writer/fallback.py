"""When no writer process can be had: the same sinks in this process, slower, never lossy.

Once three writers in a row die before they are ready (``supervisor.FAILED_STARTS``), every
unacknowledged frame and every later record is written here (:class:`LocalSinks`): by this
process's own copy of the sinks, else on standard error (counted failed over), else counted
lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hft.logging.pipeline.spill import StderrFallback
from hft.logging.record import Record
from hft.logging.writer.link import Frame
from hft.logging.writer.serve import open_sinks
from hft.logging.writer.sinks import SinkGroup, SinkSpec
from hft.logging.writer.tally import WriterTally
from hft.logging.writer.wire import HEADER, decode_frame


class LocalSinks:
    """The writer's sinks opened in this process, once :attr:`active` (never before)."""

    def __init__(self, spec: SinkSpec, tally: WriterTally, warn: Callable[..., None]) -> None:
        self._spec = spec  #: the writer's sinks, their sections validated (by the parent)
        self._limit = spec.limit
        self._tally = tally
        self._warn = warn
        self._group: SinkGroup | None = None
        self.active = False  #: True once records are written here, not by a writer process

    def take_over(self, frames: Iterable[Frame]) -> None:
        """No writer can be had: *frames* (unacknowledged), and what follows, are written here."""
        if not self.active:
            self._warn("log writer process cannot start; writing in this process")
        self.active = True
        for frame in frames:
            try:
                records = decode_frame(frame.data[HEADER.size :])
            except Exception:  # noqa: BLE001 - a frame this process made; counted if unreadable
                self._tally.counted_here(lost=frame.records)
                continue
            self.deliver(records)

    def deliver_frame(self, data: memoryview) -> None:
        """Write the records of one frame (header included) here."""
        self.deliver(decode_frame(data[HEADER.size :]))

    def deliver(self, records: list[Record]) -> None:
        """This process's own copy of the sinks, else standard error, else counted lost."""
        try:
            self._sinks().deliver(records)
        except Exception:  # noqa: BLE001 - the sinks cannot be opened here either
            try:
                StderrFallback(max_field_chars=self._limit).write(records)
            except Exception:  # noqa: BLE001 - counted, never raised twice for one record
                self._tally.counted_here(lost=len(records))
                return
            self._tally.counted_here(failed_over=len(records))
            return
        self._tally.counted_here(written=len(records))

    def stats(self) -> dict[str, dict[str, Any]]:
        """Each sink's counts in this process (none while no sink was opened here)."""
        return self._group.stats() if self._group is not None else {}

    def close(self, drain_deadline_s: float) -> None:
        """Let the sinks opened here settle within *drain_deadline_s*, then close them."""
        if self._group is not None:
            self._group.close(drain_deadline_s)
            for backend in self._group.backends():
                backend.close()

    def _sinks(self) -> SinkGroup:
        """The same sinks in this process, opened on first use."""
        if self._group is None:
            self._group = open_sinks(self._spec, self._warn)
        return self._group
