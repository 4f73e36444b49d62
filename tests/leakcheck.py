"""Leak check of the C paths' loops: ``python -m tests.leakcheck [calls]`` (run by ``make asan``).

Not a pytest module. Each loop runs a C path (the call site, the rate limits, the lane and its
mover, line rendering) through its common and its error branches, first for a warm-up, then
``calls`` times (the call site: 6 calls a loop), ``calls // 10`` times (the limits: 11 calls a
loop; the lane: 36 calls a loop; the span read: 22; rendering: a slice of 22 records) or
``calls // 100`` times
(the mover, started and stopped), and fails when memory grew over the measured part:
tracemalloc's traced bytes (every allocation through the Python allocators, PyMem_Raw included:
exact, whatever ASAN's quarantine holds) by more than TRACED_SLACK, or the resident set by more
than RSS_SLACK. One leaked record, dict or buffer a call is at least 50 bytes a call, megabytes
over the loop: far above both.
"""

from __future__ import annotations

import collections
import contextvars
import gc
import itertools
import json
import os
import pickle
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from hft.logging.native._caller import Counter, Emitter, Lane, Limiter, LimitSites, Sequence, scan
from hft.logging.native._writer import lane_count, render_lane, render_lines, unpack_lane

TRACED_SLACK = 64 * 1024
RSS_SLACK = 4 * 1024 * 1024
SOURCE: tuple[Any, ...] = ("orders", ("mexc",), {}, b'"logger":"orders",')
#: Bound sources as the lane defines them (context, then its fields' JSON): one whose lines are
#: written from the bytes, one whose records the call overrides (merged by take_record).
BOUND: tuple[Any, ...] = (*SOURCE[:2], {"venue": "v", "legs": [1, {"a": None}]}, SOURCE[3],
                          b'"venue":"v","legs":[1,{"a":null}]')  # fmt: skip
CLASHING: tuple[Any, ...] = (*SOURCE[:2], {"symbol": "X"}, SOURCE[3], b'"symbol":"X"')


def rss() -> int:
    """The resident set of this process, in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _raising(*_: object) -> Any:
    raise RuntimeError("refused")


def _short(_frame: object) -> Any:
    return (1,)  # not (source, lane id, ...): the call site refuses it


def expect(error: type[Exception], call: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    """Call, and make sure the call took its error branch."""
    try:
        call(*args, **kwargs)
    except error:
        return
    raise AssertionError(f"{call} did not raise {error.__name__}")


def callsite_loop() -> Callable[[int], None]:
    """Emitter: append, exc_info capture, full ring, wake, and calls that raise; count-only call
    sites made, timed and dropped with their Counter."""
    ring: collections.deque[Any] = collections.deque()
    overflow: list[Any] = []
    seq = itertools.count().__next__
    emit = Emitter(ring, seq, 20, SOURCE, -1, None)
    exc = Emitter(ring, seq, 40, SOURCE, -1, None, True)
    full = Emitter(ring, seq, 20, SOURCE, 0, overflow.append, False, ring.clear, 1)
    refused = Emitter(ring, seq, 20, SOURCE, 0, _raising)

    samples: collections.deque[int] = collections.deque(maxlen=8)

    def run(i: int) -> None:
        counter = Counter()
        counted = Emitter(ring, seq, 20, SOURCE, -1, None, samples=samples, counter=counter)
        only = Emitter(None, seq, 10, SOURCE, -1, None, samples=samples, counter=counter)
        only.sample = counted.sample = 1
        counted("order placed", symbol="BTCUSDT", qty=1.5, n=i)
        only("counted", n=i)
        only(repr(only), counter=repr(counter))
        expect(TypeError, Emitter, None, seq, 10, SOURCE, -1, None)
        emit("no fields")
        try:
            raise ValueError(i)
        except ValueError:
            exc("failed", exc_info=True, n=i)
        full("to full", n=i)
        expect(TypeError, emit)
        expect(RuntimeError, refused, "x")
        ring.clear()
        overflow.clear()

    return run


def _bound(_frame: Any) -> tuple[Any, int, object]:
    """A keeping site's derive: the bound source, no lane id."""
    return (BOUND, -1, None)


