"""Which entries ``hft logs`` prints: level, logger prefix, time window, message regex, fields.

The options are turned into one predicate once (a list of small checks, all of which must
pass); an empty :class:`Query` needs no parsing at all.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from hft.logging.levels import LEVEL_NAMES
from hft.logging.reader.lines import Entry, iso_ns, level_number

_RELATIVE: Final = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_S: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_MISSING: Final = object()
#: Where an hft line says its level: ``{"ts":"<30 characters>","level":"NAME"``.
_HFT_LEVEL_AT: Final = b'","level":"'
_LEVEL_KEY: Final = 37
_LEVEL_VALUE: Final = _LEVEL_KEY + len(_HFT_LEVEL_AT)

Check = Callable[[Entry], bool]


@dataclass(frozen=True)
class Query:
    """The filters of one command: each None (or empty) when not given."""

    level: int | None = None
    logger: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    grep: re.Pattern[str] | None = None
    fields: tuple[tuple[str, str], ...] = ()

    @property
    def empty(self) -> bool:
        """True when every entry passes (so lines need not be parsed)."""
        return self == Query()

    def predicate(self) -> Check:
        """One function that is True for the entries every given filter lets through."""
        checks = [check for check in self._checks() if check is not None]
        if len(checks) == 1:
            return checks[0]
        return lambda entry: all(check(entry) for check in checks)

    def _checks(self) -> list[Check | None]:
        return [
            _at_least(self.level),
            _under(self.logger),
            _since(self.since_ns),
            _until(self.until_ns),
            _grep(self.grep),
            *(_field(key, value) for key, value in self.fields),
            (lambda _entry: True) if self.empty else None,
        ]


def level_gate(level: int | None) -> Callable[[bytes], bool] | None:
    """A check on a raw hft line that is False only when its level is below *level*, read at its
    fixed place (every hft timestamp has 30 characters), so that most lines a ``--level`` leaves
    out are never parsed; any other line is True (it is parsed and checked in full)."""
    if level is None:
        return None
    names = tuple(f'{name}"'.encode() for number, name in LEVEL_NAMES.items() if number >= level)
    allowed = (*names, b"LEVEL")

    def might_pass(line: bytes) -> bool:
        if line.startswith(_HFT_LEVEL_AT, _LEVEL_KEY) and line.startswith(b'{"ts":"'):
            return line.startswith(allowed, _LEVEL_VALUE)
        return True

    return might_pass


def parse_level_option(text: str) -> int:
    """``--level``'s value: a level name in any case (DEBUG … CRITICAL, METRIC, AUDIT)."""
    return level_number(text)


def parse_time(text: str, now_ns: int | None = None) -> int:
    """``--since``/``--until``'s value in ns: ISO 8601 (no offset: UTC; a date alone: its
    midnight), or a time ago: a number and one of ``s m h d w`` (``90s``, ``10m``, ``1.5h``)."""
    if matched := _RELATIVE.fullmatch(text.strip()):
        now = time.time_ns() if now_ns is None else now_ns
        return now - int(float(matched[1]) * _UNIT_S[matched[2]] * 1_000_000_000)
    try:
        return iso_ns(text if "T" in text or " " in text else f"{text}T00:00:00")
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (ISO 8601 like 2026-12-07T03:00:00Z, or an age like 10m)"
        ) from None


def parse_field(text: str) -> tuple[str, str]:
    """``--field``'s ``KEY=VALUE`` (the first ``=`` splits; KEY may be dotted)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"not KEY=VALUE: {text!r}")
    return key, value


def _at_least(level: int | None) -> Check | None:
    if level is None:
        return None
    return lambda entry: entry.level >= level


def _under(prefix: str | None) -> Check | None:
    if prefix is None:
        return None
    dotted = prefix + "."
    return lambda entry: entry.logger == prefix or entry.logger.startswith(dotted)


def _since(start: int | None) -> Check | None:
    return None if start is None else lambda entry: entry.ts_ns >= start


def _until(end: int | None) -> Check | None:
    return None if end is None else lambda entry: entry.ts_ns < end


def _grep(pattern: re.Pattern[str] | None) -> Check | None:
    if pattern is None:
        return None
    search = pattern.search
    return lambda entry: search(entry.msg) is not None


def _field(key: str, wanted: str) -> Check:
    path = key.split(".")

    def check(entry: Entry) -> bool:
        value = lookup(entry.fields, key, path)
        return value is not _MISSING and _same(value, wanted)

    return check


def lookup(fields: Any, key: str, path: Sequence[str]) -> Any:
    """The value under *key* in *fields*: the key as it is, else its dotted *path* into nested
    objects; a sentinel when there is none."""
    if type(fields) is not dict:
        return _MISSING
    if key in fields:
        return fields[key]
    value: Any = fields
    for part in path:
        if type(value) is not dict or part not in value:
            return _MISSING
        value = value[part]
    return value


def _same(value: Any, wanted: str) -> bool:
    """A value matches its string itself, or its JSON text (``1``, ``true``, ``null``, ``"a"``)."""
    if isinstance(value, str) and value == wanted:
        return True
    try:
        return orjson.dumps(value).decode() == wanted
    except TypeError:
        return False
