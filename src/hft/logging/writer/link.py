"""The frames in flight to the writer process: kept until acknowledged, resent after a restart.

Every frame is numbered and kept (:class:`FrameLink`) until a writer acknowledges it disposed
of it; what part of it is on the pipe is tracked, so that a writer started after a crash gets
every unacknowledged frame again and is told which of them its predecessor may have written
(``resend_through``). The bound on what is kept (:data:`MAX_UNACKED_FRAMES`,
:data:`MAX_UNACKED_BYTES`) is the back-pressure: past it the dispatcher waits.

While a lane's native mover (``hft/logging/native/mover.c``) writes the pipe, it holds the
unacknowledged frames and numbers new ones; the link hands them over and takes them back.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any, Final, NamedTuple

#: Unacknowledged frames kept at most (and their bytes); past either the dispatcher waits.
MAX_UNACKED_FRAMES: Final = 1024
MAX_UNACKED_BYTES: Final = 32 << 20


class MoverStats(NamedTuple):
    """``Lane.mover_stats()`` by name: the mover's unacknowledged frames and what it did."""

    running: int
    frames: int  #: unacknowledged frames, their records and bytes
    records: int
    bytes: int
    sent_through: int  #: the newest frame a byte of which reached the pipe
    next_number: int  #: the next frame's number
    error: int  #: errno of a failed write (0: none)
    moved: int  #: frames made of lane records since the start
    unaccounted: int  #: records taken that ``account()`` has not counted yet


def mover_stats(lane: Any) -> MoverStats:
    """*lane*'s mover state (one lock, one tuple)."""
    return MoverStats(*lane.mover_stats())


class Frame(NamedTuple):
    """One frame in flight: its number, its bytes (header included) and its record count."""

    number: int
    data: memoryview  #: header included, as written on the pipe
    records: int


