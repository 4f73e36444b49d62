"""The byte lane: plain records straight from the call site to the writer process, as bytes.

A record that needs nothing from the dispatcher (an exact-str message, scalar fields under
names the redactor already passed, no secret in its text) and that only the writer process
takes at its level is copied by the C call site into a byte ring
(``hft.logging.native._caller.Lane``, see ``native/lane.h``): no tuple, no dict, nothing for the
garbage collector. While the dispatcher runs, a native mover thread (``mover.c``) takes them out a
frame at a time and writes the frames to the writer process's pipe without ever taking the GIL;
the writer decodes them (``unpack_lane``) into the tuples the classic path would have sent, a
logger's bound context (prepared once, when the logger's source is defined on the lane) merged
under each record's fields as the dispatcher merges it. The dispatcher only reads the writer's
acknowledgements and counts what was taken, and while nothing else has work it sleeps
(``IDLE_POLL_S``), so the caller's thread shares the GIL with the logging machinery a few times
a second. With no mover (a stopped pipeline, a writer being replaced) the dispatcher takes the
frames itself, the GIL released for the copy, and hands them to the writer as before.

Everything else takes the classic path (the tuple ring and the dispatcher), so behaviour is
unchanged: the same lines in the file (a test holds them byte-identical), the same overflow
policy and drop counts, the same flush guarantee. A record on the classic path can reach the
file after lane records logged just after it: ``seq`` gives the order of the calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, cast

from hft.logging.native import Lane  # the C one, or None: every record the classic path
from hft.logging.pipeline.context_ids import ContextIds, Lease
from hft.logging.record import Record, Source
from hft.logging.writer.link import mover_stats
from hft.logging.writer.wire import FrameEncoder

if TYPE_CHECKING:
    from hft.logging.pipeline.drops import DropLedger
    from hft.logging.pipeline.prepare import Preparer
    from hft.logging.pipeline.slots import BackendSlot
    from hft.logging.writer.backend import ProcessBackend

#: Bytes of ring per slot of ``ring_buffer_size`` (a plain record takes ~100-300), at least.
BYTES_PER_SLOT: Final = 256
MIN_BYTES: Final = 1 << 20
#: Most bytes of records in one frame (the writer reads its pipe 1 MiB at a time).
FRAME_BYTES: Final = 512 << 10


class LaneFeed:
    """A pipeline's lane and the writer-process slot it feeds."""

    def __init__(
        self,
        lane: Any,
        slot: BackendSlot,
        slots: Sequence[BackendSlot],
        prepare: Preparer,
        poll_s: float = 0.01,
    ) -> None:
        self.lane = lane
        self._poll_s = poll_s  #: how often the mover looks at the lane when no call wakes it
        self._slot = slot
        self._slots = slots  #: the pipeline's list: backends added later are seen
        self._encode = FrameEncoder(prepare.limit)
        self._prepare = prepare
        self._ids: dict[int, tuple[Source, int]] = {}
        self.context_ids = ContextIds(lane)  #: the task contexts' sources' ids, reused

    def source_id(self, level: int, source: Source) -> int:
        """The lane id of *source* for records of *level*; -1: the classic path.

        The lane is for records that only its writer process takes. A bound context is
        prepared once, here, as the dispatcher prepares it for each record (see
        :meth:`Preparer.context`), and travels in the source; the writer merges it under each
        record's fields. A context that cannot be prepared once keeps its logger's records on
        the classic path.
        A backend that takes no logs (Prometheus: it counts calls at the call site) does not
        take them either.
        """
        if not self._takes(level):
            return -1
        known = self._ids.get(id(source))
        if known is None or known[0] is not source:
            known = (source, self._define(source))
            self._ids[id(source)] = known
        return known[1]

    def context_id(self, level: int, source: Source) -> tuple[int, Lease | None]:
        """A lane id leased for *source*, a task context's (see ``context_ids.py``): the id
        and its lease (held by the frame's cache), or ``(-1, None)``: the classic path."""
        pickled = self._pickled(source) if self._takes(level) else None
        lease = None if pickled is None else self.context_ids.lease(pickled)
        return (-1, None) if lease is None else (lease.id, lease)

    def _takes(self, level: int) -> bool:
        """Whether records of *level* are for the lane: only its writer process takes them."""
        if level < self._slot.backend.level:
            return False
        others = (s for s in self._slots if s is not self._slot and s.hooks.takes_logs)
        return not any(s.backend.level <= level for s in others)

    def _define(self, source: Source) -> int:
        """*source*'s id on the lane, its context prepared; -1 when that cannot be done."""
        pickled = self._pickled(source)
        return -1 if pickled is None else int(self.lane.define(pickled))

    def _pickled(self, source: Source) -> bytes | None:
        """*source* as the lane defines it, its context prepared; None when that cannot be."""
        if source.context:
            context = self._prepare.context(source.context)
            if context is None:
                return None
            source = source.with_context(context)
        return self._encode.pickle_source(source)

    def drain(self, drops: DropLedger, *, flush: bool = False, move: bool = True) -> None:
        """Count what the native mover took, or (no mover) hand every waiting lane record to
        the writer a frame at a time. *flush*: the mover frames every waiting record now.
        *move*: the mover may run (only while the pipeline's dispatcher does)."""
        backend = cast("ProcessBackend", self._slot.backend)
        if backend.moves(self.lane, FRAME_BYTES, self._poll_s, run=move):
            if flush:
                self.lane.move_now()
        else:
            take = self.lane.take
            while (taken := take(FRAME_BYTES)) is not None:
                frame, count, _ = taken
                self.account(drops)
                backend.send_frame(frame, count)
        self.account(drops)

    @property
    def moving(self) -> bool:
        """True while the native mover takes this lane's records to the writer."""
        return bool(mover_stats(self.lane).running)

    def account(self, drops: DropLedger) -> None:
        """Count the records taken from the lane since the last look: taken, and handed on."""
        count, newest = self.lane.account()
        if count:
            drops.take(count, newest)
            self._slot.handed_on(count)


def open_lane(pipeline: Any, slots: Sequence[BackendSlot], prepare: Preparer) -> LaneFeed | None:
    """A lane for *pipeline* when the C call site is built and one writer process takes logs.

    The lane takes only what *prepare* (the dispatcher's) would pass untouched: names its
    redactor knows to be harmless (or learns so at once), text free of the settings' secrets.
    """
    if Lane is None or not pipeline.use_lane:
        return None
    writers = [s for s in slots if hasattr(s.backend, "send_frame")]
    if len(writers) != 1:
        return None
    lane = Lane(
        max(MIN_BYTES, pipeline.capacity * BYTES_PER_SLOT),
        pipeline.capacity,
        pipeline.overflow_policy,
        pipeline.block_timeout_s,
        prepare.harmless,
        prepare.secret_texts,
        pipeline.rings.note_refused,
        pipeline.rings.wake,
        pipeline.rings.wake_at,
        prepare.learn,
    )
    return LaneFeed(lane, writers[0], slots, prepare, pipeline.poll_s)


__all__ = ["Lane", "LaneFeed", "Record", "open_lane"]
