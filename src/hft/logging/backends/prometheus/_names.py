"""Prometheus naming rules and the kind (counter, gauge, histogram) of a ``metric()`` name."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, Literal

Kind = Literal["counter", "gauge", "histogram"]

_INVALID_NAME: Final = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL: Final = re.compile(r"[^a-zA-Z0-9_]")
#: Labels prometheus-client reserves for a histogram's buckets and a summary's quantiles.
_RESERVED_LABELS: Final = frozenset({"le", "quantile"})

#: Labels the push adds to every series whatever the grouping key is configured to be.
GROUPING_LABELS: Final = frozenset({"job", "instance", "pid"})
#: Delivery latency buckets (seconds), from a dispatcher that is awake (10 us) to a stalled
#: backend (10 s), 1-2.5-5 steps.
DELIVERY_BUCKETS: Final = (
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

#: Latency buckets for values in microseconds, from a fast call site to a slow disk.
US_BUCKETS: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 50000, 100000)
MS_BUCKETS: Final = tuple(b / 1000 for b in US_BUCKETS)
SECONDS_BUCKETS: Final = tuple(b / 1_000_000 for b in US_BUCKETS)

_COUNTER_SUFFIXES: Final = ("_total", "_count")
_UNIT_BUCKETS: Final = (
    ("_us", US_BUCKETS),
    ("_ms", MS_BUCKETS),
    ("_seconds", SECONDS_BUCKETS),
)


def metric_name(name: str) -> str:
    """*name* made a valid Prometheus metric name: other characters become ``_``."""
    cleaned = _INVALID_NAME.sub("_", name) or "_"
    return "_" + cleaned if cleaned[0].isdigit() else cleaned


def label_name(name: str, taken: frozenset[str] = frozenset()) -> str:
    """*name* made a valid label name, outside the ``__`` prefix and the reserved names.

    A name in *taken* (the push grouping key's labels: ``job``, ``instance``, ``pid``, any
    configured one) becomes ``exported_<name>``, as Prometheus renames a clashing target label,
    so a tag never merges into the label that says which process pushed.
    """
    cleaned = _INVALID_LABEL.sub("_", name) or "_"
    if cleaned[0].isdigit():
        cleaned = "_" + cleaned
    if cleaned.startswith("__"):
        cleaned = "_" + cleaned.lstrip("_")
    if cleaned in taken:
        return "exported_" + cleaned
    return cleaned + "_" if cleaned in _RESERVED_LABELS else cleaned


def kind_of(name: str, overrides: Mapping[str, Kind]) -> Kind:
    """The configured kind of *name* (raw or sanitised), else one guessed from its suffix.

    ``*_total``/``*_count`` add up (counter); units and ``*_duration*``/``*_latency*`` are
    distributions (histogram); anything else is a level (gauge).
    """
    configured = overrides.get(name) or overrides.get(metric_name(name))
    if configured is not None:
        return configured
    if name.endswith(_COUNTER_SUFFIXES):
        return "counter"
    if name.endswith(tuple(suffix for suffix, _ in _UNIT_BUCKETS)):
        return "histogram"
    if "_duration" in name or "_latency" in name:
        return "histogram"
    return "gauge"


def buckets_for(name: str) -> tuple[float, ...]:
    """Histogram buckets suited to *name*'s unit; microseconds when it names none."""
    for suffix, buckets in _UNIT_BUCKETS:
        if name.endswith(suffix):
            return buckets
    return US_BUCKETS
