"""Types of the optional C call site (``src/hft/logging/_callsite.c``, ``_lane.h``)."""

from collections import deque
from collections.abc import Callable
from typing import Any

class Lane:
    """Plain records as bytes in a ring, taken out a frame at a time (``_lane.h``)."""

    pending: int
    max_records: int
    pushed: int
    taken: int
    evicted: int
    refused: int
    newest: int
    newest_taken: int

    def __init__(
        self,
        capacity_bytes: int,
        max_records: int,
        policy: str,
        block_timeout_s: float,
        harmless: set[object],
        secrets: tuple[str, ...],
        refused: Callable[[int], object],
        wake: Callable[[], object] | None = None,
        wake_at: int = -1,
        learn: Callable[[object], bool] | None = None,
    ) -> None: ...
    def define(self, pickled_source: bytes, /) -> int:
        """Register a source (pickled); its id goes with every record of it."""
    def take(self, max_bytes: int, /) -> tuple[bytes, int, int] | None:
        """``(frame, count, newest_seq)`` of the oldest records, or None when empty."""

class Sequence:
    """A pipeline's record numbers: called, 0, 1, 2... (C call sites take theirs directly)."""

    #: The number it gives next.
    next: int

    def __init__(self, start: int = 0) -> None: ...
    def __call__(self) -> int: ...

class Emitter:
    """A logging method: builds the record, untracks it, appends it (or calls ``full``)."""

    level: int
    source: Any
    #: Room checked before appending; 0 sends every call to ``full`` (writable).
    capacity: int
    #: 1: time the next call and append its duration (ns) to ``samples`` (writable).
    sample: int

    def __init__(
        self,
        ring: deque[Any],
        next_seq: Callable[[], int],
        level: int,
        source: Any,
        capacity: int,
        full: Callable[[Any], None] | None,
        exc: bool = False,
        wake: Callable[[], object] | None = None,
        wake_at: int = -1,
        lane: Lane | None = None,
        lane_source: int = -1,
        samples: deque[int] | None = None,
    ) -> None: ...
    def __call__(self, msg: str, /, **fields: Any) -> None:
        """Log *msg* with *fields*."""

def unpack_lane(payload: bytes | memoryview, load_source: Callable[[bytes], Any], /) -> list[Any]:
    """A lane frame's payload back into record tuples."""

def lane_count(payload: bytes | memoryview, /) -> int:
    """The records of a lane frame's payload, every entry checked (ValueError: damaged)."""

def nop(*args: Any, **fields: Any) -> None:
    """What a disabled logging level is."""
