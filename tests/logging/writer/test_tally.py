"""WriterTally: only acknowledged records count, each sink's counts survive its writer."""

from __future__ import annotations

from hft.logging.writer.tally import WriterTally
from hft.logging.writer.wire import STATES


class TestAcknowledged:
    def test_counts_come_from_the_writer(self) -> None:
        """An acknowledgement adds what the writer says became of the records, and its state."""
        tally = WriterTally(("file",))
        tally.acknowledged(10, (7, 2, 1), STATES.index("retrying"))
        assert (tally.written, tally.failed_over, tally.lost, tally.state) == (7, 2, 1, "retrying")

    def test_records_the_writer_could_not_read_are_lost(self) -> None:
        """Records acknowledged but not accounted for by the writer count as lost."""
        tally = WriterTally(("file",))
        tally.acknowledged(10, (6, 0, 0), 0)
        assert (tally.written, tally.lost) == (6, 4)


class TestSinkStats:
    def test_a_gone_writers_counts_stay(self) -> None:
        """A writer's last report stays when it is gone; the next one's adds to it."""
        tally = WriterTally(("file", "console"))
        tally.reported({"file": {"written": 5, "pending": 2}, "console": {"written": 3}})
        tally.writer_gone()
        tally.reported({"file": {"written": 1}})
        file, console = tally.sink_stats(0, {}, {})
        assert (file.written, file.pending, console.written) == (6, 0, 3)

    def test_unconfirmed_records_are_pending_in_the_lossless_sink(self) -> None:
        """Records on their way count as pending (and routed) in the file, not the console."""
        tally = WriterTally(("file", "console"))
        file, console = tally.sink_stats(4, {}, {})
        assert (file.pending, file.routed, console.pending) == (4, 4, 0)

    def test_what_this_process_did_goes_with_the_first_sink(self) -> None:
        """Records failed over or lost in this process count in the first sink's figures."""
        tally = WriterTally(("file", "console"))
        tally.counted_here(written=3, failed_over=2, lost=1)
        file, console = tally.sink_stats(0, {}, {"writer_restarts": 1.0})
        assert (file.failed_over, file.lost, file.routed) == (2, 1, 3)
        assert file.extra["writer_restarts"] == 1.0
        assert (console.failed_over, console.lost) == (0, 0)
        assert (tally.written, tally.failed_over, tally.lost) == (3, 2, 1)
