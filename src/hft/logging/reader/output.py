"""How ``hft logs`` prints an entry: its line as on disk (json), or the console's line (pretty)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

from hft.logging.backends.console import ConsoleBackend, colours
from hft.logging.reader.lines import Entry
from hft.logging.record import Source


class Output:
    """Writes entries or raw lines to a binary stream; ``pretty`` renders as the console does."""

    def __init__(self, stream: BinaryIO, *, pretty: bool, colour: bool) -> None:
        self.stream = stream
        self.pretty = pretty
        self._console = ConsoleBackend()
        self._colour = colours(colour)
        self._sources: dict[tuple[str, tuple[str, ...]], Source] = {}

    def lines(self, lines: list[bytes]) -> None:
        """Write lines as they are (each with its newline)."""
        self.stream.write(b"".join(lines))

    def entries(self, entries: Iterable[Entry]) -> None:
        """Write entries in the chosen format."""
        if self.pretty:
            text = "".join(self.render(entry) + "\n" for entry in entries)
            self.stream.write(text.encode("utf-8", "backslashreplace"))
        else:
            self.stream.write(b"".join(entry.raw for entry in entries))

    def render(self, entry: Entry) -> str:
        """The console backend's line for *entry* (without the newline)."""
        key = (entry.logger, entry.tags)
        source = self._sources.get(key)
        if source is None:
            source = self._sources[key] = Source(entry.logger, entry.tags)
        record = (entry.seq, entry.ts_ns, entry.level, source, entry.msg, entry.fields_with_trace())
        return self._console.format(record, self._colour)

    def flush(self) -> None:
        """Flush the stream."""
        self.stream.flush()
