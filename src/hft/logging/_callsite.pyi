"""Types of the optional C call site (``src/hft/logging/_callsite.c``)."""

from collections import deque
from collections.abc import Callable
from typing import Any

class Emitter:
    """A logging method: builds the record, untracks it, appends it (or calls ``full``)."""

    level: int
    source: Any
    #: Room checked before appending; 0 sends every call to ``full`` (writable).
    capacity: int

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
    ) -> None: ...
    def __call__(self, msg: str, /, **fields: Any) -> None:
        """Log *msg* with *fields*."""
