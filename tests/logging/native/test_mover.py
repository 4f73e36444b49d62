"""The lane's native mover (``native/mover.c``): lane records as frames on a pipe, never the GIL."""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import signal
import struct
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from hft.logging import HFTLogger, LoggingPipeline, create_backend_from_config
from hft.logging.pipeline import lanes
from hft.logging.pipeline.dispatcher import IDLE_POLL_S
from hft.logging.record import Source
from hft.logging.writer.wire import FrameEncoder
from tests.logging.test_failover import wait_until
from tests.native import native_module

caller = native_module("hft.logging.native._caller")
writer = native_module("hft.logging.native._writer")
SOURCE = Source.create("orders", ("mexc",), {})
_HEADER = struct.Struct("<Q")


def _lane(max_records: int = 100_000, policy: str = "block") -> Any:
    names = {"i", "px"}
    return caller.Lane(1 << 20, max_records, policy, 1.0, names, (), [].append, None, -1)


def _emitter(lane: Any, seqs: Any) -> Any:
    source_id = lane.define(FrameEncoder(4096).pickle_source(SOURCE))
    return caller.Emitter(deque(), seqs, 20, SOURCE, -1, None, lane=lane, lane_source=source_id)


def _start(lane: Any, fd: int, *, frames: list[Any] | None = None, **kw: Any) -> None:
    """Start *lane*'s mover on *fd* (next frame 0 unless frames are handed over)."""
    given = frames or []
    lane.start_mover(
        fd, kw.get("next_number", len(given)), kw.get("sent_through", -1), given,
        kw.get("unsent_from", 0), kw.get("offset", 0), kw.get("frame_bytes", 1 << 16),
        kw.get("max_frames", 1024), kw.get("max_bytes", 32 << 20), kw.get("poll_s", 0.001),
    )  # fmt: skip


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    """A pipe whose write end is non-blocking, as the writer's stdin is."""
    r, w = os.pipe()
    os.set_blocking(w, False)
    yield r, w
    for fd in (r, w):
        with contextlib.suppress(OSError):
            os.close(fd)


def _frames(data: bytes) -> list[bytes]:
    """Split a pipe's bytes into frames (header included); the bytes end on a frame's end."""
    frames, pos = [], 0
    while pos < len(data):
        size = _HEADER.unpack_from(data, pos)[0]
        frames.append(data[pos : pos + 8 + size])
        pos += 8 + size
    assert pos == len(data)
    return frames


def _records(frames: list[bytes]) -> list[Any]:
    return [r for f in frames for r in writer.unpack_lane(f[8:], pickle.loads)]


def _read_bytes(fd: int, size: int) -> bytes:
    """Read *size* bytes from *fd* (fails the test if they never come)."""
    data = b""
    deadline = time.monotonic() + 30
    os.set_blocking(fd, False)
    while len(data) < size:
        try:
            data += os.read(fd, size - len(data))
        except BlockingIOError:
            time.sleep(0.001)
        assert time.monotonic() < deadline, f"{len(data)} of {size} bytes came"
    return data


def _read_records(fd: int, count: int) -> tuple[bytes, list[Any]]:
    """Read *fd* until it holds *count* records (fails the test if they never come)."""
    data = b""
    deadline = time.monotonic() + 30
    os.set_blocking(fd, False)
    while True:
        try:
            data += os.read(fd, 1 << 20)
        except BlockingIOError:
            time.sleep(0.001)
        try:
            got = _records(_frames(data))
        except (struct.error, AssertionError, ValueError):
            got = []  # a frame cut short: read on
        if len(got) >= count:
            return data, got
        assert time.monotonic() < deadline, f"{len(got)} of {count} records came"


