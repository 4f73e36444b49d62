"""A process that logs through hft's real pipeline into its own rotated file (a test's child).

Run: ``python -m tests.logging.reader.writer_child PATH COUNT NAME``. Says ``ready`` on stdout,
then waits for ``go`` on stdin, so that its siblings start together and their records interleave
in time.
"""

from __future__ import annotations

import sys
import time

from hft.logging import FileBackend, HFTLogger, LoggingPipeline


def main(path: str, count: int, name: str) -> None:
    """Log *count* records of every level into *path*, rotating every ~8 KB."""
    backend = FileBackend(
        level="DEBUG", file_path=path, rotation="size", max_bytes=8000, retention=10_000
    )
    pipeline = LoggingPipeline([backend]).start()
    logger = HFTLogger(pipeline, f"exchange.{name}", [name])
    methods = [logger.debug, logger.info, logger.warning, logger.error]
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(count):
        methods[i % 4]("filled", i=i, process=name, px=101.25 + i)
        if i % 10 == 0:
            time.sleep(0.001)  # let the siblings' records fall between this one's
    pipeline.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