class FrameLink:
    """The frames handed to the writer process and not yet acknowledged, and their numbers.

    It holds them itself, or (while :attr:`moving`) a lane's native mover holds them.
    """

    def __init__(self, max_unacked_frames: int = MAX_UNACKED_FRAMES) -> None:
        self.max_unacked = max_unacked_frames
        self.unacked: deque[Frame] = deque()
        self._unsent: deque[Frame] = deque()
        self._offset = 0  #: bytes of ``_unsent[0]`` already on the pipe
        self._unacked_bytes = self._unacked_records = 0
        self._next_frame = 0
        self._sent_through = -1  #: the newest frame any writer may have read
        self.acked_through = -1  #: the newest frame a writer acknowledged
        #: The lane whose native mover writes the pipe while it runs (``moving``): it then
        #: holds the unacknowledged frames and numbers new ones.
        self.lane: Any = None
        self.moving = False
        self.mover_args: tuple[int, int, float] = (0, 0, 0.0)

    # -- what is in flight ----------------------------------------------------------------

    @property
    def unsent(self) -> bool:
        """True while a frame (or part of one) held here is not on the pipe yet."""
        return bool(self._unsent)

    def unacked_frames(self) -> int:
        """Frames not acknowledged yet, held here or by the mover."""
        return len(self.unacked) + (mover_stats(self.lane).frames if self.moving else 0)

    def unconfirmed(self, queued: int = 0) -> int:
        """Records not confirmed yet: *queued* ones not framed yet, those in frames not
        acknowledged yet (the mover's: less those the dispatcher has not counted yet)."""
        unconfirmed = queued + self._unacked_records
        if self.moving:
            mover = mover_stats(self.lane)
            unconfirmed = max(0, unconfirmed + mover.records - mover.unaccounted)
        return unconfirmed

    def newest_queued(self) -> int:
        """The number of the newest frame queued so far (-1: none)."""
        return mover_stats(self.lane).next_number - 1 if self.moving else self._next_frame - 1

    def over_bound(self) -> bool:
        """True while more frames (or bytes) wait for acknowledgement than the bound allows."""
        if self.moving:
            mover = mover_stats(self.lane)
            return mover.frames > self.max_unacked or mover.bytes > MAX_UNACKED_BYTES
        return len(self.unacked) > self.max_unacked or self._unacked_bytes > MAX_UNACKED_BYTES

    # -- sending and acknowledgements -----------------------------------------------------

    def queue(self, data: memoryview, records: int) -> None:
        """Number *data* (a frame, header included) and keep it until it is acknowledged."""
        if self.moving:  # one writer of the pipe: the mover numbers it and writes it
            self.lane.submit(data, records)
            return
        frame = Frame(self._next_frame, data, records)
        self._next_frame += 1
        self.unacked.append(frame)
        self._unsent.append(frame)
        self._unacked_bytes += len(frame.data)
        self._unacked_records += frame.records

    def push(self, fd: int) -> bool:
        """Write what the pipe *fd* takes of the unsent frames; False: the writer is gone."""
        while self._unsent:
            frame = self._unsent[0]
            try:
                written = os.write(fd, frame.data[self._offset :])
            except BlockingIOError:
                return True
            except OSError:
                return False
            self._sent_through = max(self._sent_through, frame.number)
            self._offset += written
            if self._offset == len(frame.data):
                self._unsent.popleft()
                self._offset = 0
        return True

    def acknowledged(self, frame: int) -> tuple[int, int]:
        """Frames up to *frame* are disposed of: free them. Their records, held here and by
        the mover; those held here still count as unconfirmed until :meth:`confirmed`."""
        self.acked_through = max(self.acked_through, frame)
        moved = self.lane.ack(frame) if self.moving else 0  # the mover's frames, freed there
        ours = 0
        while self.unacked and self.unacked[0].number <= frame:
            acked = self.unacked.popleft()
            ours += acked.records
            self._unacked_bytes -= len(acked.data)
        return ours, moved

    def confirmed(self, records: int) -> None:
        """*records* of frames freed by :meth:`acknowledged` are counted where they went."""
        self._unacked_records -= records

    def restart_point(self) -> tuple[int, int]:
        """What a new writer is told: the first frame it gets, and the newest one of those a
        predecessor may have read (-1: none of them)."""
        first = self.unacked[0].number if self.unacked else self._next_frame
        return first, self._sent_through if self._sent_through >= first else -1

    def resend(self) -> None:
        """A new writer gets every unacknowledged frame again, from its first byte."""
        self._unsent = deque(self.unacked)
        self._offset = 0

    def take_all(self) -> list[Frame]:
        """Every unacknowledged frame, taken out of the link (no writer will have them)."""
        self.stop_moving()
        frames = list(self.unacked)
        self.clear()
        return frames

    def clear(self) -> None:
        """Forget the frames held here (a forked child must not resend its parent's)."""
        self.unacked.clear()
        self._unsent.clear()
        self._unacked_bytes = self._unacked_records = self._offset = 0

    # -- the native mover (hft/logging/native/mover.c) -----------------------------------

    def start_moving(self, fd: int) -> None:
        """Hand the unacknowledged frames, and the pipe *fd*, to the lane's mover."""
        frame_bytes, max_frames, poll_s = self.mover_args
        frames = [(f.number, bytes(f.data), f.records) for f in self.unacked]
        self.lane.start_mover(
            fd, self._next_frame, self._sent_through, frames,
            len(self.unacked) - len(self._unsent), self._offset,
            frame_bytes, max_frames, MAX_UNACKED_BYTES, poll_s,
        )  # fmt: skip
        self.clear()
        self.moving = True

    def stop_moving(self) -> None:
        """Stop the mover and take its unacknowledged frames back (a restart resends them)."""
        if not self.moving:
            return
        frames, unsent_from, offset, sent_through, next_number, _ = self.lane.stop_mover()
        self.unacked = deque(Frame(n, memoryview(d), r) for n, d, r in frames)
        self._unsent = deque(list(self.unacked)[unsent_from:])
        self._offset = offset
        self._sent_through = max(self._sent_through, sent_through)
        self._next_frame = next_number
        self._unacked_bytes = sum(len(f.data) for f in self.unacked)
        self._unacked_records = sum(f.records for f in self.unacked)
        self.moving = False  # last: a reader on another thread sees one set of counts or the other

    def mover_failed(self) -> bool:
        """True when the mover's write failed (the writer is gone)."""
        return self.moving and bool(mover_stats(self.lane).error)