class TestMover:
    def test_moves_every_record_to_the_pipe_in_order(self, pipe: tuple[int, int]) -> None:
        """Records pushed while the mover runs reach the pipe once each, in order, in frames
        numbered from the start; an acknowledgement frees them all."""
        r, w = pipe
        lane = _lane()
        emit = _emitter(lane, caller.Sequence())
        _start(lane, w)
        for i in range(5000):
            emit("m", i=i, px=0.5)
        data, got = _read_records(r, 5000)
        assert [rec[0] for rec in got] == list(range(5000))
        assert [rec[5]["i"] for rec in got] == list(range(5000))
        frames = _frames(data)
        running, unacked, records, size, sent, next_number, error, moved, _ = lane.mover_stats()
        assert (running, unacked, records, size) == (1, len(frames), 5000, len(data))
        assert (sent, next_number, error, moved) == (len(frames) - 1, len(frames), 0, len(frames))
        assert lane.ack(len(frames) - 1) == 5000
        assert lane.mover_stats()[1:4] == (0, 0, 0)
        assert lane.stop_mover() == ([], 0, 0, len(frames) - 1, len(frames), 0)
        assert lane.mover_stats()[0] == 0

    def test_a_stop_hands_back_what_the_next_start_resends(self, pipe: tuple[int, int]) -> None:
        """Stopped mid-stream, the mover hands back its unacknowledged frames, numbered, with
        how much of them reached the pipe; started again on a new pipe with them, it writes the
        rest: the bytes of both pipes together are every frame once, whole, in order."""
        r, w = pipe
        lane = _lane()
        emit = _emitter(lane, caller.Sequence())
        made = FrameEncoder(4096)([(10**9, 1, 20, SOURCE, "classic", {"x": 1})])
        _start(lane, w, max_frames=10**6, frame_bytes=4096)
        lane.submit(made, 1)
        for i in range(20_000):  # more than the pipe holds: the mover is stopped mid-frame
            emit("m", i=i, px=0.5)
        lane.move_now()
        wait_until(lambda: lane.mover_stats()[4] >= 1)
        time.sleep(0.05)
        frames, unsent_from, offset, sent, next_number, error = lane.stop_mover()
        assert error == 0
        assert [f[0] for f in frames] == list(range(len(frames)))
        assert next_number == len(frames)
        assert sent < next_number
        assert sum(f[2] for f in frames) == 20_001
        assert frames[0][1] == bytes(made)
        first = os.read(r, 1 << 24)
        whole = b"".join(f[1] for f in frames)
        assert first == whole[: len(first)]
        assert len(first) == sum(len(f[1]) for f in frames[:unsent_from]) + offset
        r2, w2 = os.pipe()
        os.set_blocking(w2, False)
        try:
            _start(lane, w2, frames=frames, unsent_from=unsent_from, offset=offset)
            rest = _read_bytes(r2, len(whole) - len(first))
            assert first + rest == whole
            lane.stop_mover()
        finally:
            os.close(r2)
            os.close(w2)

    def test_past_the_bound_it_stops_taking(self, pipe: tuple[int, int]) -> None:
        """With max_frames unacknowledged the mover takes no more: records wait in the lane
        (where the overflow policy applies), and an acknowledgement lets it go on."""
        _r, w = pipe
        lane = _lane()
        emit = _emitter(lane, caller.Sequence())
        _start(lane, w, max_frames=2, frame_bytes=256)
        for i in range(200):
            emit("m", i=i, px=0.5)
        wait_until(lambda: lane.mover_stats()[1] == 2)
        time.sleep(0.05)  # it had time to take more, and did not
        assert lane.mover_stats()[1] == 2
        taken, _ = lane.account()  # pending: waiting, and taken but not yet accounted
        assert lane.pending == 200 - taken > 0
        assert taken == lane.mover_stats()[2]
        lane.ack(1)
        wait_until(lambda: lane.mover_stats()[5] > 2)  # frames 2 and on were made
        lane.stop_mover()

    def test_a_closed_pipe_is_an_error_and_nothing_is_lost(self, pipe: tuple[int, int]) -> None:
        """The reader gone (a dead writer): the write error is kept for the backend to see, and
        every record is either handed back in a frame or still in the lane."""
        r, w = pipe
        os.close(r)
        lane = _lane()
        emit = _emitter(lane, caller.Sequence())
        _start(lane, w)
        for i in range(3000):
            emit("m", i=i, px=0.5)
        lane.move_now()
        wait_until(lambda: lane.mover_stats()[6] != 0)
        frames, *_, error = lane.stop_mover()
        assert error == errno.EPIPE
        handed_back = _records([f[1] for f in frames])
        taken, _ = lane.account()
        assert taken == len(handed_back)
        assert len(handed_back) + lane.pending == 3000

    def test_one_mover_at_a_time_and_no_submit_without_one(self, pipe: tuple[int, int]) -> None:
        """A second start is refused; frames cannot be submitted, nor records moved, while no
        mover runs; take() leaves the lane to a running mover."""
        _, w = pipe
        lane = _lane()
        emit = _emitter(lane, caller.Sequence())
        with pytest.raises(RuntimeError):
            lane.submit(b"x", 1)
        with pytest.raises(RuntimeError):
            lane.move_now()
        _start(lane, w, poll_s=10.0)
        with pytest.raises(RuntimeError):
            _start(lane, w)
        emit("m", i=1, px=0.5)
        assert lane.take(1 << 20) is None
        lane.stop_mover()


