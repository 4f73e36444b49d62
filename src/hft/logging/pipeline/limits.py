"""Rate limits for storms: at most N records an interval from one call site, the rest counted.

A limited call site is a :class:`Limiter` (C, ``native/limiter.c``) or its twin
:class:`_PyLimiter` wrapped around a logging method: it lets ``per`` calls a window through
and holds the rest back (counted in the logger's call counter too, no record made), keeping
the first and the last held call. When a window that held calls has ended, one summary
record says how many, with the first and last held call's message and fields, at their level
and from their logger: written by the next call of that site, or else by the dispatcher's
sweep (:meth:`Limits.sweep`, on each of its rounds, at most :data:`IDLE_POLL_S` apart), and at
shutdown for a window still open. Only limiters that hold calls are swept: a held call
queues its limiter, once a window.

``logger.limit(...)`` is a :class:`LimitSites` (C, ``native/limit_sites.c``) or
:class:`_PyLimitSites`: one limited logger per place in the code that calls it.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from hft.logging.native import Limiter, LimitSites
from hft.logging.pipeline.counts import CallCounter, PyCounter
from hft.logging.record import Source

if TYPE_CHECKING:
    from hft.logging.pipeline.callsites import Emit
    from hft.logging.pipeline.rings import Rings

#: The summary record's message.
HELD_MSG: Final = "log records held back by a rate limit"
#: The longest interval a limit may have (an hour): a summary comes at least that often.
MAX_INTERVAL_S: Final = 3600.0
#: What a held call is kept as: ``(msg, *values)`` and its keyword names (None: no fields).
Call = tuple[tuple[Any, ...], "tuple[str, ...] | None"]
Held = tuple[
    int, tuple[Any, ...], "tuple[str, ...] | None", tuple[Any, ...], "tuple[str, ...] | None"
]


class LimitsHost(Protocol):
    """What the limits read of their pipeline: where summaries go, what held calls count in."""

    @property
    def rings(self) -> Rings: ...
    def record_counter(self, name: str, level: int) -> CallCounter: ...


def budget(per_s: float, interval_s: float) -> tuple[int, int]:
    """``(records a window, window in ns)`` for *per_s* records a second over *interval_s*
    windows; ValueError unless the window lets one record through at least."""
    if not (isinstance(per_s, int | float) and isinstance(interval_s, int | float)):
        raise TypeError("a rate limit's per_s and interval_s are numbers")
    if not 0 < interval_s <= MAX_INTERVAL_S or not math.isfinite(per_s):
        raise ValueError(f"a rate limit's interval_s is above 0 and at most {MAX_INTERVAL_S:g}")
    per = math.floor(per_s * interval_s + 1e-9)
    if per < 1:
        raise ValueError(
            f"a rate limit of {per_s:g}/s over {interval_s:g} s lets no record through: "
            "per_s x interval_s must be 1 or more"
        )
    return per, round(interval_s * 1e9)


class Limits:
    """A pipeline's rate limits: the settings' per logger prefix, and the sweep's queue."""

    def __init__(self, host: LimitsHost, by_prefix: Mapping[str, tuple[float, float]]) -> None:
        self._host = host
        self._by_prefix = {prefix: budget(*limit) for prefix, limit in by_prefix.items()}
        #: Limiters that held calls in their window (each queued once a window; see sweep).
        self._pending: deque[Any] = deque()

    def for_logger(self, name: str) -> tuple[int, int] | None:
        """The settings' limit of logger *name*: its longest dotted prefix's (``""``: all)."""
        parts = name.split(".")
        for end in range(len(parts), -1, -1):
            found = self._by_prefix.get(".".join(parts[:end]))
            if found is not None:
                return found
        return None

    def counter(self, name: str, level: int) -> Any:
        """The call counter held calls of logger *name* at *level* add to."""
        return self._host.record_counter(name, level)

    def limiter(self, target: Emit, per: int, interval_ns: int, level: int, source: Source) -> Any:
        """A limited call site of *level* around *target*, reporting from *source*."""
        counter = self.counter(source.name, level)

        def report(summary: Held) -> None:
            self._report(level, source, per, interval_ns, summary)

        kind: Any = Limiter if Limiter is not None else _PyLimiter
        return kind(target, per, interval_ns, report, self._pending.append, counter)

    def limit_set(self, source: Source, per: int, interval_ns: int) -> LimitSet:
        """One limited call site per level for a logger (*source*), kept across rebinds."""
        return LimitSet(self, source, per, interval_ns)

    def sweep(self, *, force: bool = False) -> None:
        """Write the summary of every window that has ended (*force*: of every window)."""
        pending = self._pending
        if not pending:
            return
        keep = []
        for _ in range(len(pending)):
            limiter = pending.popleft()
            if limiter.sweep(force):
                keep.append(limiter)
        pending.extend(keep)

    def _report(self, level: int, source: Source, per: int, interval_ns: int, held: Held) -> None:
        """The summary record, onto the main ring (the dispatcher prepares it like any other)."""
        count, first, first_names, last, last_names = held
        fields = {
            "held": count,
            "limit": per,
            "interval_s": interval_ns / 1e9,
            "first_msg": first[0],
            "first_fields": dict(zip(first_names or (), first[1:], strict=True)),
            "last_msg": last[0],
            "last_fields": dict(zip(last_names or (), last[1:], strict=True)),
        }
        rings = self._host.rings
        seq = rings.next_seq
        rings.ring.append((seq(), time.time_ns(), level, source, HELD_MSG, fields))
        if getattr(seq, "idle", 0):  # a long-sleeping dispatcher is woken, as a call site does
            seq.idle = 0  # type: ignore[attr-defined]
            rings.wake()


