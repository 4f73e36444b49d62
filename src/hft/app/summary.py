"""The end-of-run summary: what each backend wrote, what was dropped, how fast the calls were."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hft.logging import LoggingMetrics

if TYPE_CHECKING:
    from hft.app.main_job import RunReport


def format_summary(metrics: LoggingMetrics, duration_s: float) -> str:
    """A short, aligned report of a finished run."""
    lines = [
        f"run finished after {duration_s:.1f} s",
        f"  records logged      {metrics.records_logged:>12,}",
        f"  records dropped     {metrics.dropped:>12,}",
        (
            f"  call latency avg    {metrics.avg_latency_us:>12.2f} µs"
            f"   p50 {metrics.p50_latency_us:.2f} µs   p99 {metrics.p99_latency_us:.2f} µs"
            f"   ({metrics.latency_samples} sampled calls)"
        ),
        (
            f"  delivery latency    {metrics.delivery_avg_us:>12.0f} µs avg"
            f"   p99 {metrics.delivery_p99_us:.0f} µs"
        ),
        f"  throughput          {metrics.throughput_msgs_per_sec:>12,.0f} records/s",
        "  backends:",
    ]
    for stats in metrics.backends.values():
        health = "healthy" if stats.healthy else "UNHEALTHY"
        lines.append(
            f"    {stats.name:<12} written {stats.written:>10,}   errors {stats.write_errors:>4}"
            f"   failed over {stats.failed_over:>6,}   lost {stats.lost:>6,}   {health}"
        )
    return "\n".join(lines)


def format_run_report(report: RunReport, duration_s: float) -> str:
    """The trading app's summary: the logging summary, the trading counts, the verdict."""
    stats = report.trading
    verdict = "COMPLIANT" if report.compliant else "NOT COMPLIANT"
    lines = [
        format_summary(report.metrics, duration_s),
        (
            f"  trading             {stats.books:>12,} books   {stats.opportunities:,} "
            f"opportunities   {stats.orders_placed:,} orders placed   "
            f"{stats.orders_cancelled:,} cancelled"
        ),
        f"  HFT compliance      {verdict:>12}",
    ]
    if report.interrupted:
        lines.insert(1, "  (interrupted by Ctrl-C)")
    return "\n".join(lines)
