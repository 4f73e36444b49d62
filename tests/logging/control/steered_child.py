"""A child process for the control tests: the container's pipeline from a settings folder.

Usage: ``python steered_child.py <settings dir> <environment>``. It says ``ready <pid>``, then
obeys lines on standard input: ``log N`` logs 20 records at each level from two loggers
(fields ``phase=N``), flushes and says ``logged N``; ``quit`` shuts down and says ``bye``.
"""

from __future__ import annotations

import os
import sys

from hft.containers import create_application
from hft.logging import HFTLogger

LOGGERS = ("exchange.mexc.book", "exchange.gateio.book")
PER_LEVEL = 20


def main() -> None:
    application = create_application(sys.argv[2], sys.argv[1], env={})
    application.init_resources()
    pipeline = application.logging.pipeline()
    loggers = [HFTLogger(pipeline, name) for name in LOGGERS]
    print(f"ready {os.getpid()}", flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "quit":
            break
        for logger in loggers:
            for method in ("debug", "info", "warning", "error"):
                for i in range(PER_LEVEL):
                    getattr(logger, method)(method, phase=int(argument), i=i)
        pipeline.flush()
        print(f"logged {argument}", flush=True)
    application.shutdown_resources()
    print("bye", flush=True)


if __name__ == "__main__":
    main()
