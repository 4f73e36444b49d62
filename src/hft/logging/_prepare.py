"""The dispatcher's first step: sort a slice by kind and finish each log record.

Finishing means merging the logger's bound context under the call's fields, masking sensitive
fields and turning captured exceptions into structured data, so that every backend sees the
same, safe record. Records that need none of it pass through untouched (no copy).
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from operator import itemgetter
from types import TracebackType
from typing import Any

from hft._native import require_native
from hft.logging._levels import AUDIT, DEBUG, METRIC
from hft.logging._record import Record
from hft.logging._render import Redactor, safe_repr, safe_str, truncate

try:  # the optional C fast path (src/hft/_speedups.c)
    require_native()
    from hft._speedups import scan as _c_scan
except ImportError:  # pragma: no cover - depends on how hft was installed
    _c_scan = None  # type: ignore[assignment]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
_seq_of, _level_of, _source_of, _fields_of = (itemgetter(i) for i in (0, 2, 3, 5))
_context_of = itemgetter(2)  # Source.context


class Preparer:
    """Looks at a slice, and splits one that needs it into logs, metrics and flush markers."""

    def __init__(self, redact_fields: Iterable[str], max_field_chars: int) -> None:
        self._redact = Redactor(redact_fields)
        self._limit = max_field_chars

    def scan(self, batch: list[Record]) -> tuple[int, int, int, bool]:
        """``(newest seq, lowest level, highest level, plain)`` of a non-empty *batch*.

        Plain is the common slice: only log records, no bound context, only field names known
        to be harmless; such a slice goes to the backends as it is. One pass in C when
        ``hft._speedups`` was built, else C-level ``map`` passes.
        """
        harmless = self._redact.harmless
        if _c_scan is not None:
            facts = _c_scan(batch, harmless, DEBUG)
            if facts is not None:
                return facts
        return scan_py(batch, harmless)

    def sort(self, batch: list[Record]) -> tuple[list[Record], list[Record], list[Record]]:
        """Split a batch that is not plain into ``(logs, metrics, markers)``, logs finished."""
        logs: list[Record] = []
        metrics: list[Record] = []
        markers: list[Record] = []
        harmless = self._redact.harmless  # the fast test, inlined: one C-level set check
        for record in batch:
            if record[2] < DEBUG:
                if record[2] == METRIC:
                    metrics.append(self._metric(record))
                else:
                    markers.append(record)
            elif record[3].context or not harmless.issuperset(record[5]):
                logs.append(self._finish(record))
            else:  # the common case: nothing to merge, mask or convert
                logs.append(record)
        return logs, metrics, markers

    def _metric(self, record: Record) -> Record:
        """Metric tags are masked like fields (a tag called ``token`` must not leak)."""
        sample = record[5]
        tags = sample.get("tags") if isinstance(sample, dict) else None
        if not tags or not isinstance(tags, dict):
            return record
        masked = self._redact(tags)
        return record if masked is tags else (*record[:5], {**sample, "tags": masked})

    def _finish(self, record: Record) -> Record:
        fields = record[5]
        context = record[3].context
        finished = self._redact({**context, **fields} if context else fields)
        if "exc_info" in finished:
            finished = self._exception(finished)
        return record if finished is fields else (*record[:5], finished)

    def _exception(self, fields: dict[str, Any]) -> dict[str, Any]:
        fields = dict(fields)
        fields["exc_info"] = structured_exception(fields["exc_info"], self._limit)
        return fields


def level_bounds(records: list[Record]) -> tuple[int, int]:
    """The lowest and highest level in *records*; (AUDIT, 0) for none, which routes nothing."""
    levels = set(map(_level_of, records))
    return (min(levels), max(levels)) if levels else (AUDIT, 0)


def scan_py(batch: list[Record], harmless: set[object]) -> tuple[int, int, int, bool]:
    """:meth:`Preparer.scan` in Python: one C-level ``map`` pass per fact."""
    levels = set(map(_level_of, batch))
    lowest = min(levels)
    plain = (
        lowest >= DEBUG
        and not any(map(_context_of, map(_source_of, batch)))
        and all(map(harmless.issuperset, map(_fields_of, batch)))
    )
    return max(map(_seq_of, batch)), lowest, max(levels), plain


def structured_exception(exc_info: Any, limit: int) -> Any:
    """Turn an exception (or ``sys.exc_info()`` tuple) into a JSON-friendly dict."""
    exc: BaseException | None = None
    if isinstance(exc_info, BaseException):
        exc = exc_info
    elif isinstance(exc_info, tuple) and len(exc_info) == 3:
        exc = exc_info[1]
    if exc is None:
        return exc_info if exc_info in (True, False, None) else safe_repr(exc_info, limit)
    frames = traceback.extract_tb(exc.__traceback__)
    return {
        "type": type(exc).__qualname__,
        "message": safe_str(exc, limit),
        "frames": [{"file": f.filename, "line": f.lineno, "function": f.name} for f in frames],
        "traceback": truncate("".join(traceback.format_exception(exc)), limit * 4),
    }