class LimitSet:
    """A logger's limited call sites, one per level: rebinding the logger retargets them, so
    a window and its held calls outlive a change of levels, ring or backends."""

    __slots__ = ("_by_level", "_interval_ns", "_limits", "_per", "_source")

    def __init__(self, limits: Limits, source: Source, per: int, interval_ns: int) -> None:
        self._limits, self._source, self._per, self._interval_ns = limits, source, per, interval_ns
        self._by_level: dict[int, Any] = {}

    def wrap(self, level: int, target: Emit) -> Emit:
        """*target* (a logging method that makes records) behind this set's limiter of *level*."""
        limiter = self._by_level.get(level)
        if limiter is None:
            limiter = self._limits.limiter(
                target, self._per, self._interval_ns, level, self._source
            )
            self._by_level[level] = limiter
        else:
            limiter.retarget(target, self._limits.counter(self._source.name, level))
        wrapped: Emit = limiter
        return wrapped


class _PyLimiter:
    """What the C ``Limiter`` does, in Python; a lock where C has the GIL's atomicity."""

    __slots__ = (
        "__weakref__", "_counter", "_first", "_last", "_lock", "_passed", "_pending", "_queued",
        "_report", "_window_end", "held", "held_total", "interval_ns", "per", "target",
    )  # fmt: skip

    def __init__(  # noqa: PLR0917 - the C Limiter's signature
        self,
        target: Emit,
        per: int,
        interval_ns: int,
        report: Callable[[Held], None],
        pending: Callable[[Any], None],
        counter: PyCounter | None = None,
    ) -> None:
        self.per, self.interval_ns, self._report, self._pending = per, interval_ns, report, pending
        self._lock, self._window_end, self._passed, self._queued = threading.Lock(), 0, 0, False
        self.held = self.held_total = 0
        self._first: Call | None = None
        self._last: Call | None = None
        self.retarget(target, counter)

    def retarget(self, target: Emit, counter: PyCounter | None = None) -> None:
        """Let calls through to *target* from now on; the window and its held calls stay."""
        self.target, self._counter = target, counter if counter is not None else PyCounter()

    def __call__(self, msg: str, /, **fields: Any) -> None:
        summary, queue = None, False
        with self._lock:
            now = time.monotonic_ns()
            if now >= self._window_end:
                summary = self._take() if self.held else None
                self._window_end, self._passed = now + self.interval_ns, 0
            passing = self._passed < self.per
            if passing:
                self._passed += 1
            else:
                queue = self._hold((msg, *fields.values()), tuple(fields) or None)
        if summary is not None:
            self._report(summary)
        if passing:
            self.target(msg, **fields)
        elif queue:
            self._pending(self)

    def _hold(self, call: tuple[Any, ...], names: tuple[str, ...] | None) -> bool:
        """Count and keep a held call; True when the limiter must be queued for the sweep."""
        self._counter.value += 1
        self.held_total += 1
        self.held += 1
        if self.held == 1:
            self._first = (call, names)
        else:
            self._last = (call, names)
        queue, self._queued = not self._queued, True
        return queue

    def _take(self) -> Held:
        first = self._first
        last = self._last if self._last is not None else first
        assert first is not None
        assert last is not None
        held, self.held, self._first, self._last = self.held, 0, None, None
        return (held, first[0], first[1], last[0], last[1])

    def sweep(self, force: bool = False) -> bool:
        """Report an ended window's held calls (*force*: the open one's); True while holding."""
        with self._lock:
            due = self.held and (force or time.monotonic_ns() >= self._window_end)
            summary = self._take() if due else None
            keep = self._queued = self.held > 0
        if summary is not None:
            self._report(summary)
        return keep


class _PyLimitSites:
    """What the C ``LimitSites`` does, in Python: one made object per caller's place and
    arguments (the code object kept alive, so its id is never reused)."""

    __slots__ = ("_cache", "_codes", "_factory")

    def __init__(self, factory: Callable[..., Any]) -> None:
        self._factory, self._cache, self._codes = factory, dict[Any, Any](), list[Any]()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        frame = sys._getframe(1)  # the caller's place is the call site
        code = frame.f_code
        key = (id(code), frame.f_lasti, tuple(kwargs) or None, *args, *kwargs.values())
        try:
            found = self._cache.get(key)
        except TypeError:  # unhashable: the factory says what is wrong with it
            return self._factory(*args, **kwargs)
        if found is None:
            found = self._cache.setdefault(key, self._factory(*args, **kwargs))
            self._codes.append(code)
        return found

    def made(self) -> list[Any]:
        """What the factory made, one per site."""
        return list(self._cache.values())


def limit_sites(factory: Callable[..., Any]) -> Any:
    """``logger.limit``: the C ``LimitSites`` where built, else its twin."""
    return LimitSites(factory) if LimitSites is not None else _PyLimitSites(factory)


__all__ = [
    "HELD_MSG", "MAX_INTERVAL_S", "LimitSet", "Limits", "LimitsHost", "budget", "limit_sites",
]  # fmt: skip
