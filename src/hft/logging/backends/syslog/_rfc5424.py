"""Records as RFC 5424 syslog messages, and RFC 6587 octet-counted frames of them.

One message per record::

    <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID seq=".." instance=".." ...] MSG

The header fields are restricted to printable US-ASCII and cut to the RFC's lengths; the
structured data carries what a collector needs to find a record again (the sequence number,
this process's instance id, the logger, its tags, the level) and the call's fields, with
``"``, ``\\`` and ``]`` escaped. MSG is the message as UTF-8 (no BOM; rsyslog takes both), so
a newline inside it is just a byte: octet counting, not a delimiter, ends the frame.

No frame is ever larger than ``max_message_bytes`` (counted in UTF-8 bytes, the octet count
included): a collector that meets a larger frame truncates or splits it, or loses the framing
of everything after it. A record that would not fit keeps its header and identity; its fields
are kept whole while they fit (the rest are left out, their number in ``fields_dropped``), MSG
is cut on a UTF-8 character boundary and ends with ``…[truncated]``, and ``truncated`` holds
the size the whole message would have had.

This runs on the dispatcher thread for every record, so it is written for speed: the header
part that only changes once a second is cached, and so are logger names and field names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson

from hft.logging.levels import AUDIT, CRITICAL, DEBUG, ERROR, INFO, WARNING, level_name
from hft.logging.record import Record, TraceIds, split_trace
from hft.logging.render.clock import TimestampFormatter
from hft.logging.render.lines import TRUNCATED_MARK, safe_repr, sanitize, truncate
from hft.logging.render.schemas import Schema, line_renderer

_CODED: Final = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp",
                  "cron", "authpriv", "ftp")  # fmt: skip
FACILITIES: Final = {name: code for code, name in enumerate(_CODED)} | {
    f"local{n}": 16 + n for n in range(8)
}
#: hft level → syslog severity (RFC 5424 table 2). Audit events are "notice".
SEVERITIES: Final = {DEBUG: 7, INFO: 6, WARNING: 4, ERROR: 3, CRITICAL: 2, AUDIT: 5}
#: SD-PARAM names the record itself uses; a field with one of these names gets a ``_`` prefix.
RESERVED: Final = frozenset(
    {"seq", "instance", "logger", "tags", "level", "truncated", "fields_dropped"}
) | {"trace_id", "span_id"}  # a span's (a record logged in one)
#: The smallest ``max_message_bytes``: RFC 5424's 2048 (a header with the longest identity
#: this formatter writes still leaves room for the truncation marks).
MIN_MESSAGE_BYTES: Final = 2048
#: Characters of the logger name, tags and instance id the structured data carries.
IDENTITY_CHARS: Final = 128
_MARK_ROOM: Final = 80  # ' truncated="N" fields_dropped="N"' and "] "
_NOT_PRINTABLE: Final = re.compile(r"[^\x21-\x7e]")
_NOT_SD_NAME: Final = re.compile(r'[^\x21-\x7e]|[= \]"]')
_SD_ID: Final = re.compile(r"[!#-<>-?A-\\^-~]+@[0-9]+(\.[0-9]+)*")  # printable, no = ] " @
_CACHE_LIMIT: Final = 4096


def printable(text: str, limit: int) -> str:
    """*text* as RFC 5424 header text: printable US-ASCII only (others become ``_``), cut to
    *limit*, and ``-`` (the nil value) when nothing is left."""
    return _NOT_PRINTABLE.sub("_", text)[:limit] or "-"


def sd_name(name: str) -> str:
    """A field name as an SD-PARAM name: 1 to 32 printable characters, no ``= ]"``."""
    clean = _NOT_SD_NAME.sub("_", name)[:32] or "_"
    return "_" + clean[:31] if clean in RESERVED else clean


def escape(value: str) -> str:
    """An SD-PARAM value with ``\\``, ``"`` and ``]`` escaped (RFC 5424 section 6.3.3)."""
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if '"' in value:
        value = value.replace('"', '\\"')
    if "]" in value:
        value = value.replace("]", "\\]")
    return value


def check_sd_id(sd_id: str) -> str:
    """*sd_id* if it is a valid SD-ID (``name@PEN``, or a registered name), else ValueError."""
    if len(sd_id) > 32 or not _SD_ID.fullmatch(sd_id):
        raise ValueError(f"syslog sd_id {sd_id!r} is not of the form name@PEN (RFC 5424 7.2.2)")
    return sd_id


