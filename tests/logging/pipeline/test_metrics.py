"""CallSamples: each timed call reaches the window and the histogram once, in its bucket."""

from __future__ import annotations

import threading

from hft.logging.pipeline.metrics import CALL_BUCKETS_NS, CallSamples


class TestCallSamples:
    def test_each_sample_lands_once_in_its_bucket(self) -> None:
        """A sample on a bound counts in its bucket, one past it in the next, a huge one in +Inf."""
        samples = CallSamples()
        samples.fresh.extend([100, 101, 1_000, 20_000_000])
        samples.take()
        samples.take()  # nothing fresh: nothing counted twice
        histogram = samples.histogram()
        assert histogram.counts[0] == 1  # le 100 ns
        assert histogram.counts[1] == 1  # 101 ns: le 250 ns
        assert histogram.counts[CALL_BUCKETS_NS.index(1_000)] == 1
        assert histogram.counts[-1] == 1  # above 10 ms
        assert histogram.count == 4
        assert histogram.sum_s == (100 + 101 + 1_000 + 20_000_000) / 1e9
        assert histogram.bounds_s[0] == 1e-7
        assert samples.recent() == [100, 101, 1_000, 20_000_000]

    def test_samples_not_yet_taken_are_in_the_window_figures(self) -> None:
        """recent() holds the moved and the fresh samples, each once."""
        samples = CallSamples()
        samples.fresh.extend([1, 2])
        samples.take()
        samples.fresh.append(3)
        assert samples.recent() == [1, 2, 3]
        assert samples.histogram().count == 2

    def test_appends_while_taking_are_all_counted(self) -> None:
        """Call sites appending while the dispatcher moves lose and double nothing."""
        samples = CallSamples()
        n = 20_000

        def calls() -> None:
            for i in range(n):
                samples.fresh.append(i)

        site = threading.Thread(target=calls)
        site.start()
        while site.is_alive():
            samples.take()
        site.join()
        samples.take()
        assert samples.histogram().count == n
        assert samples.histogram().sum_s == sum(range(n)) / 1e9
