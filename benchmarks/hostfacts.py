"""Host facts measured with every result: what system calls, clock reads, thread wake-ups and a
second busy process cost on this host, so that figures from two hosts can be told apart.

Every measurement is bounded (a fixed number of calls, a fixed busy time); all of them together
take a couple of seconds. Costs are per Python-level call as a caller sees it (the loop and the
call included), the median of batches, so one preemption does not move them.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from benchmarks.harness import percentile

__all__ = ["BUSY_SECONDS", "busy_share", "call_cost_ns", "facts_lines", "measure", "wakeup_ns"]

BATCH = 1_000
BATCHES = 30
PINGS = 300
WAIT_S = 1.0  #: a ping not answered within this is counted as a miss, never waited for longer
BUSY_SECONDS = 0.5
_BUSY_CHILD = """
import sys, time
start, seconds = float(sys.argv[1]), float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
clock, work, acc = time.perf_counter, 0, 0
end = clock() + seconds
while clock() < end:
    for i in range(1000):
        acc = (acc * 31 + i) & 0xFFFF
    work += 1
print(work)
"""


def call_cost_ns(func: Callable[[], object], batch: int = BATCH, batches: int = BATCHES) -> float:
    """Median over *batches* of the ns per call of ``func()`` timed in batches of *batch*."""
    clock = time.perf_counter_ns
    per_call = []
    for _ in range(batches):
        start = clock()
        for _ in range(batch):
            func()
        per_call.append((clock() - start) / batch)
    return statistics.median(per_call)


def wakeup_ns(pings: int = PINGS) -> dict[str, Any]:
    """One direction of a ping-pong through ``threading.Event``: set() to the waiter running.

    The main thread stamps ``perf_counter_ns`` and sets the ping; the other thread stamps on
    waking and answers with a pong (not timed). Returns the median and p99 in ns and the pings
    not answered within :data:`WAIT_S` (a bound, so a stalled host cannot hang the benchmark).
    """
    ping, pong, stop = threading.Event(), threading.Event(), threading.Event()
    sent = [0]
    delays: list[int] = []

    def responder() -> None:
        while ping.wait(WAIT_S) and not stop.is_set():
            delays.append(time.perf_counter_ns() - sent[0])
            ping.clear()
            pong.set()

    thread = threading.Thread(target=responder, name="hostfacts-pong", daemon=True)
    thread.start()
    missed = 0
    for _ in range(pings):
        pong.clear()
        sent[0] = time.perf_counter_ns()
        ping.set()
        missed += not pong.wait(WAIT_S)
    stop.set()
    ping.set()
    thread.join(WAIT_S)
    ordered = sorted(delays) or [0]
    p99 = percentile(ordered, 99)  # nearest rank, as every other figure
    return {"median_ns": statistics.median(ordered), "p99_ns": p99, "missed": missed}


def _busy(count: int, seconds: float) -> list[int]:
    """Start *count* CPU loops in child interpreters at one instant; each one's work done."""
    start = time.time() + 0.3  # all children up before the loops begin
    argv = [sys.executable, "-c", _BUSY_CHILD, repr(start), repr(seconds)]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE) for _ in range(count)]
    outs = [proc.communicate(timeout=30 + seconds)[0] for proc in procs]
    return [int(out.strip() or 0) for out in outs]


def busy_share(seconds: float = BUSY_SECONDS) -> dict[str, Any]:
    """A CPU loop alone, then two at once: each of the two's work as a share of the lone one's.

    0.72 means each of two busy processes gets 72 % of what one alone gets (1.0: a free core
    each; 0.5: the two share one core).
    """
    (alone,) = _busy(1, seconds)
    pair = _busy(2, seconds)
    share = statistics.fmean(pair) / alone if alone else 0.0
    return {"ratio": round(share, 3), "alone": alone, "pair": pair, "seconds": seconds}


def measure(busy_seconds: float = BUSY_SECONDS, pings: int = PINGS) -> dict[str, Any]:
    """All the host facts, as JSON-ready values."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "nproc": os.cpu_count(),
        "nproc_usable": affinity,
        "getppid_ns": call_cost_ns(os.getppid),
        "time_ns_ns": call_cost_ns(time.time_ns),
        "perf_counter_ns_ns": call_cost_ns(time.perf_counter_ns),
        "event_wakeup": wakeup_ns(pings),
        "busy_share": busy_share(busy_seconds),
    }


def facts_lines(facts: dict[str, Any]) -> list[str]:
    """The facts as the lines printed at the start of every mode."""
    wake, busy = facts["event_wakeup"], facts["busy_share"]
    missed = f", {wake['missed']} missed" if wake["missed"] else ""
    python = f"{facts['implementation']} {facts['python']} on {facts['platform']}"
    nproc = f"nproc {facts['nproc']} (usable {facts['nproc_usable']})"
    clocks = (
        f"os.getppid() {facts['getppid_ns']:.0f} ns; time.time_ns() {facts['time_ns_ns']:.0f} ns;"
        f" time.perf_counter_ns() {facts['perf_counter_ns_ns']:.0f} ns"
    )
    wakeup = (
        f"threading.Event wake-up (one way) median {wake['median_ns'] / 1000:.1f} us,"
        f" p99 {wake['p99_ns'] / 1000:.1f} us{missed}"
    )
    share = f"two busy processes each get {busy['ratio']:.0%} of a lone one's work"
    return [f"Host: {line}" for line in (f"{python}; {nproc}", clocks, wakeup, share)]
