"""Several logs' entries interleaved by timestamp, streamed: a k-way heap merge.

Each log is in time order as its process wrote it; entries with the same timestamp come in
the order of the logs given, then in file order (a process's ``seq`` order).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from operator import attrgetter
from typing import Final

from hft.logging.reader.lines import Entry

_TS: Final = attrgetter("ts_ns")


def merge(streams: Sequence[Iterable[Entry]]) -> Iterator[Entry]:
    """The entries of *streams* (each in time order) in one time order, holding one each."""
    return heapq.merge(*streams, key=_TS)


def merge_last(streams: Sequence[Iterable[Entry]], count: int) -> list[Entry]:
    """The last *count* entries of the merge of *streams* (each its own last *count*)."""
    merged = list(merge(streams))
    return merged[max(0, len(merged) - count) :]
