"""Types of the C extension of the side that writes lines (``src/hft/logging/native/writer.c``)."""

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

def unpack_lane(payload: bytes | memoryview, load_source: Callable[[bytes], Any], /) -> list[Any]:
    """A lane frame's payload back into record tuples (fields over the source's context)."""

def lane_count(payload: bytes | memoryview, /) -> tuple[int, int, int]:
    """``(count, lowest level, highest level)`` of a lane frame's payload, every entry checked
    (ValueError: damaged)."""