class TestIdle:
    def test_a_ring_record_wakes_an_idle_dispatcher_a_lane_record_does_not(self) -> None:
        """With the Sequence's idle flag set, the first record onto a ring clears it and calls
        wake; a record that goes to the lane leaves both alone."""
        woken: list[int] = []
        seqs = caller.Sequence()
        lane = _lane()
        source_id = lane.define(FrameEncoder(4096).pickle_source(SOURCE))
        ring: deque[Any] = deque()
        emit = caller.Emitter(
            ring, seqs, 20, SOURCE, -1, None, False, lambda: woken.append(1), -1, lane, source_id
        )
        seqs.idle = 1
        emit("m", i=1, px=0.5)  # plain: the lane
        assert (seqs.idle, woken, len(ring)) == (1, [], 0)
        emit("m", i=1, other=[1])  # a list: the ring
        assert (seqs.idle, woken, len(ring)) == (0, [1], 1)
        emit("m", i=1, other=[1])
        assert woken == [1]  # not idle: no wake (below wake_at)

    def test_a_caller_blocked_on_a_full_lane_keeps_waking_the_dispatcher(self) -> None:
        """Under block, a caller waiting for room calls wake again while it waits (not once):
        an idle dispatcher may be asleep, and a mover at its bound waits for the acks it
        reads. The record is refused once block_timeout_s is over, and counted."""
        woken: list[int] = []
        refused: list[int] = []
        lane = caller.Lane(
            1 << 16, 4, "block", 0.05, {"i"}, (), refused.append, lambda: woken.append(1), -1
        )
        emit = _emitter(lane, caller.Sequence())
        for i in range(5):
            emit("m", i=i)
        assert refused == [4]
        assert len(woken) >= 2


@pytest.mark.skipif(lanes.Lane is None, reason="the C paths are off (HFT_PURE_PYTHON=1)")
class TestWithTheWriter:
    def test_an_idle_pipeline_is_woken_by_a_classic_record_and_a_metric(
        self, tmp_path: Path
    ) -> None:
        """A running pipeline whose lane the mover drains goes idle; a record for the ring
        (a field holding a list) or a metric sample wakes it, and flush() delivers everything."""
        path = tmp_path / "hft.log"
        backend = create_backend_from_config("file", {"file_path": str(path), "rotation": "none"})
        pipeline = LoggingPipeline([backend]).start()
        logger = HFTLogger(pipeline, "x")
        seqs: Any = pipeline.next_seq
        for i in range(1000):
            logger.info("m", i=i)
        wait_until(lambda: seqs.idle == 1)
        assert pipeline._lane is not None
        assert pipeline._lane.moving
        logger.info("odd", i=-1, legs=[1])  # a list: not plain, the classic path
        assert seqs.idle == 0
        wait_until(lambda: seqs.idle == 1)
        logger.metric("latency_us", 1.5)
        assert seqs.idle == 0
        assert pipeline.flush()
        pipeline.close()
        lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
        assert sorted(x["fields"]["i"] for x in lines if x["logger"] == "x") == list(
            range(-1, 1000)
        )
        assert pipeline.poll_s < IDLE_POLL_S

    def test_unacknowledged_records_are_pending_not_written(self, tmp_path: Path) -> None:
        """While the writer is stopped, what the mover took and wrote is pending, not written;
        once it runs again, flush() sees it all acknowledged and written."""
        backend = create_backend_from_config("file", {"file_path": str(tmp_path / "hft.log")})
        pipeline = LoggingPipeline([backend]).start()
        logger = HFTLogger(pipeline, "x")
        logger.info("m", i=-1)
        assert pipeline.flush()
        before = pipeline.metrics().backends["file"]
        pid = backend.writer_pid  # type: ignore[attr-defined]
        os.kill(pid, signal.SIGSTOP)
        try:
            for i in range(1000):
                logger.info("m", i=i)
            lane = pipeline._lane
            assert lane is not None
            # all taken by the mover, and counted by the dispatcher (its next wake)
            wait_until(lambda: lane.lane.pending == 0 and lane.lane.mover_stats()[8] == 0)
            stats = pipeline.metrics().backends["file"]
            assert stats.written == before.written
            assert stats.pending >= 1000
        finally:
            os.kill(pid, signal.SIGCONT)
        assert pipeline.flush()
        after = pipeline.metrics().backends["file"]
        assert (after.pending, after.written - before.written) == (0, 1000)
        pipeline.close()

    def test_the_mover_stops_with_the_dispatcher(self, tmp_path: Path) -> None:
        """stop() leaves no mover running (nobody would read the writer's acknowledgements),
        and records logged before it are all in the file."""
        path = tmp_path / "hft.log"
        backend = create_backend_from_config("file", {"file_path": str(path)})
        pipeline = LoggingPipeline([backend]).start()
        logger = HFTLogger(pipeline, "x")
        for i in range(2000):
            logger.info("m", i=i)
        lane = pipeline._lane
        assert lane is not None
        wait_until(lambda: lane.moving)
        pipeline.stop()
        assert not lane.moving
        pipeline.close()
        mine = [x for x in path.read_bytes().splitlines() if b'"logger":"x"' in x]
        assert len(mine) == 2000
