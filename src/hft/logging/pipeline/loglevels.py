"""Levels per logger, changed while the process runs: the part of ``LoggingPipeline`` that
holds the :class:`~hft.logging.pipeline.thresholds.LevelMap` and swaps it.

What "at once" means. A change takes the registry's lock, puts the new map in place and
rebinds every logger whose level it changes, then returns. Binding a method is one attribute
store (atomic under the GIL), so:

- a call that looks its method up (``logger.debug(...)``) after :meth:`LoggerLevels.set_level`
  returned gets the method of the new level: ``nop`` below it, an emitter at or above it;
- a call already inside an emitter when the change happens finishes as a record (nothing is
  lost: the rings and the lane do not change);
- a method fetched before the change and kept (``log = logger.debug``) is the old method: it
  keeps emitting (or keeps doing nothing) until it is fetched again. Keep the logger, not its
  bound method, where levels may change.

A logger made while a change runs is bound under the same lock, so it never keeps a level the
change replaced. Every change is logged by the pipeline itself (logger ``hft.logging``, at
WARNING, so a production file at WARNING shows it): the prefix, the old and new level, and
who asked (``api``, ``socket uid=… pid=…``, ``SIGHUP``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hft.logging.levels import level_name
from hft.logging.pipeline.thresholds import LevelMap

if TYPE_CHECKING:
    from hft.logging.control import ControlSpec
    from hft.logging.pipeline.loggers import LoggerRegistry

#: What a level change record says.
CHANGED = "log level changed"


class LoggerLevels:
    """The pipeline's logger levels: read by each logger as it binds, changed at run time."""

    _loggers: LoggerRegistry
    _level_map: LevelMap
    _control: ControlSpec | None

    if TYPE_CHECKING:  # provided by LoggingPipeline

        @property
        def min_level(self) -> int: ...
        def _warn(self, msg: str, **fields: Any) -> None: ...

    def _init_levels(
        self, levels: Mapping[str, int | str] | None, control: ControlSpec | None
    ) -> None:
        self._level_map = LevelMap(levels)
        self._control = control

    def level_for(self, name: str) -> int:
        """The level logger *name* gets from ``levels`` (its longest prefix's), 0 for none."""
        return self._level_map.level_for(name)

    def effective_level(self, name: str) -> int:
        """The lowest level at which logger *name* makes records: its own level, or the
        lowest backend level if that is higher."""
        return max(self._level_map.level_for(name), self.min_level)

    def levels(self) -> dict[str, str]:
        """The ``levels`` map in force: prefix -> level name, the root (``""``) first."""
        return self._level_map.names()

    def logger_levels(self) -> dict[str, str]:
        """Every live logger's name -> its :meth:`effective_level`'s name, sorted by name."""
        return {n: level_name(self.effective_level(n)) for n in sorted(self._loggers.names())}

    def set_level(self, prefix: str, level: int | str | None, *, by: str = "api") -> None:
        """Put loggers under *prefix* at *level* (``None``: remove *prefix* from the map),
        rebinding every logger it affects before returning; safe from any thread.

        *by* says who asked, in the record that logs the change.
        """
        with self._loggers.lock:
            old = self._level_map
            self._swap(old.with_level(prefix, level), prefix)
            new = self._level_map
        self._warn(CHANGED, prefix=prefix, old=_name(old, prefix), new=_name(new, prefix), by=by)

    def replace_levels(self, levels: Mapping[str, int | str], *, by: str) -> int:
        """Put the whole map *levels* in place of the current one (a settings reload); log
        each prefix it changes. Returns how many prefixes changed."""
        new = LevelMap(levels)
        with self._loggers.lock:
            old = self._level_map
            self._swap(new)
        changed = sorted(p for p in {*old, *new} if old.get(p) != new.get(p))
        for prefix in changed:
            self._warn(
                CHANGED, prefix=prefix, old=_name(old, prefix), new=_name(new, prefix), by=by
            )
        return len(changed)

    def _swap(self, new: LevelMap, prefix: str = "") -> None:
        """Put *new* in place and rebind the loggers under *prefix* whose level it changes
        (lock held)."""
        old, self._level_map = self._level_map, new
        below = f"{prefix}."

        def affected(name: str) -> bool:
            under = not prefix or name == prefix or name.startswith(below)
            return under and old.level_for(name) != new.level_for(name)

        self._loggers.rebind_where(affected)

    def _attach_control(self) -> None:
        """Serve the control channel for this pipeline, if its settings ask for it."""
        if self._control is not None and self._control.enabled:
            from hft.logging.control.hub import attach

            attach(self, self._control)

    def _detach_control(self) -> None:
        if self._control is not None:
            from hft.logging.control.hub import detach

            detach(self)


def _name(levels: LevelMap, prefix: str) -> str:
    """The level *levels* gives *prefix* itself, by name; ``NOTSET`` when it has none."""
    return level_name(levels[prefix]) if prefix in levels else "NOTSET"


__all__ = ["CHANGED", "LoggerLevels"]
