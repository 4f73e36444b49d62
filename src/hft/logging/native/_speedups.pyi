"""Types of the optional C fast path (``src/hft/logging/native/_speedups.c``)."""

from collections.abc import Callable, Sequence
from typing import Any

def render_lines(
    records: Sequence[Any],
    levels: dict[int, bytes],
    messages: dict[object, bytes],
    dumps: Callable[[Any], bytes],
    long_line: int,
    state: list[Any],
    yield_every: int = 0,
    /,
) -> tuple[bytes, list[tuple[int, int]]]:
    """Render the fast-path records; return them joined and ``(index, offset)`` of the rest.

    *yield_every*: after each that many records, offer the CPU (``sched_yield``, the GIL
    released); 0: never."""

def render_lane(
    payload: bytes | memoryview,
    levels: dict[int, bytes],
    long_line: int,
    state: list[Any],
    load_source: Callable[[bytes], Any],
    yield_every: int = 0,
    /,
) -> tuple[bytes, list[tuple[Any, int]]]:
    """A lane frame's lines straight from its bytes; ``(record, offset)`` of those left over.

    *yield_every*: after each that many records, offer the CPU (``sched_yield``, the GIL
    released); 0: never."""

def scan(
    batch: list[Any], harmless: set[object], debug: int, secrets: tuple[str, ...] = (), /
) -> tuple[int, int, int, bool, bool] | None:
    """``(max_seq, lowest, highest, plain, hit)`` of a slice in one pass; None if unusual."""
