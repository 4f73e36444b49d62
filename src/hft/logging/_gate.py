"""Where call sites wait for room in a full ring (the ``block`` policy, and audit)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any


class Gate:
    """One ring's waiting room: callers wait here, the dispatcher opens it as it drains.

    A caller waits for the ring to drain to half, not for one free slot, so the dispatcher
    works through a long stretch instead of handing the GIL back and forth for every batch.
    """

    __slots__ = ("cond", "waiters")

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.waiters = 0

    def wait(
        self,
        ring: deque[Any],
        capacity: int,
        timeout_s: float | None,
        running: Callable[[], bool],
        wake: threading.Event,
    ) -> bool:
        """Block until *ring* holds at most half *capacity*; False if still full at time-out."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        low_water = capacity // 2
        with self.cond:
            self.waiters += 1
            wake.set()
            try:
                while len(ring) > low_water and running():
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        break
                    self.cond.wait(0.01 if left is None else min(left, 0.01))
            finally:
                self.waiters -= 1
        return len(ring) < capacity or not running()

    def open_if_drained(self, ring: deque[Any], half: int) -> None:
        """Wake the waiting callers once *ring* is down to *half* (dispatcher side)."""
        if self.waiters and len(ring) <= half:
            with self.cond:
                self.cond.notify_all()
