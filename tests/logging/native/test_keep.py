"""Emitter(keep=True) (native/keep.c): a backtrace's kept record, its fields as two tuples."""

from __future__ import annotations

import gc
import itertools
from collections import deque
from typing import Any

import pytest

from hft.logging import LoggingPipeline
from hft.logging.pipeline import backtrace as backtrace_module
from hft.logging.pipeline.counts import PyCounter
from hft.logging.record import Source, kept_record
from hft.logging.testing import CapturingBackend
from tests.native import native_module

callsite = native_module("hft.logging.native._caller")
SOURCE = Source.create("orders", ("mexc",), {})


def _keeper(maxlen: int = 8, level: int = 10, **kwargs: Any) -> tuple[Any, deque[Any]]:
    ring: deque[Any] = deque(maxlen=maxlen)
    seq = itertools.count().__next__
    return callsite.Emitter(
        ring, seq, level, SOURCE, -1, None, level >= 30, keep=True, **kwargs
    ), ring


class TestKept:
    def test_the_record_holds_the_calls_values_and_names(self) -> None:
        """``(seq, ts, level, source, msg, values, names)``; as a record, the call's fields."""
        keep, ring = _keeper()
        keep("book", symbol="BTCUSDT", bid=1.5, n=3)
        keep("bare")
        first, second = ring
        assert first[:3:2] == (0, 10)
        assert first[3:] == (SOURCE, "book", ("BTCUSDT", 1.5, 3), ("symbol", "bid", "n"))
        assert second[5:] == ((), ())
        assert kept_record(first)[5] == {"symbol": "BTCUSDT", "bid": 1.5, "n": 3, "backtrace": True}

    def test_a_full_ring_drops_its_oldest(self) -> None:
        """The ring's maxlen bounds it: the last records stay."""
        keep, ring = _keeper(maxlen=3)
        for i in range(10):
            keep("k", i=i)
        assert [r[5] for r in ring] == [(7,), (8,), (9,)]

    def test_plain_records_are_untracked_and_others_not(self) -> None:
        """Plain values: the record and its values untracked; an exception kept: tracked."""
        keep, ring = _keeper(level=30)
        keep("plain", n=1)
        try:
            raise ValueError("x")
        except ValueError:
            keep("failed", exc_info=True)
        plain, failed = ring
        assert not gc.is_tracked(plain)
        assert not gc.is_tracked(plain[5])
        assert gc.is_tracked(failed)
        assert failed[5][0][0] is ValueError  # sys.exc_info() at the call

    def test_wrong_calls_raise_and_count(self) -> None:
        """No message: the logging method's TypeError, and the call counted as any."""
        counter = callsite.Counter()
        keep, ring = _keeper(counter=counter)
        with pytest.raises(TypeError, match="one positional argument"):
            keep()
        keep("ok")
        assert (counter.value, len(ring)) == (2, 1)

    def test_keep_takes_no_room_check_no_lane_no_wake(self) -> None:
        """A keeper with a capacity (or a wake) is refused at construction."""
        with pytest.raises(TypeError, match="keep=True"):
            callsite.Emitter(
                deque(), itertools.count().__next__, 10, SOURCE, 5, list.append, keep=True
            )
        keep, _ = _keeper()
        assert repr(keep) == "<hft call site level=10 kept>"


class TestTwin:
    def test_the_python_twin_keeps_the_same_records(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """``Backtrace.keeper`` in C and in Python: the same records, times aside."""
        rings = []
        for emitter in (callsite.Emitter, None):
            monkeypatch.setattr(backtrace_module, "Emitter", emitter)
            monkeypatch.setattr(
                backtrace_module, "new_counter", callsite.Counter if emitter else PyCounter
            )
            pipeline = LoggingPipeline([CapturingBackend(40)], backtrace=10)
            assert pipeline.backtrace is not None
            keep = pipeline.backtrace.keeper(pipeline, 10, SOURCE, counted=False)
            keep("book", symbol="BTCUSDT", bid=1.5, n=3)
            keep("bare")
            rings.append([(r[0], *r[2:]) for r in pipeline.backtrace.ring])
            pipeline.close()
        assert rings[0] == rings[1]
