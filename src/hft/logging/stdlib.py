"""The bridge from the standard ``logging`` module into the ``hft`` pipeline.

Third-party libraries log through ``logging``; :class:`HFTBridgeHandler` turns their records
into ``hft`` records (level, logger name, exception and ``extra`` fields kept) so they reach the
same backends. The container installs it with :func:`install_stdlib_bridge`, a Resource that
removes it again at shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Final

from hft.logging.levels import CRITICAL, ERROR, INFO, WARNING
from hft.logging.logger import HFTLogger
from hft.logging.pipeline.callsites import Emit
from hft.logging.pipeline.pipeline import LoggingPipeline

#: Attributes every ``LogRecord`` has; anything else on a record came from ``extra=``.
_STANDARD_ATTRIBUTES: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)
#: The pipeline's dispatcher thread: records it emits (a backend's library logging) must not
#: go back into the ring they came out of, so they go to ``logging.lastResort`` instead.
_DISPATCHER_THREAD: Final = "hft-dispatcher"


class HFTBridgeHandler(logging.Handler):
    """A ``logging.Handler`` that forwards records to an ``hft`` pipeline.

    Each stdlib logger name becomes an ``hft`` logger of the same name tagged ``stdlib``
    (made once, then reused). A level between the standard ones goes out at the standard
    level below it, with the original name in the field ``stdlib_level``.
    """

    def __init__(self, pipeline: LoggingPipeline, level: int | str = logging.NOTSET) -> None:
        super().__init__(level)
        self.pipeline = pipeline
        self._loggers: dict[str, HFTLogger] = {}

    def emit(self, record: logging.LogRecord) -> None:
        """Forward *record*; a record that cannot be forwarded goes to ``handleError``."""
        if record.threadName == _DISPATCHER_THREAD:
            if logging.lastResort is not None and record.levelno >= logging.lastResort.level:
                logging.lastResort.handle(record)
            return
        try:
            method = self._method(record)
            method(record.getMessage(), **self._fields(record))
        except Exception:  # noqa: BLE001 - the stdlib contract: report through handleError
            self.handleError(record)

    def _method(self, record: logging.LogRecord) -> Emit:
        logger = self._loggers.get(record.name)
        if logger is None:
            logger = self._loggers[record.name] = HFTLogger(self.pipeline, record.name, ("stdlib",))
        level = record.levelno
        for threshold, name in _METHODS:
            if level >= threshold:
                method: Emit = getattr(logger, name)
                return method
        return logger.debug

    @staticmethod
    def _fields(record: logging.LogRecord) -> dict[str, Any]:
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES}
        if record.levelname != logging.getLevelName(_standard_level(record.levelno)):
            fields["stdlib_level"] = record.levelname
        if record.exc_info and record.exc_info[0] is not None:
            fields["exc_info"] = record.exc_info
        return fields


_METHODS: Final = (
    (CRITICAL, "critical"),
    (ERROR, "error"),
    (WARNING, "warning"),
    (INFO, "info"),
)


def _standard_level(level: int) -> int:
    return next((t for t, _ in _METHODS if level >= t), logging.DEBUG)


def install_stdlib_bridge(
    pipeline: LoggingPipeline, logger_name: str = "", level: int | str | None = None
) -> Iterator[HFTBridgeHandler]:
    """Resource: a bridge on the stdlib logger *logger_name* (root by default).

    With *level*, that logger's level is set for the bridge's lifetime and restored after.
    """
    target = logging.getLogger(logger_name or None)
    previous = target.level
    handler = HFTBridgeHandler(pipeline)
    if level is not None:
        target.setLevel(level)
    target.addHandler(handler)
    try:
        yield handler
    finally:
        target.removeHandler(handler)
        target.setLevel(previous)
        handler.close()


__all__ = ["HFTBridgeHandler", "install_stdlib_bridge"]
