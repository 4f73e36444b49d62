"""hft.logging.native._caller.Emitter: the C call site builds the Python record, GC-untracked."""

from __future__ import annotations

import gc
import itertools
import os
import sys
import time
import weakref
from collections import deque
from typing import Any

import pytest

from hft.logging import HFTLogger, LoggingPipeline
from hft.logging.record import Source
from hft.logging.testing import CapturingBackend
from tests.native import native_module

callsite = native_module("hft.logging.native._caller")
SOURCE = Source.create("orders", ("mexc",), {})


class _Probe:
    """Something to hold a weak reference to."""


def _fail_into(emit: Any, holder: Any) -> None:
    """Log an exception whose traceback's frame holds *holder*."""
    try:
        raise ValueError("x")
    except ValueError as exc:
        emit("failed", exc_info=exc)


def _emitter(capacity: int = -1, full: Any = None) -> tuple[Any, deque[Any]]:
    ring: deque[Any] = deque()
    emit = callsite.Emitter(ring, itertools.count().__next__, 20, SOURCE, capacity, full)
    return emit, ring


class TestRecord:
    def test_builds_the_closure_record(self) -> None:
        """(seq, time_ns, level, source, msg, fields), seq counting up, time from the wall clock."""
        emit, ring = _emitter()
        before = time.time_ns()
        emit("order placed", symbol="BTCUSDT", price=123.45)
        emit("no fields")
        emit("splat", qty=0.5)
        after = time.time_ns()
        assert [r[0] for r in ring] == [0, 1, 2]
        assert all(before <= r[1] <= after for r in ring)
        assert ring[0][2:] == (20, SOURCE, "order placed", {"symbol": "BTCUSDT", "price": 123.45})
        assert ring[1][5] == {}
        assert ring[2][5] == {"qty": 0.5}

    def test_plain_records_are_untracked_by_the_garbage_collector(self) -> None:
        """A record of plain values waiting in the ring costs full collections nothing."""
        emit, ring = _emitter()
        gc.collect()  # the source's tags tuple is untracked at its first collection
        emit("m", price=1.5, symbol="BTCUSDT", ok=True, n=None)
        assert not gc.is_tracked(ring[0])

    def test_records_that_could_be_in_a_cycle_stay_tracked(self) -> None:
        """A container in the fields (a traceback, a list) or as the message: still tracked,
        so a cycle through it (exc_info -> frame -> logger -> ring) is still collected."""
        emit, ring = _emitter()
        gc.collect()
        emit("m", book=[1, 2])
        emit(["not", "a", "str"])
        try:
            raise ValueError("x")
        except ValueError as exc:
            emit("failed", exc_info=exc)
        assert all(gc.is_tracked(record) for record in ring)

    def test_a_cycle_through_an_abandoned_ring_is_collected(self) -> None:
        """A ring that holds a record whose traceback leads back to the ring is freed by GC."""
        ring: deque[Any] = deque()
        emit = callsite.Emitter(ring, itertools.count().__next__, 40, SOURCE, -1, None)
        probe = _Probe()

        _fail_into(emit, (ring, probe))  # the traceback's frame holds the ring: a cycle
        alive = weakref.ref(probe)
        del ring, emit, probe
        gc.collect()
        assert alive() is None

    def test_positional_arguments_other_than_the_message_are_refused(self) -> None:
        """No message, or more than one positional argument: TypeError, nothing queued."""
        emit, ring = _emitter()
        with pytest.raises(TypeError, match="one positional argument"):
            emit()
        with pytest.raises(TypeError, match="one positional argument"):
            emit("a", "b")
        assert not ring


