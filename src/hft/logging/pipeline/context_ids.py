"""Lane ids for the task context's sources, reused so that they stay bounded.

A record logged inside a task context (:mod:`hft.logging.task_context`) carries a source made
for its frame: the logger's source with the frame's fields merged under its bound context. On
the byte lane a source is an id whose definition (the pickled source) goes with every frame
that uses it (``Lane.define``). A process that opens a context per order would define ids
without end, so these ids are leased: a frame's cache holds the :class:`Lease`, and when the
frame dies the lease returns its id. The id is given another source (``Lane.redefine``) only
once every record pushed before its release has left the lane (taken into a frame, which
copies the definitions it uses, or evicted): no waiting record can then name it.

At most ``limit`` ids are leased at once (frames alive times call sites that logged in them);
past it a frame's records take the classic path, which gives the same lines.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Final

#: Most lane ids leased to task contexts at once, per pipeline (each holds its pickled source,
#: a few hundred bytes, in the lane).
CONTEXT_LANE_IDS: Final = 4096


class Lease:
    """A lane id held by a frame's cache entry; released when the entry dies."""

    __slots__ = ("_ids", "id")

    def __init__(self, ids: ContextIds, lane_id: int) -> None:
        self._ids, self.id = ids, lane_id

    def __del__(self) -> None:
        self._ids.release(self.id)


class ContextIds:
    """The lane ids a pipeline's lane lends to task contexts."""

    def __init__(self, lane: Any, limit: int = CONTEXT_LANE_IDS) -> None:
        self._lane = lane
        self._limit = limit
        self._defined = 0  #: ids defined for contexts (leased, released or free)
        self._free: list[int] = []
        #: ``(id, lane.pushed when released)``, oldest first; appended from ``__del__``.
        self._released: deque[tuple[int, int]] = deque()
        self._lock = threading.Lock()

    def lease(self, pickled: bytes) -> Lease | None:
        """An id standing for *pickled* until its lease dies; None when ``limit`` are out."""
        with self._lock:
            self._reclaim()
            if self._free:
                lane_id = self._free.pop()
                self._lane.redefine(lane_id, pickled)
            elif self._defined < self._limit:
                lane_id = int(self._lane.define(pickled))
                self._defined += 1
            else:
                return None
        return Lease(self, lane_id)

    def release(self, lane_id: int) -> None:
        """*lane_id* is no longer named by any new record (its lease died; any thread)."""
        self._released.append((lane_id, self._lane.pushed))

    @property
    def leased(self) -> int:
        """Ids out now, or released but still possibly named by a waiting record."""
        return self._defined - len(self._free)

    def _reclaim(self) -> None:
        """Free the released ids that no waiting record names any more."""
        gone = self._lane.taken + self._lane.evicted
        released = self._released
        while released and released[0][1] <= gone:
            self._free.append(released.popleft()[0])
