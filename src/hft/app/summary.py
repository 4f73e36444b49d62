"""The end-of-run summary: what each backend wrote, what was dropped, how fast the calls were."""

from __future__ import annotations

from hft.logging import LoggingMetrics


def format_summary(metrics: LoggingMetrics, duration_s: float) -> str:
    """A short, aligned report of a finished run."""
    lines = [
        f"run finished after {duration_s:.1f} s",
        f"  records logged      {metrics.records_logged:>12,}",
        f"  records dropped     {metrics.dropped:>12,}",
        (
            f"  call latency avg    {metrics.avg_latency_us:>12.2f} µs"
            f"   p99 {metrics.p99_latency_us:.2f} µs   ({metrics.latency_samples} sampled calls)"
        ),
        (
            f"  delivery latency    {metrics.delivery_avg_us:>12.0f} µs avg"
            f"   p99 {metrics.delivery_p99_us:.0f} µs"
        ),
        "  backends:",
    ]
    for stats in metrics.backends.values():
        health = "healthy" if stats.healthy else "UNHEALTHY"
        lines.append(
            f"    {stats.name:<12} written {stats.written:>10,}   errors {stats.write_errors:>4}"
            f"   failed over {stats.failed_over:>6,}   lost {stats.lost:>6,}   {health}"
        )
    return "\n".join(lines)
