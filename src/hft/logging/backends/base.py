"""What the pipeline asks of a backend, declared in one place.

Required (:class:`LoggingBackend`): ``name``, ``level``, ``takes_metrics``, ``takes_audit``,
``write(records)``, ``flush()``, ``close()``. A class with just these works as a backend.

Optional hooks, each with a default that does nothing (:class:`BaseBackend` declares them all;
:class:`Hooks` finds them on any backend, once, when it joins a pipeline):

- ``takes_logs`` (a class attribute, default True): False routes no log record to it (only
  metric records, by ``takes_metrics``): it reads the calls per logger and level, from its
  ``level`` up, through ``context.record_counts`` instead (Prometheus). Its level then makes
  count-only call sites of the levels no other backend takes, and keeps none off the lane;
- ``attach(context)``: called once when the backend joins a pipeline; *context* is a
  :class:`BackendContext` (``warn``, ``note``, ``metrics``, ``record_counts``): how a backend
  reports outages and reads the pipeline's health, instead of reaching into the pipeline;
- ``after_fork_in_child()``: in a forked child, before its first write (reopen what the
  parent owns);
- ``sync(timeout) -> bool``: at ``flush()``, wait until what was written is really delivered
  (a writer process, say); False at the timeout;
- ``stats() -> Mapping[str, float]``: figures of its own, in ``BackendStats.extra`` (Prometheus
  exports a count as a counter ``hft_<backend>_<name>_total``, a level named in
  ``prometheus._health.LEVEL_STATS`` as a gauge);
- ``healthy`` (a property): False while its writes work but its destination cannot be reached
  (a syslog backend spooling): the backend then shows as ``unhealthy``;
- ``handover() -> (unconfirmed, failed_over, lost, state)``: for a backend that hands records
  on, how many of those it took are not yet confirmed, failed over elsewhere or lost;
- ``sink_stats() -> list[BackendStats] | None``: for a backend that hosts several sinks (the
  writer process: file, console), each sink's counts, shown in ``LoggingMetrics.backends``
  under the sink's own name instead of the host's;
- ``extra_settings`` (a class attribute): which keyword arguments beyond its own settings its
  constructor takes too (``hft_settings`` keys such as ``max_field_chars``; ``yield_every``,
  which a writer process passes).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from hft.logging.levels import DEBUG
from hft.logging.record import Record

if TYPE_CHECKING:
    from hft.logging.pipeline.metrics import BackendStats, LoggingMetrics

__all__ = ["BackendContext", "BaseBackend", "Handover", "Hooks", "LoggingBackend", "Say"]

#: ``say(msg, **fields)``: queue a record from the logging layer itself.
Say = Callable[..., None]
#: What :meth:`BaseBackend.handover` returns: unconfirmed, failed over, lost, writer state.
Handover = tuple[int, int, int, str]


def _no_counts() -> Mapping[tuple[str, int], int]:
    return {}


@runtime_checkable
class LoggingBackend(Protocol):
    """Where records end up. Called only from the dispatcher thread, never concurrently.

    ``level`` is the lowest log level the backend takes; ``takes_metrics`` and ``takes_audit``
    say whether metric and audit records are routed to it as well.
    """

    name: str
    level: int
    takes_metrics: bool
    takes_audit: bool

    def write(self, records: Sequence[Record]) -> None:
        """Deliver *records* (already filtered for this backend); raise if they were not."""

    def flush(self) -> None:
        """Push anything buffered to its destination."""

    def close(self) -> None:
        """Flush and release resources; closing twice is harmless, later writes may raise."""


@dataclass(frozen=True, slots=True)
class BackendContext:
    """What a pipeline gives a backend that joins it (``attach``)."""

    #: A WARNING from the logging layer (``hft.logging``), out with the next batch.
    warn: Say
    #: An INFO record from the logging layer (the audit chain's head, say).
    note: Say
    #: A snapshot of the pipeline's latencies, drops and backend counts.
    metrics: Callable[[], LoggingMetrics]
    #: Logging calls so far per (logger name, level), counted at the call site (every call,
    #: refused or dropped ones too), read now: from any thread, without the dispatcher.
    record_counts: Callable[[], Mapping[tuple[str, int], int]] = _no_counts


def _no_attach(context: BackendContext) -> None:
    del context


def _nothing() -> None:
    return None


def _synced(timeout: float) -> bool:
    del timeout
    return True


def _no_stats() -> Mapping[str, float]:
    return {}


@dataclass(frozen=True, slots=True)
class Hooks:
    """A backend's optional hooks, bound once (the declared default where it has none)."""

    attach: Callable[[BackendContext], None]
    after_fork_in_child: Callable[[], None]
    sync: Callable[[float], bool]
    stats: Callable[[], Mapping[str, float]]
    handover: Callable[[], Handover | None]
    sink_stats: Callable[[], Sequence[BackendStats] | None]
    backend: Any
    #: False: no log record is routed to it (see the module); read once, when it joins.
    takes_logs: bool = True

    @classmethod
    def of(cls, backend: object) -> Hooks:
        """The hooks of *backend*: its own where it defines them, else the defaults."""

        def own(name: str, default: Any) -> Any:
            return getattr(backend, name, default)  # the one place hooks are looked up

        return cls(
            attach=own("attach", _no_attach),
            after_fork_in_child=own("after_fork_in_child", _nothing),
            sync=own("sync", _synced),
            stats=own("stats", _no_stats),
            handover=own("handover", _nothing),
            sink_stats=own("sink_stats", _nothing),
            backend=backend,
            takes_logs=bool(own("takes_logs", True)),
        )

    @property
    def healthy(self) -> bool:
        """The backend's ``healthy`` property, True where it has none (read each time)."""
        return bool(getattr(self.backend, "healthy", True))


class BaseBackend(ABC):
    """Defaults for the protocol's attributes and for every optional hook (see the module)."""

    name: str = "backend"
    level: int = DEBUG
    takes_metrics: bool = False
    takes_audit: bool = True
    #: False: no log record is routed to it; it reads the call counts instead (module doc).
    takes_logs: bool = True
    #: Pipeline-wide settings (from ``hft_settings``) the constructor also accepts.
    extra_settings: tuple[str, ...] = ("max_field_chars",)

    @abstractmethod
    def write(self, records: Sequence[Record]) -> None:
        """Deliver *records*."""

    def flush(self) -> None:  # noqa: B027 - a deliberate no-op default, not abstract
        """Nothing is buffered by default."""

    def close(self) -> None:
        """Nothing to release by default."""
        self.flush()

    def attach(self, context: BackendContext) -> None:  # noqa: B027 - a no-op default
        """Joined a pipeline: keep *context* to report through it. Default: nothing."""

    def after_fork_in_child(self) -> None:  # noqa: B027 - a no-op default
        """In a forked child, before its first write. Default: nothing."""

    def sync(self, timeout: float) -> bool:
        """Wait until what was written is delivered. Default: it already is."""
        del timeout
        return True

    def stats(self) -> Mapping[str, float]:
        """Figures of the backend's own. Default: none."""
        return {}

    @property
    def healthy(self) -> bool:
        """False while the destination cannot be reached though writes work. Default: True."""
        return True

    def handover(self) -> Handover | None:
        """For a backend that hands records on: what is not yet confirmed. Default: None."""
        return None

    def sink_stats(self) -> Sequence[BackendStats] | None:
        """For a backend that hosts several sinks: each one's counts. Default: None."""
        return None
