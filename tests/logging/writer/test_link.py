"""FrameLink: frames numbered, kept until acknowledged, resent whole after a restart."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from hft.logging.writer.link import FrameLink


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    """A pipe (read end, write end), both closed afterwards."""
    read, write = os.pipe()
    yield read, write
    for fd in (read, write):
        with contextlib.suppress(OSError):
            os.close(fd)


def _frame(tag: bytes) -> memoryview:
    return memoryview(tag * 4)


class TestSending:
    def test_frames_go_out_whole_and_in_order(self, pipe: tuple[int, int]) -> None:
        """Queued frames reach the pipe in the order queued, each whole."""
        read, write = pipe
        link = FrameLink()
        link.queue(_frame(b"a"), 1)
        link.queue(_frame(b"b"), 2)
        assert link.push(write)
        assert os.read(read, 100) == b"aaaabbbb"
        assert not link.unsent

    def test_a_closed_pipe_says_the_writer_is_gone(self, pipe: tuple[int, int]) -> None:
        """Writing to a pipe whose reader is gone returns False, the frame still kept."""
        read, write = pipe
        os.close(read)
        link = FrameLink()
        link.queue(_frame(b"a"), 1)
        assert not link.push(write)
        assert link.unacked_frames() == 1


class TestAcknowledgements:
    def test_an_ack_frees_every_frame_up_to_it(self, pipe: tuple[int, int]) -> None:
        """Acknowledging frame 1 frees frames 0 and 1, not 2; their records stay unconfirmed
        until they are counted where they went."""
        _, write = pipe
        link = FrameLink()
        for records in (1, 2, 4):
            link.queue(_frame(b"x"), records)
        link.push(write)
        assert link.acknowledged(1) == (3, 0)
        assert (link.unacked_frames(), link.acked_through) == (1, 1)
        assert link.unconfirmed() == 7
        link.confirmed(3)
        assert link.unconfirmed(queued=5) == 9

    def test_past_the_bound_the_link_says_so(self) -> None:
        """More unacknowledged frames than the bound: over_bound until one is acknowledged."""
        link = FrameLink(max_unacked_frames=2)
        for _ in range(3):
            link.queue(_frame(b"x"), 1)
        assert link.over_bound()
        link.acknowledged(0)
        assert not link.over_bound()


class TestRestart:
    def test_a_new_writer_gets_every_unacknowledged_frame_again(
        self, pipe: tuple[int, int]
    ) -> None:
        """After a restart the unacknowledged frames are sent again from their first byte, and
        the new writer is told which of them its predecessor may have read."""
        read, write = pipe
        link = FrameLink()
        for tag in (b"a", b"b", b"c"):
            link.queue(_frame(tag), 1)
        link.push(write)
        os.read(read, 100)
        link.acknowledged(0)
        link.queue(_frame(b"d"), 1)  # never sent
        assert link.restart_point() == (1, 2)
        link.resend()
        assert link.push(write)
        assert os.read(read, 100) == b"bbbbccccdddd"

    def test_nothing_sent_yet_is_nothing_to_skip(self) -> None:
        """Frames no writer read: the new writer skips none of them (-1)."""
        link = FrameLink()
        link.queue(_frame(b"a"), 1)
        assert link.restart_point() == (0, -1)

    def test_frames_taken_out_leave_the_link_empty(self) -> None:
        """take_all hands over every unacknowledged frame and forgets them."""
        link = FrameLink()
        link.queue(_frame(b"a"), 2)
        link.queue(_frame(b"b"), 3)
        assert [(f.number, f.records) for f in link.take_all()] == [(0, 2), (1, 3)]
        assert (link.unacked_frames(), link.unconfirmed(), link.unsent) == (0, 0, False)
