"""Printing entries: json as on disk, pretty as the console backend's own line."""

from __future__ import annotations

import io

from hft.logging.backends.console import ConsoleBackend, colours
from hft.logging.reader.lines import Entry, parse
from hft.logging.reader.output import Output
from hft.logging.record import Source
from tests.logging.reader.logfiles import T0, hft_line


def _entry(line: bytes) -> Entry:
    entry = parse(line)
    assert entry is not None
    return entry


class TestOutput:
    def test_json_writes_the_raw_lines(self) -> None:
        """--format json: the lines exactly as read."""
        stream = io.BytesIO()
        lines = [hft_line(seq=0), hft_line(seq=1, msg="é\u2028")]
        Output(stream, pretty=False, colour=False).entries([_entry(line) for line in lines])
        assert stream.getvalue() == b"".join(lines)

    def test_pretty_is_console_format(self) -> None:
        """--format pretty: ConsoleBackend.format of the record the line holds."""
        stream = io.BytesIO()
        entry = _entry(hft_line(T0, "ERROR", "a.b", msg="x\x1b[2J", tags=("t",), side="buy"))
        Output(stream, pretty=True, colour=True).entries([entry])
        record = (0, T0, 40, Source("a.b", ("t",)), "x\x1b[2J", {"side": "buy"})
        expected = ConsoleBackend().format(record, colours(True)) + "\n"
        assert stream.getvalue().decode() == expected
        assert "\x1b[2J" not in expected  # the console's escaping, kept

    def test_raw_lines_pass_as_they_are(self) -> None:
        """lines() writes what it is given."""
        stream = io.BytesIO()
        Output(stream, pretty=True, colour=False).lines([b"a\n", b"b\n"])
        assert stream.getvalue() == b"a\nb\n"


class TestColours:
    def test_on_and_off(self) -> None:
        """colours(True) wraps text in the level's colour; colours(False) leaves it."""
        assert colours(True)(30, "W") == "\x1b[33mW\x1b[0m"
        assert colours(False)(30, "W") == "W"