class TestExcInfo:
    def test_exc_info_true_is_captured_at_the_call(self) -> None:
        """With exc=True, exc_info=True becomes sys.exc_info() of the exception being handled."""
        ring: deque[Any] = deque()
        emit = callsite.Emitter(ring, itertools.count().__next__, 40, SOURCE, -1, None, True)
        try:
            raise ValueError("bad fill")
        except ValueError as exc:
            caught = exc
            emit("failed", exc_info=True)
        emit("outside", exc_info=True)
        emit("as given", exc_info=caught)
        info = ring[0][5]["exc_info"]
        assert info[0] is ValueError
        assert info[1] is caught
        assert info[2] is caught.__traceback__
        assert ring[1][5]["exc_info"] == (None, None, None)
        assert ring[2][5]["exc_info"] is caught

    def test_without_exc_the_flag_is_kept_as_given(self) -> None:
        """Levels below WARNING (exc=False) leave exc_info=True alone, as the closure did."""
        emit, ring = _emitter()
        try:
            raise ValueError("x")
        except ValueError:
            emit("m", exc_info=True)
        assert ring[0][5] == {"exc_info": True}


class TestRoom:
    def test_full_ring_calls_full_with_the_record(self) -> None:
        """At capacity the record goes to ``full`` (wait or refuse), not into the ring."""
        refused: list[Any] = []
        emit, ring = _emitter(capacity=2, full=refused.append)
        for i in range(4):
            emit("m", i=i)
        assert [r[5]["i"] for r in ring] == [0, 1]
        assert [r[5]["i"] for r in refused] == [2, 3]

    def test_capacity_is_writable_and_zero_sends_every_call_to_full(self) -> None:
        """Setting ``capacity`` to 0 (a failing audit trail) routes each call to ``full``;
        putting it back restores the fast path."""
        slow: list[Any] = []
        emit, ring = _emitter(capacity=100, full=slow.append)
        emit("m", i=0)
        emit.capacity = 0
        emit("m", i=1)
        emit.capacity = 100
        emit("m", i=2)
        assert [r[5]["i"] for r in ring] == [0, 2]
        assert [r[5]["i"] for r in slow] == [1]

    def test_weakly_referenced(self) -> None:
        """The audit slot tracks call sites weakly: a dropped Emitter is freed."""
        emit, _ = _emitter()
        ref = weakref.ref(emit)
        del emit
        gc.collect()
        assert ref() is None

    def test_errors_propagate(self) -> None:
        """An exception from ``full`` reaches the caller (as from the Python closure)."""

        def boom(record: Any) -> None:
            raise RuntimeError("no room")

        emit, _ = _emitter(capacity=0, full=boom)
        with pytest.raises(RuntimeError, match="no room"):
            emit("m")


class TestCounter:
    def test_every_call_is_counted_first_even_a_refused_one(self) -> None:
        """Each call adds one to its Counter, before its record is built: a call whose record
        the ring refuses, or with a wrong argument count, is counted all the same."""
        counter, refused = callsite.Counter(), list[Any]()
        ring: deque[Any] = deque()
        emit = callsite.Emitter(
            ring, itertools.count().__next__, 20, SOURCE, 1, refused.append, counter=counter
        )
        emit("kept")
        emit("refused", i=1)
        with pytest.raises(TypeError):
            emit()
        assert (counter.value, len(ring), len(refused)) == (3, 1, 1)

    def test_call_sites_of_one_logger_and_level_share_a_counter(self) -> None:
        """Two call sites given one Counter add to it both; a timed call is counted once."""
        counter = callsite.Counter()
        a, _ = _emitter()
        sites = [
            callsite.Emitter(deque(), itertools.count().__next__, 20, SOURCE, -1, None,
                             counter=counter, samples=deque())
            for _ in range(2)
        ]  # fmt: skip
        sites[0].sample = 1
        for _ in range(5):
            for site in sites:
                site("m")
        a("not counted here")
        assert counter.value == 10

    def test_count_only_site_counts_and_does_nothing_else(self) -> None:
        """``ring=None``: any arguments are taken, the call is counted, nothing is built."""
        counter, seqs = callsite.Counter(), itertools.count()
        site = callsite.Emitter(None, seqs.__next__, 10, SOURCE, -1, None, counter=counter)
        site()
        site("m", 1, 2, book=[1, 2])
        assert counter.value == 2
        assert next(seqs) == 0  # no sequence number taken
        assert repr(site) == "<hft call site level=10 count-only>"

    def test_an_armed_count_only_site_times_one_call(self) -> None:
        """Armed, a count-only call site times its next call into samples, as a method does."""
        counter, samples = callsite.Counter(), deque[int]()
        site = callsite.Emitter(None, itertools.count().__next__, 10, SOURCE, -1, None,
                                samples=samples, counter=counter)  # fmt: skip
        site.sample = 1
        site("timed")
        site("not timed")
        assert (counter.value, len(samples), site.sample) == (2, 1, 0)
        assert samples[0] >= 0

    def test_count_only_needs_a_counter_and_a_counter_is_a_counter(self) -> None:
        """No counter for a count-only site, or something else as the counter: TypeError."""
        with pytest.raises(TypeError, match="needs a counter"):
            callsite.Emitter(None, itertools.count().__next__, 10, SOURCE, -1, None)
        with pytest.raises(TypeError, match="must be a Counter"):
            callsite.Emitter(deque(), itertools.count().__next__, 10, SOURCE, -1, None, counter=1)

    def test_value_is_read_only_and_outlives_its_call_sites(self) -> None:
        """Only call sites add; the Counter lives on (and keeps its count) after they are gone."""
        counter = callsite.Counter()
        site = callsite.Emitter(None, itertools.count().__next__, 10, SOURCE, -1, None,
                                counter=counter)  # fmt: skip
        site("m")
        with pytest.raises(AttributeError):
            counter.value = 5
        del site
        gc.collect()
        assert counter.value == 1
        assert repr(counter) == "<hft call counter value=1>"


