"""Merging logs by time: a heap over streams, ties by log order then file order."""

from __future__ import annotations

from collections.abc import Iterator

from hft.logging.reader.lines import Entry, parse
from hft.logging.reader.merge import merge, merge_last
from tests.logging.reader.logfiles import T0, hft_line


def _entries(*stamps: tuple[int, int]) -> list[Entry]:
    out = []
    for ts, seq in stamps:
        entry = parse(hft_line(T0 + ts, seq=seq))
        assert entry is not None
        out.append(entry)
    return out


def _keys(entries: list[Entry]) -> list[tuple[int, int]]:
    return [(e.ts_ns - T0, e.seq) for e in entries]


class TestMerge:
    def test_interleaves_by_time(self) -> None:
        """Streams in time order come out in one time order."""
        a = _entries((1, 0), (4, 1), (6, 2))
        b = _entries((2, 0), (3, 1), (7, 2))
        assert _keys(list(merge([a, b]))) == [(1, 0), (2, 0), (3, 1), (4, 1), (6, 2), (7, 2)]

    def test_ties_by_log_order_then_file_order(self) -> None:
        """Equal times: the earlier log first, and within a log, its file order."""
        a = _entries((5, 10), (5, 11))
        b = _entries((5, 0))
        assert _keys(list(merge([b, a]))) == [(5, 0), (5, 10), (5, 11)]
        assert _keys(list(merge([a, b]))) == [(5, 10), (5, 11), (5, 0)]

    def test_streams_lazily(self) -> None:
        """The merge pulls from its streams as it goes, holding one entry of each."""
        pulled: list[int] = []

        def stream(start: int) -> Iterator[Entry]:
            for i in range(start, 1000, 2):
                pulled.append(i)
                yield from _entries((i, i))

        merged = merge([stream(0), stream(1)])
        assert _keys([next(merged) for _ in range(3)]) == [(0, 0), (1, 1), (2, 2)]
        assert len(pulled) <= 5

    def test_last_of_the_merge(self) -> None:
        """merge_last keeps the newest N of all streams."""
        a = _entries((1, 0), (4, 1))
        b = _entries((2, 0), (3, 1))
        assert _keys(merge_last([a, b], 3)) == [(2, 0), (3, 1), (4, 1)]