def message_limit(max_frame_bytes: int) -> int:
    """The largest message whose octet-counted frame fits in *max_frame_bytes*."""
    return max_frame_bytes - len(str(max_frame_bytes)) - 1


def octet_frame(message: bytes) -> bytes:
    """One RFC 6587 octet-counted frame: ``LEN SP MESSAGE``."""
    return b"%d %s" % (len(message), message)


def split_frames(data: bytes) -> tuple[list[bytes], int]:
    """The messages of consecutive octet-counted frames, and the bytes they took (a cut or
    garbled last frame is left out)."""
    messages: list[bytes] = []
    pos, end = 0, len(data)
    while pos < end:
        space = data.find(b" ", pos)
        try:
            stop = space + 1 + int(data[pos:space])
        except ValueError:
            break
        if space < 0 or stop > end:
            break
        messages.append(data[space + 1 : stop])
        pos = stop
    return messages, pos


class Rfc5424Formatter:
    """Renders records as RFC 5424 messages (bytes, without framing)."""

    __slots__ = (
        "_clock",
        "_fields_json",
        "_header",
        "_limit",
        "_loggers",
        "_max_bytes",
        "_names",
        "_payload",
        "_pri",
        "_sd_open",
    )

    def __init__(
        self,
        *,
        app_name: str,
        facility: str,
        hostname: str,
        sd_id: str,
        instance_id: str,
        include_fields_json: bool = False,
        schema: Schema = "hft",
        pid: int | None = None,
        max_field_chars: int = 4096,
        max_message_bytes: int = 65536,
    ) -> None:
        if max_message_bytes < MIN_MESSAGE_BYTES:
            raise ValueError(f"syslog max_message_bytes must be at least {MIN_MESSAGE_BYTES}")
        if len(instance_id) > IDENTITY_CHARS:
            raise ValueError(f"syslog instance_id is longer than {IDENTITY_CHARS} characters")
        code = FACILITIES[facility] * 8
        self._pri = {level: f"<{code + sev}>1 " for level, sev in SEVERITIES.items()}
        host, app = printable(hostname, 255), printable(app_name, 48)
        self._header = f" {host} {app} {printable(str(os.getpid()), 128)} "
        self._sd_open = f'[{check_sd_id(sd_id)} instance="{escape(instance_id)}"'
        self._fields_json = include_fields_json
        #: With schema ecs or otel, the JSON payload is the whole record in that schema.
        self._payload = None if schema == "hft" else line_renderer(
            schema, max_field_chars, service_name=app_name, pid=pid
        )  # fmt: skip
        self._limit = max_field_chars
        self._max_bytes = message_limit(max_message_bytes)
        self._loggers: dict[tuple[str, tuple[str, ...]], str] = {}
        self._names: dict[str, str] = {}
        self._clock = TimestampFormatter()

    def many(self, records: Iterable[Record]) -> list[bytes]:
        """One message per record, in order."""
        return [self.one(record) for record in records]

    def one(self, record: Record) -> bytes:
        """The RFC 5424 message for *record*."""
        seq, ts_ns, level, source, msg, fields = record
        fields, trace = split_trace(fields)  # its span: SD params after level
        stamp, nanos = self._clock.parts(ts_ns)
        pri = self._pri.get(level) or self._pri[min(SEVERITIES, key=lambda n: abs(n - level))]
        logger = self._logger(source.name, source.tags)
        text = msg if type(msg) is str else safe_repr(msg, self._limit)
        params = self._params(fields) if fields else ""
        body = self._body(text, record) if self._fields_json else text
        message = (
            f"{pri}{stamp}.{nanos // 1000:06d}Z{self._header}{logger}"
            f'{seq}" level="{level_name(level)}"{_span(trace)}{params}] {body}'
        ).encode("utf-8", "replace")  # "replace": a lone surrogate must not stop the batch
        if len(message) <= self._max_bytes:
            return message
        head = f'{pri}{stamp}.{nanos // 1000:06d}Z{self._header}{logger}{seq}" level="'
        head += f'{level_name(level)}"{_span(trace)}'
        parts = self._param_parts(fields) if fields else []
        return bounded(head, parts, body, self._max_bytes, len(message))

    def _body(self, text: str, record: Record) -> str:
        """MSG with the JSON payload: the fields (schema hft, when there are any), or the whole
        record in the chosen schema."""
        if self._payload is not None:
            return f"{text} {self._payload.many((record,))[:-1].decode()}"
        fields, _ = split_trace(record[5])  # its span is in the SD params
        return f"{text} {self._json(fields)}" if fields else text

    def _logger(self, name: str, tags: tuple[str, ...]) -> str:
        """``MSGID [SD-ID ... seq="`` up to the sequence number, cached per logger."""
        key = (name, tags)
        cached = self._loggers.get(key)
        if cached is None:
            if len(self._loggers) > _CACHE_LIMIT:
                self._loggers.clear()
            short, joined = name[:IDENTITY_CHARS], ",".join(tags)[:IDENTITY_CHARS]
            sd = f'logger="{escape(short)}" tags="{escape(joined)}" seq="'
            cached = self._loggers[key] = f"{printable(name, 32)} {self._sd_open} {sd}"
        return cached

    def _params(self, fields: Mapping[str, Any]) -> str:
        return "".join(self._param_parts(fields))

    def _param_parts(self, fields: Mapping[str, Any]) -> list[str]:
        names, limit = self._names, self._limit
        parts = []
        for key, value in fields.items():
            name = names.get(key) if type(key) is str else None
            if name is None:
                name = sd_name(str(key))
                if len(names) < _CACHE_LIMIT:
                    names[key] = name
            parts.append(f' {name}="{escape(_value_text(value, limit))}"')
        return parts

    def _json(self, fields: Mapping[str, Any]) -> str:
        try:
            return orjson.dumps(fields).decode()
        except (TypeError, orjson.JSONEncodeError):
            return orjson.dumps(sanitize(fields, self._limit)).decode()