def keep_loop() -> Callable[[int], None]:
    """A backtrace's keeping call site (keep.c): kept into a full ring (each call drops the
    oldest record), exc_info captured, timed, inside a task context (a derive that raises
    too), and calls that raise; made and dropped too."""
    ring: collections.deque[Any] = collections.deque(maxlen=64)
    seq = Sequence()
    samples: collections.deque[int] = collections.deque(maxlen=8)
    keep = Emitter(ring, seq, 10, SOURCE, -1, None, True, samples=samples, keep=True)
    var: contextvars.ContextVar[Any] = contextvars.ContextVar("leakcheck-keep", default=None)
    framed = Emitter(ring, seq, 10, SOURCE, -1, None, context=var, derive=_bound, keep=True)
    failing = Emitter(ring, seq, 10, SOURCE, -1, None, context=var, derive=_raising, keep=True)

    def run(i: int) -> None:
        keep.sample = i % 2
        keep("kept", symbol="BTCUSDT", px=1.5 * i, n=i)
        keep("no fields")
        try:
            raise ValueError(i)
        except ValueError:
            keep("failed", exc_info=True, n=i)
        expect(TypeError, keep)
        expect(TypeError, Emitter, ring, seq, 10, SOURCE, 0, None, keep=True)
        made = Emitter(ring, seq, 30, SOURCE, -1, None, counter=Counter(), keep=True)
        made(repr(made), n=i)
        token = var.set((True, {}))  # a task context: kept with the frame's source
        framed("in a context", n=i)
        framed("found in the frame's cache", n=i)
        expect(RuntimeError, failing, "m", n=i)
        var.reset(token)
        framed("outside", n=i)

    return run


def limits_loop() -> Callable[[int], None]:
    """Limiter: let through, held (first and last kept), a window reported by sweep and by a
    call, retarget, and calls that raise; LimitSites: hits, misses, unhashable arguments."""
    through: list[Any] = []
    reports: list[Any] = []
    queue: collections.deque[Any] = collections.deque()
    counter = Counter()

    def target(msg: str, **fields: Any) -> None:
        through.append(msg)

    sites = LimitSites(lambda *a, **k: object())

    def run(i: int) -> None:
        limiter = Limiter(target, 2, 10**12, reports.append, queue.append, counter)
        for n in range(5):
            limiter("book gap", n=n, symbol="BTCUSDT", i=i)
        limiter("no fields")
        limiter.sweep(True)
        rolling = Limiter(target, 1, 1, reports.append, queue.append)  # every call a new window
        rolling("a", n=i)
        rolling("b")
        limiter.retarget(target, counter)
        expect(TypeError, limiter, "x", "y")
        expect(RuntimeError, Limiter(_raising, 1, 10**12, reports.append, _raising), "x")
        failing = Limiter(target, 1, 10**12, reports.append, _raising)
        failing("a")
        expect(RuntimeError, failing, "b")
        expect(TypeError, limiter.retarget, target, object())
        sites(per_s=i % 3)
        sites([i])
        through.clear()
        reports.clear()
        queue.clear()

    return run


def lane_loop() -> Callable[[int], None]:
    """Lane: plain records in (numbered by a C Sequence), refused and evicted when full, taken
    out, counted, decoded and rendered to lines (some left to Python: a long line, an exponent,
    a call field over a bound one); damaged frames refused; a record it cannot carry falls back
    to the tuple."""
    ring: collections.deque[Any] = collections.deque()
    refused: list[int] = []
    seq = Sequence()
    levels = {20: b"INFO"}
    names: set[object] = {"symbol", "qty", "n", "ok", "none"}
    lanes = [Lane(1 << 16, 8, policy, 0.0, names, ("s3cr3t",), refused.append)
             for policy in ("drop_newest", "drop_oldest", "block")]  # fmt: skip
    emits = [Emitter(ring, seq, 20, source, -1, None, lane=lane,
                     lane_source=lane.define(pickle.dumps(source)))
             for lane, source in zip(lanes, (SOURCE, BOUND, CLASHING), strict=True)]  # fmt: skip

    def run(i: int) -> None:
        for emit in emits:
            for k in range(10):  # 8 fit: the rest refused, evicted, or refused after the wait
                qty = 1.5 if k % 3 else 1e-9 * k
                emit(
                    "order placed \u00e9\n", symbol="BTCUSDT", qty=qty, n=i + k, ok=True, none=None
                )
            emit("has s3cr3t", n=i)
            emit("big int", n=2**70)
        for lane in lanes:
            taken = lane.take(1 << 20)
            assert taken is not None
            frame, count, _ = taken
            records = unpack_lane(memoryview(frame)[8:], pickle.loads)
            assert len(records) == count == lane_count(frame[8:])[0] == 8
            lines, slow = render_lane(frame[8:], levels, 150 + i % 100, [], pickle.loads, i % 4)
            assert lines.count(b"\n") + len(slow) == 8
            for data in (frame[8:-3], b"X" + frame[9:], frame[8:] + b"\0"):
                expect(ValueError, unpack_lane, data, pickle.loads)
                expect(ValueError, lane_count, data)
                expect(ValueError, render_lane, data, levels, 4096, [], pickle.loads)
        ring.clear()
        refused.clear()

    return run


