"""Human-readable, coloured (on a terminal), structured ``key=value`` output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, Final, TextIO

import orjson

from hft.logging.backends.base import BaseBackend
from hft.logging.levels import (
    AUDIT,
    CRITICAL,
    DEBUG,
    ERROR,
    INFO,
    WARNING,
    level_name,
    parse_level,
)
from hft.logging.record import Record, split_trace
from hft.logging.render.clock import TimestampFormatter
from hft.logging.render.lines import safe_repr, safe_str, truncate

_RESET: Final = "\x1b[0m"
_DIM: Final = "\x1b[2m"
_COLOURS: Final = {
    0: _DIM,
    DEBUG: "\x1b[2;36m",
    INFO: "\x1b[32m",
    WARNING: "\x1b[33m",
    ERROR: "\x1b[31m",
    CRITICAL: "\x1b[1;41;97m",
    AUDIT: "\x1b[35m",
}
# Control characters from data are shown escaped, so a value cannot move the cursor, recolour
# or clear the terminal, or start a new line that looks like a record of its own. Also escaped:
# Unicode line and paragraph separators, the bidirectional overrides (which can make a line
# read differently from what it holds), and lone surrogates (which a UTF-8 stream refuses).
_CONTROL: Final = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_CONTROL.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})
_CONTROL.update(
    {c: f"\\u{c:04x}" for c in (0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A))}
)
_CONTROL.update({c: f"\\u{c:04x}" for c in range(0xD800, 0xE000)})


def escape(text: str) -> str:
    """Escape control characters (ANSI escapes included) in text that came from data."""
    return text.translate(_CONTROL)


def _quoted(text: str) -> str:
    try:
        return orjson.dumps(text).decode()
    except orjson.JSONEncodeError:  # lone surrogates: the stdlib quotes them, escape() shows them
        return json.dumps(text, ensure_ascii=False)


def colours(enabled: bool) -> Callable[[int, str], str]:
    """What :meth:`ConsoleBackend.format` colours text with: each level's colour, or none."""
    if enabled:
        return lambda level, text: f"{_COLOURS.get(level, '')}{text}{_RESET}"
    return lambda _level, text: text


def _value_text(value: Any, limit: int) -> str:
    if isinstance(value, str):
        text = truncate(value, limit)
        plain = text and not any(c in text for c in " =\"'") and text.isprintable()
        return text if plain else escape(_quoted(text))
    if isinstance(value, bool) or value is None:
        return str(value)
    if type(value) is int or type(value) is float:  # a subclass's repr is its author's text
        return truncate(safe_repr(value, limit), limit)
    return escape(safe_repr(value, limit))


class ConsoleBackend(BaseBackend):
    """Writes one line per record: time, level, logger, tags, message, then ``key=value``."""

    name = "console"
    takes_metrics = False

    def __init__(
        self,
        *,
        level: int | str = "INFO",
        colored_output: bool = True,
        structured: bool = True,
        stream: TextIO | str | None = None,
        max_field_chars: int = 4096,
    ) -> None:
        self.level = parse_level(level)
        self._colored_output = colored_output
        self._structured = structured
        self._stream_spec = stream
        self._limit = max_field_chars
        self._timestamp = TimestampFormatter()

    @property
    def stream(self) -> TextIO:
        """The stream written to, looked up at each write so redirections are honoured."""
        spec = self._stream_spec
        if spec is None or spec == "stderr":
            return sys.stderr
        if spec == "stdout":
            return sys.stdout
        assert not isinstance(spec, str)
        return spec

    def _colour(self, stream: TextIO) -> Callable[[int, str], str]:
        return colours(self._colored_output and stream.isatty())

    def format(self, record: Record, colour: Callable[[int, str], str]) -> str:
        """Render one record as a line (without the newline); a record logged inside a span
        ends with its ``trace_id=… span_id=…``."""
        _seq, ts_ns, level, source, msg, fields = record
        fields, trace = split_trace(fields)
        parts = [
            colour(0, self._ts(ts_ns)),
            colour(level, f"{level_name(level):<8}"),
            escape(source.name),
        ]
        if source.tags:
            parts.append("[" + ",".join(map(escape, source.tags)) + "]")
        limit = self._limit
        parts.append(
            escape(truncate(msg, limit) if isinstance(msg, str) else safe_repr(msg, limit))
        )
        if self._structured and fields:
            parts.extend(
                f"{escape(safe_str(k, limit))}={_value_text(v, limit)}" for k, v in fields.items()
            )
        if trace is not None:
            parts.append(f"trace_id={trace.trace_id} span_id={trace.span_id}")
        return " ".join(parts)

    def _ts(self, ts_ns: int) -> str:
        """Microseconds are enough for a person reading a terminal."""
        return self._timestamp(ts_ns)[:-4] + "Z"

    def write(self, records: Sequence[Record]) -> None:
        """Format *records* and write them in one call."""
        stream = self.stream
        colour = self._colour(stream)
        stream.write("".join(self.format(r, colour) + "\n" for r in records))

    def flush(self) -> None:
        """Flush the stream."""
        self.stream.flush()
