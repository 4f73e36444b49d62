"""Fakes for users' tests: a backend that captures records, and one that fails on demand.

Override the container's ``backends`` provider with a :class:`CapturingBackend` and assert on
what a component logged::

    capture = CapturingBackend()
    with app.logging.backends.override(providers.Object([capture])):
        ...
    assert capture.messages() == ["order placed"]
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hft.logging.backends.base import BaseBackend
from hft.logging.levels import DEBUG, METRIC, level_name, parse_level
from hft.logging.logger import HFTLogger
from hft.logging.pipeline.pipeline import LoggingPipeline
from hft.logging.record import Record, TraceIds, split_trace


@dataclass(frozen=True, slots=True)
class CapturedRecord:
    """One record as a backend received it, with friendly names; ``trace``: the
    OpenTelemetry span it was logged in (``logging.trace_context: true``), never a field."""

    seq: int
    timestamp_ns: int
    level: str
    logger: str
    tags: tuple[str, ...]
    msg: str
    fields: dict[str, Any] = field(default_factory=dict)
    trace: TraceIds | None = None

    @classmethod
    def of(cls, record: Record) -> CapturedRecord:
        """Convert a pipeline record."""
        seq, ts_ns, level, source, msg, fields = record
        fields, trace = split_trace(fields)
        name, tags = source.name, source.tags
        return cls(seq, ts_ns, level_name(level), name, tags, msg, dict(fields), trace)


class CapturingBackend(BaseBackend):
    """Keeps every record it receives (logs, metrics and audit) in :attr:`records`."""

    name = "capture"
    takes_metrics = True
    takes_audit = True

    def __init__(self, level: int | str = DEBUG, name: str = "capture") -> None:
        self.level = parse_level(level)
        self.name = name
        self.records: list[CapturedRecord] = []
        self.closed = False
        self._lock = threading.Lock()

    def write(self, records: Sequence[Record]) -> None:
        """Capture *records*."""
        with self._lock:
            self.records.extend(map(CapturedRecord.of, records))

    def close(self) -> None:
        """Remember that the backend was closed."""
        self.closed = True

    def logs(self) -> list[CapturedRecord]:
        """Captured log and audit records (metrics left out)."""
        return [r for r in self.records if r.level != level_name(METRIC)]

    def metrics(self) -> list[CapturedRecord]:
        """Captured metric records (the metric name in ``msg``)."""
        return [r for r in self.records if r.level == level_name(METRIC)]

    def messages(self) -> list[str]:
        """The messages of the captured log records, in order."""
        return [r.msg for r in self.logs()]

    def clear(self) -> None:
        """Forget everything captured so far."""
        with self._lock:
            self.records.clear()


class FailingBackend(CapturingBackend):
    """Raises ``error`` on each of its first ``failures`` writes, then captures like its parent.

    ``failures=None`` fails forever. Set :attr:`failures` again to make it fail anew.
    """

    name = "failing"

    def __init__(
        self,
        failures: int | None = None,
        error: Exception | None = None,
        level: int | str = DEBUG,
        name: str = "failing",
    ) -> None:
        super().__init__(level, name)
        self.failures = failures
        self.error = error or OSError(28, "No space left on device")
        self.attempts = 0

    def write(self, records: Sequence[Record]) -> None:
        """Fail while failures remain, else capture."""
        self.attempts += 1
        if self.failures is None or self.failures > 0:
            if self.failures is not None:
                self.failures -= 1
            raise self.error
        super().write(records)


@contextmanager
def capture_logs(
    name: str = "test", tags: Sequence[str] = (), **pipeline_settings: Any
) -> Iterator[tuple[HFTLogger, CapturingBackend]]:
    """A logger on a private pipeline that captures everything; drained and closed on exit."""
    backend = CapturingBackend()
    pipeline = LoggingPipeline([backend], **pipeline_settings).start()
    try:
        yield HFTLogger(pipeline, name, tags), backend
    finally:
        pipeline.close()


__all__ = ["CapturedRecord", "CapturingBackend", "FailingBackend", "capture_logs"]
