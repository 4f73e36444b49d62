"""Levels per logger: a map from a dotted logger-name prefix to a level, matched as the
stdlib matches its hierarchy.

``"exchange.mexc"`` covers ``exchange.mexc`` and ``exchange.mexc.book``, not
``exchange.mexcx``; ``""`` is the root and covers every name. The longest prefix wins. A name
no prefix covers has no logger level (:data:`NOTSET`): only the backends' levels apply.

A :class:`LevelMap` is immutable: a change makes a new map (:meth:`LevelMap.with_level`), so
a lookup never sees half a change, and each map caches its answers per name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Final

from hft.logging.levels import CRITICAL, DEBUG, LEVEL_NAMES, parse_level

#: No logger level: every level the backends take is a record.
NOTSET: Final = 0
#: A prefix: ``""`` (the root) or dot-separated names, none empty, no blanks.
_PREFIX: Final = re.compile(r"(?:[^.\s]+(?:\.[^.\s]+)*)?")
#: Names cached per map before the cache starts again (a process has a few hundred names).
_CACHE_LIMIT: Final = 4096


def check_prefix(prefix: str) -> str:
    """*prefix* if it is a logger-name prefix, else :class:`ValueError` saying why."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ValueError(
            f"{prefix!r} is not a logger-name prefix: '' (the root) or dotted names such as"
            " 'exchange.mexc' (no empty part, no blanks)"
        )
    return prefix


def check_level(level: int | str) -> int:
    """The number of a logger level given by name or number (DEBUG..CRITICAL)."""
    number = parse_level(level)
    if number not in LEVEL_NAMES or not DEBUG <= number <= CRITICAL:
        raise ValueError(f"{level!r} is not a logger level (DEBUG, INFO, WARNING, ERROR, CRITICAL)")
    return number


class LevelMap(Mapping[str, int]):
    """Prefix -> level number, immutable, with a cached longest-prefix lookup."""

    __slots__ = ("_cache", "_levels")

    def __init__(self, levels: Mapping[str, int | str] | None = None) -> None:
        items = (levels or {}).items()
        self._levels = {check_prefix(p): check_level(v) for p, v in items}
        self._cache: dict[str, int] = {}

    def level_for(self, name: str) -> int:
        """The level of logger *name*: its longest prefix's, or :data:`NOTSET`."""
        found = self._cache.get(name)
        if found is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            found = self._cache[name] = self._lookup(name)
        return found

    def _lookup(self, name: str) -> int:
        levels, prefix = self._levels, name
        while True:
            if prefix in levels:
                return levels[prefix]
            if not prefix:
                return NOTSET
            prefix = prefix.rpartition(".")[0]

    def with_level(self, prefix: str, level: int | str | None) -> LevelMap:
        """A new map with *prefix* at *level* (``None``: *prefix* removed)."""
        levels: dict[str, int | str] = {**self._levels}
        if level is None:
            levels.pop(check_prefix(prefix), None)
        else:
            levels[check_prefix(prefix)] = level
        return LevelMap(levels)

    def names(self) -> dict[str, str]:
        """Prefix -> level name, sorted by prefix (the root first)."""
        return {p: LEVEL_NAMES[self._levels[p]] for p in sorted(self._levels)}

    def __getitem__(self, prefix: str) -> int:
        return self._levels[prefix]

    def __iter__(self) -> Iterator[str]:
        return iter(self._levels)

    def __len__(self) -> int:
        return len(self._levels)

    def __repr__(self) -> str:
        return f"LevelMap({self.names()!r})"


__all__ = ["NOTSET", "LevelMap", "check_level", "check_prefix"]
