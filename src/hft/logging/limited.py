"""``logger.limit(per_s, interval_s)``: a logger's methods behind a rate limit.

See :mod:`hft.logging.pipeline.limits` for how a limited call site counts, holds and reports,
and the page "Rate limits for storms" of the docs for how to use it.
"""

from __future__ import annotations

from typing import Any, Protocol

from hft.logging.levels import LEVEL_METHODS
from hft.logging.pipeline.callsites import Emit, nop
from hft.logging.pipeline.limits import Limits, LimitSet, budget
from hft.logging.record import Source


class _HasLimits(Protocol):
    @property
    def limits(self) -> Limits: ...


class Limitable(Protocol):
    """What a limited logger reads of its logger (an ``HFTLogger``)."""

    @property
    def name(self) -> str: ...
    @property
    def source(self) -> Source: ...
    @property
    def pipeline(self) -> _HasLimits: ...
    @property
    def records_from(self) -> int:
        """The lowest level whose method makes records (below: no-op or count only)."""


class Limit(Protocol):
    """``logger.limit``: the limited logger of the caller's place in the code."""

    def __call__(self, per_s: float, interval_s: float = 1.0) -> LimitedLogger:
        """At most ``per_s x interval_s`` records each *interval_s* from this call site."""

    def made(self) -> list[LimitedLogger]:
        """The limited loggers made so far, one per call site."""


class LimitedLogger:
    """A logger's methods behind a rate limit: each level's lets at most ``per_s x
    interval_s`` records through each *interval_s*, holds the rest back (counted, no record),
    and says how many it held in one record at the end of the interval (see
    :mod:`hft.logging.pipeline.limits`).

    ``logger.limit(...)`` makes one per place in the code that calls it and gives the same
    one there every time, so the form ``log.limit(per_s=10).warning(...)`` in a loop and one
    kept in a variable are both one call site. A level the logger does not log stays its
    no-op (``log.limit(per_s=10).debug is nop`` when DEBUG is off).
    """

    __slots__ = (
        "_set", "critical", "debug", "error", "exception", "info", "interval_s", "name",
        "per_s", "warning",
    )  # fmt: skip

    debug: Emit
    info: Emit
    warning: Emit
    error: Emit
    critical: Emit
    exception: Emit

    def __init__(self, logger: Limitable, per_s: float, interval_s: float = 1.0) -> None:
        per, interval_ns = budget(per_s, interval_s)
        self.name, self.per_s, self.interval_s = logger.name, per_s, interval_s
        self._set = LimitSet(logger.pipeline.limits, logger.source, per, interval_ns)
        self.rebind(logger)

    def rebind(self, logger: Limitable) -> None:
        """Take *logger*'s methods again (it was rebound); held calls and windows stay."""
        records_from = logger.records_from
        for method, level in LEVEL_METHODS:
            target = getattr(logger, method)
            limited = self._set.wrap(level, target) if level >= records_from else target
            setattr(self, method, limited)
        error = self.error
        self.exception = nop if error is nop else _exception(error)

    def __repr__(self) -> str:
        return f"<LimitedLogger {self.name!r} {self.per_s:g}/s over {self.interval_s:g} s>"


def _exception(error: Emit) -> Emit:
    """``exception``: *error* with the exception being handled."""

    def exception(msg: str, /, **fields: Any) -> None:
        error(msg, exc_info=True, **fields)

    return exception


__all__ = ["Limit", "Limitable", "LimitedLogger"]
