"""A child process for tests/logging/test_exit.py: logs, then leaves in the way argv says.

Usage: ``python exit_child.py <log file> <records> <exit|sigterm|sigint|raise|fork>``.
No explicit close or flush anywhere: the records must reach the file on the way out.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from hft.logging import FileBackend, HFTLogger, LoggingPipeline


def _wait_for_signal(seconds: float) -> None:
    """Sleep in short steps, so a signal's handler runs within one step.

    A signal that lands after the last check of the interpreter's eval breaker but before
    ``time.sleep`` enters its system call is only acted on when that sleep returns: with the
    dispatcher asking for the GIL, one ``time.sleep(60)`` slept through Ctrl-C in CI (1 run in
    300 with a busy thread beside, measured), so the parent's 60-second wait ran out first.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)


def main() -> None:
    """Log the records, then exit, wait for a signal, raise, or fork a child that logs too."""
    path, count, how = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    backend = FileBackend(file_path=path, rotation="none", level="DEBUG")
    pipeline = LoggingPipeline([backend], ring_buffer_size=count + 10).start()
    logger = HFTLogger(pipeline, "child")
    if how == "fork":
        pid = os.fork()
        logger = HFTLogger(pipeline, "forked" if pid == 0 else "parent")
        for i in range(count):
            logger.info("m", i=i)
        if pid:
            os.waitpid(pid, 0)
        return
    for i in range(count):
        logger.info("m", i=i)
    if how == "sigint":
        # Ctrl-C as a terminal delivers it: a launcher that runs the tests in the background
        # (`make test &`) leaves SIGINT ignored, and Python then installs no handler of its own.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if how in ("sigterm", "sigint"):
        print("ready", flush=True)
        _wait_for_signal(60.0)
    elif how == "raise":
        raise KeyboardInterrupt


if __name__ == "__main__":
    main()