def context_loop() -> Callable[[int], None]:
    """The task context at the call site: a frame per loop (its first call derives the entry,
    the next ones find it in the frame's cache), on the lane and on the tuple ring, a lane id
    redefined each loop; a derive that raises or returns a wrong entry, a variable holding
    something not a frame."""
    ring: collections.deque[Any] = collections.deque()
    var: contextvars.ContextVar[Any] = contextvars.ContextVar("leakcheck", default=None)
    refused: list[int] = []
    lane = Lane(1 << 16, 64, "drop_newest", 0.0, {"n"}, (), refused.append)
    lane_id = lane.define(pickle.dumps(SOURCE))

    def derive(frame: Any) -> tuple[Any, int, object]:
        lane.redefine(lane_id, pickle.dumps(BOUND))
        return (BOUND, lane_id if frame[0] else -1, None)

    emit = Emitter(ring, Sequence(), 20, SOURCE, -1, None, lane=lane, lane_source=lane_id,
                   context=var, derive=derive)  # fmt: skip
    bad = Emitter(ring, Sequence(), 20, SOURCE, -1, None, context=var, derive=_raising)
    wrong = Emitter(ring, Sequence(), 20, SOURCE, -1, None, context=var, derive=_short)

    def run(i: int) -> None:
        for lane_on in (True, False):
            token = var.set((lane_on, {}))
            for k in range(3):
                emit("in a context", n=i + k)
            expect(RuntimeError, bad, "m", n=i)
            expect(TypeError, wrong, "m", n=i)
            var.reset(token)
        emit("outside", n=i)
        token = var.set(("not", "a dict"))
        expect(TypeError, emit, "m", n=i)
        var.reset(token)
        while lane.take(1 << 20) is not None:
            pass
        lane.account()
        ring.clear()

    return run


class _Span:
    """A span as the call site meets it: any object, its ids asked of ids_of."""


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736" + "00f067aa0ba902b7" + "01"


def trace_loop() -> Callable[[int], None]:
    """The OpenTelemetry span at the call site (trace.c): a new span per loop (ids asked),
    the same span again (kept), an invalid one, none, a context that is not a dict, the
    fallback's current(); on the lane, the tuple ring and a backtrace's keeping site; ids_of
    raising or giving a wrong value; traced records and entries rendered."""
    ring: collections.deque[Any] = collections.deque()
    var: contextvars.ContextVar[Any] = contextvars.ContextVar("leakcheck-otel", default=None)
    refused: list[int] = []
    lane = Lane(1 << 16, 64, "drop_newest", 0.0, {"n"}, (), refused.append)
    lane_id = lane.define(pickle.dumps(SOURCE))
    current: list[Any] = [None]

    def ids_of(span: object) -> str | None:
        return None if getattr(span, "invalid", False) else TRACE

    spec = (var, "span", lambda: current[0], ids_of)
    emit = Emitter(ring, Sequence(), 20, SOURCE, -1, None, lane=lane, lane_source=lane_id,
                   trace=spec)  # fmt: skip
    classic = Emitter(ring, Sequence(), 20, SOURCE, -1, None, trace=spec)
    kept = Emitter(ring, Sequence(), 10, SOURCE, -1, None, keep=True, trace=spec)
    fallback = Emitter(ring, Sequence(), 20, SOURCE, -1, None, trace=(None, *spec[1:]))
    raising = Emitter(ring, Sequence(), 20, SOURCE, -1, None, trace=(*spec[:3], _raising))
    wrong = Emitter(ring, Sequence(), 20, SOURCE, -1, None, trace=(*spec[:3], _short))
    levels, state = {20: b"INFO"}, [0, b""]

    def run(i: int) -> None:
        span, invalid = _Span(), _Span()
        invalid.invalid = True  # type: ignore[attr-defined]
        for value in (span, invalid):
            token = var.set({"span": value})
            current[0] = value
            for k in range(2):  # a new span, then the same one
                emit("traced", n=i + k)
                classic("traced", n=i + k, odd=[k])
                kept("kept", n=k)
                fallback("fallback", n=k)
            expect(RuntimeError, raising, "m", n=i)
            expect(TypeError, wrong, "m", n=i)
            var.reset(token)
        emit("no span", n=i)
        token = var.set(["not", "a dict"])
        emit("not a context", n=i)
        var.reset(token)
        while (taken := lane.take(1 << 20)) is not None:
            render_lane(taken[0][8:], levels, 4096, state, pickle.loads)
        lane.account()
        records = [r for r in ring if len(r) == 6]
        render_lines(records, levels, {}, lambda o: json.dumps(o).encode(), 4096, state)
        ring.clear()

    return run


