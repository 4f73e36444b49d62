"""The limiter and its sites, C and pure Python alike: counts, summaries, sweep, budgets."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import pytest

from hft.logging.native import Limiter, LimitSites
from hft.logging.pipeline.counts import PyCounter, new_counter
from hft.logging.pipeline.limits import Limits, _PyLimiter, _PyLimitSites, budget

KINDS: list[Any] = [_PyLimiter] + ([Limiter] if Limiter is not None else [])
SITES: list[Any] = [_PyLimitSites] + ([LimitSites] if LimitSites is not None else [])
HOUR_NS = 3600 * 10**9


class Rig:
    """A limiter of *kind* with what it lets through, reports and queues, kept here."""

    def __init__(self, kind: Any, per: int, interval_ns: int = HOUR_NS) -> None:
        self.through: list[tuple[str, dict[str, Any]]] = []
        self.reports: list[Any] = []
        self.queue: deque[Any] = deque()
        self.counter = PyCounter() if kind is _PyLimiter else new_counter()  # each its own kind
        self.limiter = kind(self.emit, per, interval_ns, self.reports.append, self.queue.append)
        self.limiter.retarget(self.emit, self.counter)

    def emit(self, msg: str, /, **fields: Any) -> None:
        self.through.append((msg, fields))


@pytest.mark.parametrize("kind", KINDS)
class TestLimiter:
    def test_lets_per_through_and_holds_the_rest_counted(self, kind: Any) -> None:
        """per calls reach the target; the rest are counted, held, and queued once."""
        rig = Rig(kind, 3)
        for i in range(10):
            rig.limiter("m", i=i)
        assert rig.through == [("m", {"i": 0}), ("m", {"i": 1}), ("m", {"i": 2})]
        assert (rig.limiter.held, rig.limiter.held_total, rig.counter.value) == (7, 7, 7)
        assert list(rig.queue) == [rig.limiter]

    def test_sweep_reports_first_and_last_held(self, kind: Any) -> None:
        """A forced sweep reports (held, first, names, last, names) once, then holds nothing."""
        rig = Rig(kind, 1)
        rig.limiter("a", i=0)
        rig.limiter("b", i=1, s="x")
        rig.limiter("c")
        assert rig.limiter.sweep(False) is True  # the window is open: kept
        assert rig.reports == []
        assert rig.limiter.sweep(True) is False
        assert rig.reports == [(2, ("b", 1, "x"), ("i", "s"), ("c",), None)]
        assert rig.limiter.sweep(True) is False
        assert len(rig.reports) == 1

    def test_one_held_call_is_both_first_and_last(self, kind: Any) -> None:
        """With one call held, the summary's first and last are that call."""
        rig = Rig(kind, 1)
        rig.limiter("a")
        rig.limiter("b", n=2)
        rig.limiter.sweep(True)
        assert rig.reports == [(1, ("b", 2), ("n",), ("b", 2), ("n",))]

    def test_a_new_window_reports_the_last_before_letting_through(self, kind: Any) -> None:
        """The call that opens a window reports the ended one first, then goes through."""
        order: list[str] = []
        limiter = kind(
            lambda msg, **_: order.append(msg),
            1,
            50_000_000,  # 50 ms: "b" comes within it, "c" after it
            lambda summary: order.append(f"held {summary[0]}"),
            lambda _: None,
        )
        limiter("a")
        limiter("b")
        time.sleep(0.1)
        limiter("c")
        assert order == ["a", "held 1", "c"]

    def test_threads_let_through_plus_held_equal_calls(self, kind: Any) -> None:
        """8 threads on one limiter: every call is let through or held, exactly once."""
        rig = Rig(kind, 100, interval_ns=200_000)  # many windows end during the run
        summaries: list[Any] = []
        rig.limiter = kind(rig.emit, 100, 200_000, summaries.append, rig.queue.append)

        def storm() -> None:
            for i in range(5000):
                rig.limiter("m", i=i)

        threads = [threading.Thread(target=storm) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rig.limiter.sweep(True)
        assert len(rig.through) + sum(s[0] for s in summaries) == 40_000
        assert rig.limiter.held_total == sum(s[0] for s in summaries)

    def test_a_held_call_takes_one_message(self, kind: Any) -> None:
        """A held call with no message or two is a TypeError, as a logging method's is."""
        rig = Rig(kind, 1)
        rig.limiter("a")
        with pytest.raises(TypeError):
            rig.limiter()
        with pytest.raises(TypeError):
            rig.limiter("a", "b")


@pytest.mark.parametrize("kind", SITES)
class TestLimitSites:
    def test_one_object_per_place_and_arguments(self, kind: Any) -> None:
        """The same place and arguments give one object; another place, another one."""
        sites = kind(lambda *a, **k: object())
        loop = [sites(per_s=5) for _ in range(3)]
        other = sites(per_s=5)
        assert loop[0] is loop[1] is loop[2]
        assert other is not loop[0]
        assert sites(5) is not sites(per_s=5)
        assert len(sites.made()) == 4

    def test_unhashable_arguments_go_to_the_factory_uncached(self, kind: Any) -> None:
        """An argument that cannot be a key is the factory's to judge, and is not kept."""
        sites = kind(lambda *a, **k: len(a))
        assert sites([1]) == 1
        assert sites.made() == []


class FakeHost:
    """What Limits reads of a pipeline (only record_counter here: no summary is written)."""

    rings: Any = None

    def record_counter(self, name: str, level: int) -> Any:
        return new_counter()


class TestLimits:
    def test_the_longest_dotted_prefix_wins(self) -> None:
        """A logger takes its longest prefix's limit; "" covers every other logger."""
        limits = Limits(FakeHost(), {"": (1000, 1), "exchange.mexc": (10, 2), "ex": (5, 1)})
        assert limits.for_logger("exchange.mexc.book") == (20, 2 * 10**9)
        assert limits.for_logger("exchange.mexcx") == (1000, 10**9)
        assert limits.for_logger("ex.a") == (5, 10**9)
        assert Limits(FakeHost(), {"a": (1, 1)}).for_logger("b") is None

    @pytest.mark.parametrize(
        ("per_s", "interval_s", "per"), [(10, 1, 10), (0.5, 2, 1), (2.5, 2, 5), (100, 0.01, 1)]
    )
    def test_budget_is_per_s_times_interval(
        self, per_s: float, interval_s: float, per: int
    ) -> None:
        """A window lets per_s x interval_s records through, rounded down."""
        assert budget(per_s, interval_s) == (per, round(interval_s * 1e9))

    @pytest.mark.parametrize(("per_s", "interval_s"), [(0.5, 1), (10, 0), (10, 3601), (0, 1)])
    def test_a_budget_of_nothing_is_refused(self, per_s: float, interval_s: float) -> None:
        """No record a window, no window, or one past an hour: ValueError."""
        with pytest.raises(ValueError, match="rate limit"):
            budget(per_s, interval_s)
