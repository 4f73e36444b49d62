"""The writer process's life: started, watched, replaced after a death, let go after a fork,
closed within the drain deadline.

:class:`WriterSupervisor` keeps the link (:mod:`hft.logging.writer.link`) moving: each
:meth:`~WriterSupervisor.pump` reads the writer's replies, replaces a writer that died (the
new one gets every unacknowledged frame again) and writes what the pipe takes. A restart runs
on the dispatcher without waiting for the new writer, and a writer that died is reaped later:
waiting for either would hold up the dispatcher, and with it every call site. After
:data:`FAILED_STARTS` writers in a row die before they are ready, this process writes the
records itself (:mod:`hft.logging.writer.fallback`).
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from hft.logging.writer.fallback import LocalSinks
from hft.logging.writer.handle import CLOSE_TIMEOUT_S, WriterChild, reap
from hft.logging.writer.link import FrameLink
from hft.logging.writer.tally import WriterTally
from hft.logging.writer.wire import ACKED, READY, STATS, WARNED, Reply, closing_frame, parse_replies

FAILED_STARTS: Final = 3  #: writers in a row that died before ready: write in this process
#: Of the drain deadline, kept at most for the report of what was not written and the exit.
EXIT_RESERVE_S: Final = 0.3
_WAIT_S: Final = 0.1  #: longest single wait for the writer (its death is seen at least this often)


class WriterSupervisor:
    """The current writer process (:attr:`child`), the ones that exited, and the loop that
    keeps the link's frames going to it."""

    def __init__(
        self,
        spec: Mapping[str, Any],
        link: FrameLink,
        tally: WriterTally,
        local: LocalSinks,
        *,
        warn: Callable[..., None],
        on_fork: Callable[[], None],
    ) -> None:
        self._spec = spec  #: what every writer is started with (``sinks.SinkSpec.wire``)
        self._link, self._tally, self._local = link, tally, local
        self._warn = warn
        self._on_fork = on_fork  #: lets go of everything the parent's writer had
        self.child: WriterChild | None = None
        self._failed_starts = 0
        self._exited: list[tuple[WriterChild, bool]] = []
        self.exit_status: int | None = None
        self._pid = os.getpid()
        self.restarts = -1  #: writers started after the first

    # -- the loop -------------------------------------------------------------------------

    def send(self, data: memoryview, records: int) -> None:
        """Hand a frame (header included) to the writer; wait while too many are in flight."""
        if self._local.active:
            self._local.deliver_frame(data)
            return
        moving = self._link.moving
        self._link.queue(data, records)
        if not moving:  # the mover writes its frames itself
            self.pump()
        if self._link.over_bound():  # back-pressure: the ring fills, the overflow policy applies
            self.wait(lambda: not self._link.over_bound(), None)

    def pump(self) -> None:
        """Read the writer's replies, replace a dead writer, write what the pipe takes."""
        self.check_fork()
        self._read_replies()
        if self._link.mover_failed():  # its write failed: the writer is gone
            self._lose()
        if self._exited:
            self._reap()
        if self.child is None and self._link.unacked:
            if self._failed_starts >= FAILED_STARTS:
                self._write_here()
                return
            self.start()
        child = self.child
        if child is None or not child.ready or self._link.moving:
            return
        if not self._link.push(child.stdin):  # the writer is gone; the next pump starts another
            self._lose()

    def wait(self, done: Callable[[], bool], timeout: float | None) -> bool:
        """Pump until *done* holds; False if *timeout* passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.pump()
            if done():
                return True
            left = _WAIT_S if deadline is None else min(_WAIT_S, deadline - time.monotonic())
            if left <= 0:
                return False
            child = self.child
            if child is None:
                time.sleep(left)
                continue
            writable = [child.stdin] if child.ready and self._link.unsent else []
            select.select([child.stdout], writable, [], left)

    # -- starting and ending --------------------------------------------------------------

    def start(self) -> None:
        """Start a writer; it gets every unacknowledged frame, and is told which of them a
        predecessor may have written. The dispatcher does not wait for it to be ready."""
        first, resend_through = self._link.restart_point()
        spec = {**self._spec, "first_frame": first, "resend_through": resend_through}
        self.child = WriterChild.start(spec)
        self._link.resend()
        self.restarts += 1

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the writer is ready; False (and no writer left) if it is not in time."""
        self.wait(lambda: self.child is None or self.child.ready, timeout)
        if self.child is not None and self.child.ready:
            return True
        self._kill()
        self._reap(block=True)
        return False

    def deadline(self) -> float:
        """The writer's deadline if its close starts now: the drain deadline, less a tenth of
        it (at most ``EXIT_RESERVE_S``) kept for saying what its best-effort sinks could not
        write and for both processes' exit."""
        drain_s = float(self._spec["drain_deadline_s"])
        return time.monotonic() + drain_s - min(EXIT_RESERVE_S, drain_s / 10)

    def close(self, deadline: float) -> None:
        """Tell the writer *deadline*, wait until every frame is acknowledged, then let it
        exit (EOF). A writer that never answered leaves its frames to this process."""
        if not self.owns_writer:
            return
        if not self._local.active:
            self.send(closing_frame(deadline), 0)
        self.wait(lambda: not self._link.unacked_frames(), CLOSE_TIMEOUT_S)
        self._link.stop_moving()  # before the pipe closes: the mover writes to it
        child = self.child
        if child is not None:
            child.end_input()  # EOF: the writer settles, acknowledges, exits
            self._lose(expected=True)
        self._reap(block=True)
        if self._link.unacked:
            self._write_here()

    # -- fork -----------------------------------------------------------------------------

    @property
    def owns_writer(self) -> bool:
        """False in a forked child until it let go of its parent's writer."""
        return self._pid == os.getpid()

    def check_fork(self) -> None:
        """In a forked child (the pipeline's fork hook normally did this already): let go of
        the parent's writer before touching anything."""
        if self._pid != os.getpid():
            self._on_fork()

    def after_fork_in_child(self) -> None:
        """The next frame starts a writer of our own; the parent's is the parent's to reap."""
        self._pid = os.getpid()
        self._exited.clear()
        child, self.child = self.child, None
        if child is not None:
            child.close()

    # -- replies --------------------------------------------------------------------------

    def _read_replies(self) -> None:
        child = self.child
        if child is None:
            return
        closed = child.read()
        self._handle(child, parse_replies(child.replies))
        if closed:
            self._lose()

    def _handle(self, child: WriterChild, replies: list[Reply]) -> None:
        for tag, value in replies:
            if tag == ACKED:
                self._acknowledged(child, value)
            elif tag == WARNED:
                self._warn(value["msg"], **value["fields"])
            elif tag == STATS:
                self._tally.reported(value)
            elif tag == READY:
                child.ready = True
                self._failed_starts = 0

    def _acknowledged(self, child: WriterChild, ack: tuple[int, int, int, int, int]) -> None:
        """Frames up to *frame* are disposed of: count what the writer says became of them."""
        frame, written, failed_over, lost, state = ack
        was, child.totals = child.totals, (written, failed_over, lost)
        ours, moved = self._link.acknowledged(frame)
        totals = (written - was[0], failed_over - was[1], lost - was[2])
        self._tally.acknowledged(ours + moved, totals, state)
        self._link.confirmed(ours)  # last: a reader on another thread never sees too many

    # -- writers that are gone ------------------------------------------------------------

    def _lose(self, *, expected: bool = False) -> None:
        """Forget a writer whose pipes closed (reading its last replies first).

        It is reaped later (:meth:`_reap`): waiting here for the kernel to finish its exit
        would hold up the dispatcher, and with it every call site.
        """
        self._link.stop_moving()  # before the pipes close: the mover writes to one
        child, self.child = self.child, None
        if child is None:
            return
        if expected:
            reap(child.popen)  # close(): it settles and acknowledges before it exits
        child.read()  # its ends are closed: what it sent is all there
        self._handle(child, parse_replies(child.replies))
        child.close()
        self._tally.writer_gone()
        self._exited.append((child, expected))
        self._reap()

    def _reap(self, *, block: bool = False) -> None:
        """Reap the writers that have exited; warn about the ones that died unasked."""
        for entry in list(self._exited):
            child, expected = entry
            status = child.popen.wait() if block else child.popen.poll()
            if status is None:
                continue
            self._exited.remove(entry)
            self.exit_status = status
            if not child.ready and status > 0:  # it could not open its backend
                self._failed_starts += 1
            if not expected:
                unacked = len(self._link.unacked)
                self._warn("log writer process exited", exit_status=status, unacked_frames=unacked)

    def _kill(self) -> None:
        self._link.stop_moving()
        child, self.child = self.child, None
        if child is not None:
            child.popen.kill()
            child.close()
            self.exit_status = child.popen.wait()

    def _write_here(self) -> None:
        """No writer can be had: every unacknowledged frame, and what follows, is written here."""
        self._local.take_over(self._link.take_all())
