"""``HFTLogger``: a cheap view on a pipeline (name, tags, bound context)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from hft.logging.levels import AUDIT, ERROR, LEVEL_METHODS, WARNING
from hft.logging.limited import Limit, LimitedLogger
from hft.logging.pipeline.callsites import (
    Emit,
    EmitMetric,
    make_audit,
    make_count,
    make_emit,
    make_metric,
    nop,
)
from hft.logging.pipeline.limits import limit_sites
from hft.logging.pipeline.metrics import LoggingMetrics
from hft.logging.pipeline.pipeline import LoggingPipeline
from hft.logging.record import Source


@runtime_checkable
class HFTLoggerInterface(Protocol):
    """What a component may do with the logger it is given."""

    name: str
    tags: tuple[str, ...]
    debug: Emit
    info: Emit
    warning: Emit
    error: Emit
    critical: Emit
    exception: Emit
    metric: EmitMetric
    audit: Emit

    @property
    def limit(self) -> Limit:
        """``limit(per_s, interval_s=1.0)``: this logger behind a rate limit, per call site."""

    def bind(self, **fields: Any) -> HFTLoggerInterface:
        """A logger that adds *fields* to every record."""

    def flush(self, timeout: float | None = 5.0) -> bool:
        """Wait until everything logged so far has reached the backends."""

    def configure_performance(
        self, *, max_latency_us: float | None = None, ring_buffer_size: int | None = None
    ) -> None:
        """Set the latency target for this logger and make sure the ring is large enough."""

    def get_performance_metrics(self) -> LoggingMetrics:
        """Latency, throughput, drops and backend counts of the pipeline."""


class HFTLogger:
    """A named, tagged logger; its methods are closures chosen once (see ``_emit``).

    A level below every backend's level is the module-level no-op ``nop``; a level only a
    counting backend wants (Prometheus below every other backend) counts the call and does
    nothing else (``make_count``); ``error``,
    ``critical`` and ``warning`` honour ``exc_info=True``; ``exception`` is ``error`` that
    always captures the exception being handled. ``audit`` raises
    :class:`~hft.logging.AuditWriteError` when the audit trail cannot take its record
    (``logging.backends.audit.on_failure``; see :mod:`hft.logging.audit._guard`).
    ``limit(per_s, interval_s)`` is the rate-limited logger of the caller's place in the code
    (:class:`~hft.logging.limited.LimitedLogger`); a logger the settings' ``limits`` name has
    its own methods limited so.
    """

    __slots__ = (
        "__weakref__",
        "_limited",
        "_pipeline",
        "_sampled",
        "_source",
        "audit",
        "critical",
        "debug",
        "error",
        "exception",
        "info",
        "limit",
        "max_latency_us",
        "metric",
        "name",
        "records_from",
        "tags",
        "warning",
    )

    debug: Emit
    info: Emit
    warning: Emit
    error: Emit
    critical: Emit
    exception: Emit
    metric: EmitMetric
    audit: Emit
    #: ``limit(per_s, interval_s=1.0)``: the rate-limited logger of the caller's place in the
    #: code (:class:`~hft.logging.limited.LimitedLogger`); made on first use (``__getattr__``).
    limit: Limit

    def __init__(
        self,
        pipeline: LoggingPipeline,
        name: str,
        tags: Iterable[str] = (),
        context: dict[str, Any] | None = None,
    ) -> None:
        self._pipeline = pipeline
        self.name = name
        self.tags = tuple(tags)
        self._source = Source.create(name, self.tags, context or {})
        self.max_latency_us: float | None = None
        by_settings = pipeline.limits.for_logger(name)  # the settings' limits, longest prefix
        self._limited = (
            None if by_settings is None else pipeline.limits.limit_set(self._source, *by_settings)
        )
        #: The call sites whose calls get timed; set before the logger is registered, since
        #: the dispatcher arms them (``arm_sampling``) from the moment it is seen there.
        self._sampled: list[Any] = []
        pipeline.register_logger(self)  # binds the methods (rebind), under the level lock

    def rebind(self) -> None:
        """Choose the methods again (after the pipeline's levels or ring changed)."""
        pipeline, source = self._pipeline, self._source
        sampled: list[Any] = []
        if pipeline.closed:  # nothing would deliver: count the calls instead of queueing them
            closed = pipeline.count_after_close
            for method in (*(m for m, _ in LEVEL_METHODS), "exception", "metric", "audit"):
                setattr(self, method, closed)
            self._limit_methods(AUDIT)
            self._sampled = sampled  # none: nothing is timed once closed
            return
        taken, counted = pipeline.min_level, pipeline.count_level
        floor = pipeline.level_for(self.name)  # the logger's own level (``logging.levels``)
        backtrace = pipeline.backtrace  # None: off
        for method, level in LEVEL_METHODS:
            records = level >= taken and level >= floor  # built, routed, maybe down the lane
            flushes = records and backtrace is not None and level >= backtrace.flush_level
            if records:  # a flushing level takes the tuple ring, never the lane
                fast = make_emit(pipeline, level, source, exc=level >= WARNING, lane=not flushes)
            elif backtrace is not None:  # no record (no backend, or the logger's level): kept
                kept = level >= max(floor, counted)  # a counting backend wants it: counted too
                fast = backtrace.keeper(pipeline, level, source, counted=kept)
            elif level >= max(floor, counted):  # only counted (Prometheus below the others)
                fast = make_count(pipeline, level, source)
            else:  # below the logger's level, or below every backend: not even counted
                setattr(self, method, nop)
                continue
            sampled.append(fast)  # its calls are timed too: what callers pay
            if flushes:  # kept records first, on the same path (pipeline/backtrace.py)
                fast = backtrace.trigger(pipeline, fast, level, source)  # type: ignore[union-attr]
            setattr(self, method, fast)
        self._sampled = sampled  # whole, at once: the dispatcher may be arming the last list
        self._limit_methods(max(taken, floor))  # the methods that make records
        error = self.error  # exception: error with exc_info=True; counted alike; nop alike
        self.exception = (
            (lambda msg, /, **f: error(msg, exc_info=True, **f))
            if max(taken, floor) <= ERROR or backtrace is not None  # error is no nop then
            else error
        )
        self.metric = make_metric(pipeline, source)
        self.audit = make_audit(pipeline, source)

    def _limit_methods(self, records_from: int) -> None:
        """The methods from *records_from* up (those that make records) behind the settings'
        limit, if any; the limited loggers of :attr:`limit` take the new methods."""
        self.records_from = records_from
        if self._limited is not None:
            for method, level in LEVEL_METHODS:
                if level >= records_from:
                    setattr(self, method, self._limited.wrap(level, getattr(self, method)))
        for limited in self._made_limits():
            limited.rebind(self)

    def _made_limits(self) -> list[LimitedLogger]:
        try:
            sites = object.__getattribute__(self, "limit")
        except AttributeError:  # limit() never called: nothing to rebind
            return []
        made: list[LimitedLogger] = sites.made()
        return made

    def __getattr__(self, name: str) -> Any:
        """``limit``, on first use: its slot is then set, and read as any attribute."""
        if name != "limit":
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        # The limited loggers keep this logger alive (they use its methods): a logger that
        # never calls limit() keeps no reference to itself.
        self.limit = limit_sites(functools.partial(LimitedLogger, self))
        return self.limit

    def _arm_sampling(self) -> None:
        """Time the next call of each enabled method (called by the dispatcher, rarely).

        The call site times itself (a flag it clears): the method object stays the same, so
        a caller that keeps a reference to it (``log = logger.info``) keeps the fast path.
        """
        for method in self._sampled:
            method.sample = 1

    def bind(self, **fields: Any) -> HFTLogger:
        """A logger on the same pipeline whose records carry *fields* (call fields win).

        A bound value is rendered (and masked) once, at bind time, so that the logger's plain
        records keep the byte lane: a mutable object bound and then changed is shown as it
        was when bound (by a record the dispatcher prepares, one with a field that is not
        plain, as it is then). Bind values you will not change.
        """
        context = {**self._source.context, **fields}
        child = HFTLogger(self._pipeline, self.name, self.tags, context)
        child.max_latency_us = self.max_latency_us
        return child

    def flush(self, timeout: float | None = 5.0) -> bool:
        """Wait until everything logged so far has reached the backends."""
        return self._pipeline.flush(timeout)

    def configure_performance(
        self, *, max_latency_us: float | None = None, ring_buffer_size: int | None = None
    ) -> None:
        """Set this logger's latency target; grow the shared ring if it is smaller than asked."""
        if max_latency_us is not None:
            self.max_latency_us = max_latency_us
        if ring_buffer_size is not None and ring_buffer_size > self._pipeline.capacity:
            self._pipeline.resize(ring_buffer_size)

    def get_performance_metrics(self) -> LoggingMetrics:
        """Latency, throughput, drops and backend counts of the pipeline."""
        return self._pipeline.metrics()

    _get_performance_metrics = (
        get_performance_metrics  # the older, private-looking spelling, kept for callers
    )

    @property
    def pipeline(self) -> LoggingPipeline:
        """The pipeline this logger writes to."""
        return self._pipeline

    @property
    def source(self) -> Source:
        """This logger's identity on its records: name, tags, bound context."""
        return self._source

    def __repr__(self) -> str:
        return f"<HFTLogger {self.name!r} tags={list(self.tags)}>"
