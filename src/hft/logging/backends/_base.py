"""The small protocol every backend implements: write a batch, flush, close."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from hft.logging._levels import DEBUG
from hft.logging._record import Record


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


# A backend may also define ``attach(pipeline)``: the pipeline calls it once when the backend
# joins, so a metrics backend can export the pipeline's own health (queue depth, drops, …).
# It may also define a ``healthy`` property: while False, its ``BackendStats.state`` says
# ``unhealthy`` although its writes work (a syslog backend spooling while its collector is
# unreachable or refuses the TLS handshake).


class BaseBackend(ABC):
    """Defaults for the protocol's attributes and no-op ``flush``/``close``."""

    name: str = "backend"
    level: int = DEBUG
    takes_metrics: bool = False
    takes_audit: bool = True
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
