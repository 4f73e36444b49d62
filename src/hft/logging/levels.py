"""Level numbers and names (the stdlib's numbers, so a bridge needs no table)."""

from __future__ import annotations

from typing import Final

DEBUG: Final = 10
INFO: Final = 20
WARNING: Final = 30
ERROR: Final = 40
CRITICAL: Final = 50
#: Records that carry a metric sample, not a message; only metric backends take them.
METRIC: Final = 5
#: Audit records travel on their own lossless path, never through the lossy ring.
AUDIT: Final = 60
#: An internal marker: the dispatcher sets the event it carries once everything before it is out.
MARKER: Final = -1
#: An internal bundle: a backtrace's kept records and the record that flushed them, routed as
#: one at the trigger's level (:mod:`hft.logging.pipeline.backtrace`).
BACKTRACE: Final = 1

LEVEL_NAMES: Final[dict[int, str]] = {
    DEBUG: "DEBUG",
    INFO: "INFO",
    WARNING: "WARNING",
    ERROR: "ERROR",
    CRITICAL: "CRITICAL",
    METRIC: "METRIC",
    AUDIT: "AUDIT",
}
_BY_NAME: Final = {name: number for number, name in LEVEL_NAMES.items()}


def parse_level(level: int | str) -> int:
    """Return the number of *level*, given as a number or a name in any case."""
    if isinstance(level, int):
        return level
    try:
        return _BY_NAME[level.upper()]
    except KeyError:
        known = ", ".join(n for n in _BY_NAME if n not in {"METRIC", "AUDIT"})
        raise ValueError(f"unknown log level {level!r} (known: {known})") from None


def level_name(level: int) -> str:
    """Return the name of *level*, or ``LEVEL<n>`` for a number without one."""
    return LEVEL_NAMES.get(level, f"LEVEL{level}")


#: A logger's level methods, by name, lowest level first (what a logger and a limited logger
#: bind: ``exception``, ``metric`` and ``audit`` are bound apart).
LEVEL_METHODS: Final = (
    ("debug", DEBUG),
    ("info", INFO),
    ("warning", WARNING),
    ("error", ERROR),
    ("critical", CRITICAL),
)