def mover_loop() -> Callable[[int], None]:
    """The lane's mover: started on a pipe with frames handed over, records moved and read
    back, a frame submitted, some acknowledged, stopped with the rest handed back (freed)."""
    seq = Sequence()
    names: set[object] = {"n"}
    refused: list[int] = []
    lane = Lane(1 << 16, 100, "block", 0.0, names, (), refused.append)
    emit = Emitter(collections.deque(), seq, 20, SOURCE, -1, None, lane=lane,
                   lane_source=lane.define(pickle.dumps(SOURCE)))  # fmt: skip
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    extra = b"\x05\0\0\0\0\0\0\0hello"

    def run(i: int) -> None:
        lane.start_mover(w, 1, -1, [(0, extra, 1)], 1, 0, 4096, 64, 1 << 20, 0.001)
        for k in range(20):
            emit("m", n=i + k)
        lane.move_now()
        lane.submit(extra, 1)
        got = b""
        while got.count(b"hello") < 1 or lane.mover_stats()[4] < lane.mover_stats()[5] - 1:
            try:
                got += os.read(r, 1 << 20)
            except BlockingIOError:
                time.sleep(0.0001)
        lane.ack(1)
        frames, *_ = lane.stop_mover()
        assert frames[0][0] == 2  # 0 and 1 acknowledged and freed, the rest handed back
        lane.account()
        try:
            while os.read(r, 1 << 20):
                pass
        except BlockingIOError:
            pass

    return run


def render_loop() -> Callable[[int], None]:
    """render_lines with fast and slow records, and scan of the same slice."""
    levels = {20: b"INFO", 40: b"ERROR"}
    messages: dict[object, bytes] = {}

    def dumps(obj: object) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    def run(i: int) -> None:
        records: list[Any] = [
            (i + k, 1_700_000_000 * 10**9 + k, 20, SOURCE, "m", {"k": k}) for k in range(20)
        ]
        records.append((i, 1, 99, SOURCE, "unknown level", {}))  # slow path
        records.append((i, 1, 40, SOURCE, "x" * 300, {"k": object()}))  # dumps raises
        render_lines(records, levels, messages, dumps, 256, [], i % 4)
        scan(records, {"k"}, 10)

    return run


def measure(name: str, run: Callable[[int], None], calls: int) -> bool:
    """Warm up, then run *calls* times; print the growth and whether it is within the slack."""
    for i in range(max(calls // 10, 500)):
        run(i)
    gc.collect()
    traced_before, rss_before, start = tracemalloc.get_traced_memory()[0], rss(), time.monotonic()
    for i in range(calls):
        run(i)
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - traced_before
    grown = rss() - rss_before
    ok = traced <= TRACED_SLACK and grown <= RSS_SLACK
    print(
        f"{name:9} {calls:>8} loops in {time.monotonic() - start:5.1f} s: traced "
        f"{traced:+9d} B, RSS {grown / 2**20:+6.2f} MiB  {'ok' if ok else 'LEAK'}"
    )
    return ok


def main() -> int:
    """Run the loops; exit 1 if one of them leaked."""
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    tracemalloc.start()
    results = [
        measure("callsite", callsite_loop(), calls),
        measure("keep", keep_loop(), calls),
        measure("limits", limits_loop(), calls // 10),
        measure("lane", lane_loop(), calls // 10),
        measure("context", context_loop(), calls // 10),
        measure("trace", trace_loop(), calls // 10),
        measure("mover", mover_loop(), calls // 100),
        measure("render", render_loop(), calls // 10),
    ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
