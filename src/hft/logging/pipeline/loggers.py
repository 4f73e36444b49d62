"""The loggers of one pipeline: held weakly, rebound after changes, sampled in turn."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Final

SAMPLE_EVERY_S: Final = 0.05  #: how often call sites are armed for a timed call
SAMPLE_LOGGERS: Final = 64  #: loggers armed each time, round-robin


class LoggerRegistry:
    """Every logger of a pipeline, so that its call sites can be rebuilt and sampled."""

    def __init__(self) -> None:
        self._loggers: weakref.WeakSet[Any] = weakref.WeakSet()
        self._last_sampling, self._cursor = 0.0, 0
        #: Held while loggers are bound: a level change and a new logger never interleave.
        self.lock = threading.RLock()

    def add(self, logger: Any) -> None:
        """Remember *logger* (weakly: a logger nobody uses is not kept alive) and bind its
        methods, under :attr:`lock`, so that no level change slips between the two."""
        with self.lock:
            self._loggers.add(logger)
            logger.rebind()

    def rebind_all(self) -> None:
        """Rebuild every logger's call sites (new ring, closed pipeline, new backend)."""
        self.rebind_where(lambda _name: True)

    def rebind_where(self, affected: Callable[[str], bool]) -> None:
        """Rebuild the call sites of every logger whose name *affected* accepts."""
        with self.lock:
            for logger in list(self._loggers):
                if affected(logger.name):
                    logger.rebind()

    def names(self) -> set[str]:
        """The names of the loggers alive now."""
        return {logger.name for logger in list(self._loggers)}

    def arm_sampling(self, force: bool = False) -> None:
        """Arm the next call of some loggers to be timed: every ``SAMPLE_EVERY_S``, up to
        ``SAMPLE_LOGGERS`` loggers at a time, round-robin, so a process with thousands of
        (bound) loggers does not pay for re-arming them all on every dispatcher cycle."""
        now = time.monotonic()
        if not force and now - self._last_sampling < SAMPLE_EVERY_S:
            return
        self._last_sampling = now
        loggers = list(self._loggers)
        if not loggers:
            return
        start = self._cursor % len(loggers)
        chosen = (loggers + loggers)[start : start + min(SAMPLE_LOGGERS, len(loggers))]
        self._cursor = start + len(chosen)
        for logger in chosen:
            logger._arm_sampling()
