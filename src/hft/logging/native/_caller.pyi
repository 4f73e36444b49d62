"""Types of the C extension of the process that logs (``src/hft/logging/native/caller.c``)."""

from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

class Lane:
    """Plain records as bytes in a ring, taken out a frame at a time (``lane.h``)."""

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
    def redefine(self, lane_id: int, pickled_source: bytes, /) -> None:
        """Give a defined id another source: only once no waiting record uses it."""
    def take(self, max_bytes: int, /) -> tuple[bytes, int, int] | None:
        """``(frame, count, newest_seq)`` of the oldest records, or None when empty (or
        while the mover runs)."""
    def start_mover(
        self,
        fd: int,
        next_number: int,
        sent_through: int,
        frames: list[tuple[int, bytes, int]],
        unsent_from: int,
        offset: int,
        frame_bytes: int,
        max_frames: int,
        max_bytes: int,
        poll_s: float,
        /,
    ) -> None:
        """Start the native thread that writes the lane's records to *fd* as frames, after
        the handed-over *frames* ``(number, data, records)`` (from *unsent_from*, *offset*
        bytes of it already written)."""
    def stop_mover(self) -> tuple[list[tuple[int, bytes, int]], int, int, int, int, int]:
        """Stop it: ``(frames, unsent_from, offset, sent_through, next_number, errno)``."""
    def submit(self, frame: Any, records: int, /) -> int:
        """Queue a frame made elsewhere (header included) after the others; its number."""
    def ack(self, number: int, /) -> int:
        """Free the frames up to *number* (acknowledged); the records they held."""
    def move_now(self) -> None:
        """Frame every waiting record now (flush), whatever the bound."""
    def mover_stats(self) -> tuple[int, int, int, int, int, int, int, int, int]:
        """``(running, frames, records, bytes, sent_through, next_number, errno, moved,
        unaccounted)``."""
    def account(self) -> tuple[int, int]:
        """``(count, newest_taken)``: records taken since the last call."""

class Sequence:
    """A pipeline's record numbers: called, 0, 1, 2... (C call sites take theirs directly)."""

    #: The number it gives next.
    next: int
    #: 1 while the dispatcher sleeps long: the next record onto a ring clears it and wakes it.
    idle: int

    def __init__(self, start: int = 0) -> None: ...
    def __call__(self) -> int: ...

class Counter:
    """The calls of one logger at one level in a pipeline, added to by its call sites."""

    #: The calls counted so far (read-only; a call site adds one per call, under the GIL).
    @property
    def value(self) -> int: ...
    def __init__(self) -> None: ...

class Emitter:
    """A logging method: counts the call, builds the record, untracks it, appends it (or calls
    ``full``). With ``ring=None`` a count-only call site: it counts the call and nothing else.
    With ``keep=True`` a backtrace's: it appends a ``KeptRecord`` (fields as two tuples)."""

    level: int
    source: Any
    #: Room checked before appending; 0 sends every call to ``full`` (writable).
    capacity: int
    #: 1: time the next call and append its duration (ns) to ``samples`` (writable).
    sample: int
    #: 1: each call reads the current OpenTelemetry span (``trace=``; read-only).
    traced: int

    def __init__(
        self,
        ring: deque[Any] | None,
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
        counter: Counter | None = None,
        context: ContextVar[Any] | None = None,
        derive: Callable[[Any], tuple[Any, int, object]] | None = None,
        keep: bool = False,
        trace: tuple[Any, str, Callable[[], object], Callable[[object], str | None]] | None = None,
    ) -> None: ...
    def __call__(self, msg: str, /, **fields: Any) -> None:
        """Log *msg* with *fields*."""

class Limiter:
    """A rate-limited logging method (``limiter.c``): ``per`` calls a window of ``interval_ns``
    go through to ``target``, the rest are counted and held back, the first and last kept."""

    target: Callable[..., None]
    per: int
    interval_ns: int
    #: Calls held back in the window now, and in all windows so far.
    held: int
    held_total: int

    def __init__(
        self,
        target: Callable[..., None],
        per: int,
        interval_ns: int,
        report: Callable[[Any], None],
        pending: Callable[[Limiter], None],
        counter: Counter | None = None,
    ) -> None: ...
    def __call__(self, msg: str, /, **fields: Any) -> None:
        """Let *msg* through, or hold it back."""
    def sweep(self, force: bool = False, /) -> bool:
        """Report an ended window's held calls (*force*: the open one's); True while holding."""
    def retarget(self, target: Callable[..., None], counter: Counter | None = None, /) -> None:
        """Let calls through to *target* from now on; the window and its held calls stay."""

class LimitSites:
    """``logger.limit`` (``limit_sites.c``): what *factory* made for the caller's place."""

    def __init__(self, factory: Callable[..., Any]) -> None: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def made(self) -> list[Any]:
        """What the factory made, one per site."""

def nop(*args: Any, **fields: Any) -> None:
    """What a disabled logging level is."""

def scan(
    batch: list[Any], harmless: set[object], debug: int, secrets: tuple[str, ...] = (), /
) -> tuple[int, int, int, bool, bool] | None:
    """``(max_seq, lowest, highest, plain, hit)`` of a slice in one pass; None if unusual."""
