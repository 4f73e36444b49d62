"""UTC time as text: the few formats the package writes, in one place."""

from __future__ import annotations

import time
from typing import Final

NS: Final = 1_000_000_000
_ISO_SECOND: Final = "%Y-%m-%dT%H:%M:%S"


class TimestampFormatter:
    """ISO 8601 UTC; the date-and-seconds part is cached per second (records come in order)."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def parts(self, ts_ns: int) -> tuple[str, int]:
        """``("YYYY-MM-DDTHH:MM:SS", nanoseconds within that second)`` for *ts_ns*."""
        second, nanos = divmod(ts_ns, NS)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime(_ISO_SECOND, time.gmtime(second))
        return self._prefix, nanos

    def __call__(self, ts_ns: int) -> str:
        """``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`` for *ts_ns* nanoseconds since the epoch."""
        prefix, nanos = self.parts(ts_ns)
        return f"{prefix}.{nanos:09d}Z"


def iso_us(ts_ns: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ``: a one-off timestamp with microseconds."""
    seconds, nanos = divmod(ts_ns, NS)
    return time.strftime(_ISO_SECOND, time.gmtime(seconds)) + f".{nanos // 1000:06d}Z"


def utc_day(timestamp: float) -> str:
    """``YYYY-MM-DD`` of *timestamp* (seconds since the epoch), in UTC: daily rotation's key."""
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def utc_stamp(now: float | None = None) -> str:
    """``YYYYmmddTHHMMSS.ffffffZ``: a file-name suffix that sorts in time order as text."""
    now = time.time() if now is None else now
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{now % 1:.6f}"[1:] + "Z"