def _span(trace: TraceIds | None) -> str:
    """The SD params of the span a record was logged in (none outside one)."""
    return "" if trace is None else f' trace_id="{trace.trace_id}" span_id="{trace.span_id}"'


def bounded(head: str, params: list[str], body: str, limit: int, full: int) -> bytes:
    """A message of at most *limit* bytes from its parts: *head* (up to the SD's ``level``)
    whole, as many *params* as fit, *body* cut and marked; *full* is the uncut size.

    The fields and MSG share the room: the smaller of the two gets what it needs, up to half.
    """
    top = head.encode("utf-8", "replace")
    text = body.encode("utf-8", "replace")
    encoded = [p.encode("utf-8", "replace") for p in params]
    room = limit - len(top) - _MARK_ROOM
    wanted = sum(map(len, encoded))
    text = cut_utf8(text, max(0, room - min(wanted, room // 2)), TRUNCATED_MARK.encode())
    kept, used, dropped = [], 0, 0
    for param in encoded:
        if used + len(param) <= room - len(text):
            kept.append(param)
            used += len(param)
        else:
            dropped += 1
    marks = b' truncated="%d"' % full + (b' fields_dropped="%d"' % dropped if dropped else b"")
    message = top + b"".join(kept) + marks + b"] " + text
    return message if len(message) <= limit else cut_utf8(message, limit)  # a last resort


def cut_utf8(data: bytes, limit: int, mark: bytes = b"") -> bytes:
    """*data* cut to at most *limit* bytes, never inside a UTF-8 sequence, ending with *mark*
    when cut (the mark counts against *limit*)."""
    if len(data) <= limit:
        return data
    end = max(0, limit - len(mark))
    while end and data[end] & 0xC0 == 0x80:  # a continuation byte: step back to the lead
        end -= 1
    return data[:end] + mark if len(mark) <= limit else data[:end]


def _value_text(value: Any, limit: int) -> str:
    """A field value as text: strings as they are, numbers and the rest as JSON."""
    if type(value) is str:
        return truncate(value, limit)
    if type(value) is int or type(value) is float:
        try:
            return repr(value)  # nan and inf as Python writes them
        except ValueError:  # an int of more digits than sys.get_int_max_str_digits() allows
            return f"<int of {value.bit_length()} bits>"  # type: ignore[union-attr]
    try:
        return truncate(orjson.dumps(value).decode(), limit)
    except (TypeError, orjson.JSONEncodeError):
        return truncate(orjson.dumps(sanitize(value, limit)).decode(), limit)
