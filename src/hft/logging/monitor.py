"""The performance monitor: thresholds from configuration, logger and pipeline injected.

``hft_settings.max_latency_us`` / ``warning_threshold_us`` are the latency budget (an
error above the first, a warning above the second); ``performance.thresholds`` adds p99
latency, throughput, drops and queue fill. Nothing here looks anything up globally.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import anyio

from hft.logging.factory import as_plain_dict
from hft.logging.logger import HFTLoggerInterface
from hft.logging.pipeline.metrics import LoggingMetrics
from hft.logging.pipeline.pipeline import LoggingPipeline

Severity = Literal["error", "warning"]


#: What the checks read a snapshot from: a pipeline, or any logger on it.
MetricsSource: TypeAlias = LoggingPipeline | HFTLoggerInterface


@dataclass(frozen=True, slots=True)
class ThresholdViolation:
    """One threshold a snapshot broke: which, by how much, and how bad."""

    threshold: str
    actual: float
    limit: float
    severity: Severity


@dataclass(frozen=True, slots=True)
class PerformanceVerdict:
    """Every threshold a snapshot broke; compliant when none of them is an error."""

    violations: tuple[ThresholdViolation, ...] = ()

    @property
    def compliant(self) -> bool:
        """True when only warnings (or nothing) were found."""
        return not self.errors

    @property
    def errors(self) -> tuple[ThresholdViolation, ...]:
        """The violations that make the logger non-compliant."""
        return tuple(v for v in self.violations if v.severity == "error")

    @property
    def warnings(self) -> tuple[ThresholdViolation, ...]:
        """The violations that only deserve attention."""
        return tuple(v for v in self.violations if v.severity == "warning")


class ConfigurablePerformanceMonitor:
    """Checks :class:`LoggingMetrics` against the ``logging`` section's thresholds."""

    def __init__(self, logging_config: Any, logger: HFTLoggerInterface | None = None) -> None:
        config = as_plain_dict(logging_config)
        self.logger = logger
        self.hft_settings = as_plain_dict(config.get("hft_settings", {}))
        performance = as_plain_dict(config.get("performance", {}))
        self.performance_thresholds = as_plain_dict(performance.get("thresholds", {}))
        self.interval_s = float(performance.get("monitor_interval_s", 10.0))

    def evaluate(self, metrics: LoggingMetrics) -> PerformanceVerdict:
        """The structured verdict: every violated threshold, nothing logged."""
        return PerformanceVerdict(tuple(self._violations(metrics)))

    def _violations(self, m: LoggingMetrics) -> Iterator[ThresholdViolation]:
        budget, limits = self.hft_settings, self.performance_thresholds
        max_us = float(budget.get("max_latency_us", 1000))
        warn_us = float(budget.get("warning_threshold_us", 500))
        if m.avg_latency_us > max_us:
            yield ThresholdViolation("max_latency_us", m.avg_latency_us, max_us, "error")
        elif m.avg_latency_us > warn_us:
            yield ThresholdViolation("warning_threshold_us", m.avg_latency_us, warn_us, "warning")
        above = (
            ("max_avg_latency_us", m.avg_latency_us),
            ("max_p99_latency_us", m.p99_latency_us),
            ("max_dropped", m.dropped),
            ("max_queue_utilization", m.queue_utilization),
        )
        for name, actual in above:
            if name in limits and actual > float(limits[name]):
                yield ThresholdViolation(name, float(actual), float(limits[name]), "error")
        low = float(limits.get("min_throughput_msgs_per_sec", 0.0))
        if m.throughput_msgs_per_sec < low:
            yield ThresholdViolation(
                "min_throughput_msgs_per_sec", m.throughput_msgs_per_sec, low, "error"
            )

    def validate_logging_performance(self, metrics: LoggingMetrics) -> bool:
        """The check: log each violation through the injected logger, True if compliant."""
        verdict = self.evaluate(metrics)
        self.report(verdict)
        return verdict.compliant

    def report(self, verdict: PerformanceVerdict, *, skip: frozenset[str] = frozenset()) -> None:
        """Log the violations of *verdict* whose threshold is not in *skip*."""
        if self.logger is None:
            return
        for v in verdict.violations:
            if v.threshold in skip:
                continue
            log = self.logger.error if v.severity == "error" else self.logger.warning
            log(_MESSAGES.get(v.threshold, _OTHER), threshold=v.threshold, actual=v.actual,
                limit=v.limit)  # fmt: skip


_MESSAGES = {
    "max_latency_us": "Logging latency exceeds configuration threshold",
    "warning_threshold_us": "Logging latency approaching threshold",
}
_OTHER = "Logging performance threshold exceeded"


def _snapshot(source: MetricsSource) -> LoggingMetrics:
    if isinstance(source, LoggingPipeline):
        return source.metrics()
    return source.get_performance_metrics()


def validate_hft_logging_compliance(
    pipeline_or_logger: MetricsSource, logging_config: Any, logger: HFTLoggerInterface | None = None
) -> bool:
    """The compliance check on a given pipeline or logger, thresholds from the config."""
    monitor = ConfigurablePerformanceMonitor(logging_config, logger)
    return monitor.validate_logging_performance(_snapshot(pipeline_or_logger))


async def monitor_hft_logging_performance(
    pipeline: MetricsSource,
    logging_config: Any,
    logger: HFTLoggerInterface,
    *,
    interval_s: float | None = None,
) -> None:
    """Check the pipeline every interval and emit the monitoring metrics, until cancelled.

    A violation is logged when it starts, not again at every check while it lasts.
    """
    monitor = ConfigurablePerformanceMonitor(logging_config, logger)
    interval = monitor.interval_s if interval_s is None else interval_s
    ongoing: frozenset[str] = frozenset()
    while True:
        metrics = _snapshot(pipeline)
        verdict = monitor.evaluate(metrics)
        monitor.report(verdict, skip=ongoing)
        ongoing = frozenset(v.threshold for v in verdict.violations)
        logger.metric("logging_performance_compliant", 1 if verdict.compliant else 0)
        logger.metric("logging_latency_us", metrics.avg_latency_us)
        logger.metric("logging_throughput_msgs_per_sec", metrics.throughput_msgs_per_sec)
        await anyio.sleep(interval)