class TestWired:
    def test_loggers_use_it_when_built(self) -> None:
        """Logging methods and audit are C call sites (unless HFT_PURE_PYTHON=1 says not)."""
        pipeline = LoggingPipeline([CapturingBackend()])
        logger = HFTLogger(pipeline, "x")
        native = os.environ.get("HFT_PURE_PYTHON") != "1"
        assert isinstance(logger.info, callsite.Emitter) is native
        assert isinstance(logger.error, callsite.Emitter) is native
        assert isinstance(logger.audit, callsite.Emitter) is native
        pipeline.close()


class TestType:
    def test_a_heap_type_of_its_module_that_cannot_change(self) -> None:
        """Emitter is a heap type (of native._caller's module state), immutable and final as
        the static type was; level and source are read-only."""
        assert callsite.Emitter.__flags__ & (1 << 9)  # Py_TPFLAGS_HEAPTYPE
        assert callsite.Emitter.__module__ == "hft.logging.native._caller"
        with pytest.raises(TypeError, match="immutable"):
            callsite.Emitter.level = 30
        with pytest.raises(TypeError, match="not an acceptable base type"):
            type("Sub", (callsite.Emitter,), {})
        emit, _ = _emitter()
        for name in ("level", "source"):
            with pytest.raises(AttributeError):
                setattr(emit, name, None)
        assert (emit.level, emit.source) == (20, SOURCE)


class TestNop:
    def test_nop_takes_anything_and_returns_none(self) -> None:
        """The disabled level's builtin accepts any arguments and does nothing with them."""
        values: list[Any] = []
        assert callsite.nop() is None
        assert callsite.nop("m", 1, 2, a=values, b=object()) is None
        assert values == []

    def test_a_disabled_level_is_the_builtin(self) -> None:
        """With the C call site built, ``hft.logging.nop`` is the builtin (no Python frame)."""
        from hft.logging import nop

        assert nop is callsite.nop or os.environ.get("HFT_PURE_PYTHON") == "1"


def test_a_failed_trace_setup_leaks_nothing() -> None:
    """An Emitter whose trace reader cannot be set up raises and lets go of everything it took
    (the ring's bound ``append`` included)."""
    ring: deque[Any] = deque()
    before = sys.getrefcount(ring)
    for _ in range(1000):
        with pytest.raises(TypeError):
            callsite.Emitter(ring, itertools.count().__next__, 20, SOURCE, -1, None, trace=("bad",))
    assert sys.getrefcount(ring) - before < 10
