"""``hft_log_records_total{logger,level}``: the logging calls counted at the call site.

The backend receives no log record: every call site adds one to the counter of its logger and
level (``hft.logging.pipeline.counts``), and this collector reads them all each time the registry is
collected, so a push or a scrape shows the count of that moment, without the dispatcher.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from hft.logging.levels import level_name

#: ``record_counts()`` of a pipeline: calls so far per (logger name, level).
Counts = Callable[[], Mapping[tuple[str, int], int]]


class CallCountCollector(Collector):
    """Exports the pipeline's call counts at and above *level* as one counter family."""

    def __init__(self, counts: Counts, level: int) -> None:
        self._counts = counts
        self._level = level

    def collect(self) -> Iterator[Metric]:
        """The counts, read now."""
        family = CounterMetricFamily(
            "hft_log_records",
            "Logging calls by logger and level, counted at the call site (dropped ones too).",
            labels=["logger", "level"],
        )
        for (logger, level), calls in sorted(self._counts().items()):
            if level >= self._level:
                family.add_metric([logger, level_name(level)], calls)
        yield family
