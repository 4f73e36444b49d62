"""SIGHUP: re-read the settings files' ``levels`` map, in the control thread.

The handler runs in the main thread (the trading loop): it only writes one byte to the control
thread's pipe (and calls the handler it replaced, if that was a function). The control thread
re-reads the files and applies the map. Installed only from the main thread, and the handler
it replaced is put back when the last pipeline that serves the channel closes.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any, Protocol

#: What SIGHUP reloads from: a function returning the settings files' ``levels`` map now.
LevelsSource = Callable[[], Mapping[str, str]]


class Reloadable(Protocol):
    """A settings manager that can read its files again (``LoggingConfigManager``)."""

    def reloaded(self) -> Any: ...


def levels_from(manager: Reloadable) -> LevelsSource:
    """The ``levels`` map *manager*'s files (and ``HFT_*`` variables) hold when called."""

    def read() -> Mapping[str, str]:
        return dict(manager.reloaded().get_logging_config().levels)

    return read


class SighupHook:
    """Our SIGHUP handler, installed over (and chained to) the one in place."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._previous: Any = None
        self.installed = False

    def install(self) -> bool:
        """Handle SIGHUP (main thread only); True if our handler is in place."""
        if self.installed:
            return True
        if threading.current_thread() is not threading.main_thread():
            return False
        self._previous = signal.getsignal(signal.SIGHUP)
        signal.signal(signal.SIGHUP, self._on_sighup)
        self.installed = True
        return True

    def restore(self) -> None:
        """Put back the handler we replaced, if ours is still the one (main thread only)."""
        if not self.installed or threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGHUP) == self._on_sighup:
            previous = self._previous
            signal.signal(signal.SIGHUP, signal.SIG_DFL if previous is None else previous)
        self.installed = False

    def _on_sighup(self, signum: int, frame: FrameType | None) -> None:
        self._wake()
        if callable(self._previous):
            self._previous(signum, frame)


__all__ = ["LevelsSource", "Reloadable", "SighupHook", "levels_from"]
