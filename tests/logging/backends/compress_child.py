"""The process the compression kill tests kill: a FileBackend with size rotation and
compression, written to one batch at a time (``python compress_child.py SPEC``).

The spec (JSON): ``path``, ``compression``, ``retention``, ``max_bytes``, ``first`` (the first
record number), ``n`` (records), ``batch``, ``acks`` (a file), ``await`` (optional: after the
first rotation, wait until this file exists before writing on). After each write returns, its
last record number is appended to ``acks`` (``ack i``); after the last one, ``done``. The test
names a point in ``HFT_TEST_COMPRESS_PAUSE``, waits for the flag file and SIGKILLs this process.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import orjson

from hft.logging.backends.file import FileBackend
from hft.logging.levels import INFO
from hft.logging.record import Source

PAD = "x" * 100


def main() -> None:
    """Write the records the spec asks for, saying which writes returned; then wait."""
    spec = orjson.loads(sys.argv[1])
    acks = os.open(spec["acks"], os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    backend = FileBackend(
        file_path=Path(spec["path"]),
        rotation="size",
        max_bytes=spec["max_bytes"],
        retention=spec["retention"],
        compression=spec["compression"],
    )
    source = Source.create("kill", (), {})
    first, n, batch = spec["first"], spec["n"], spec["batch"]
    for start in range(first, first + n, batch):
        stop = min(start + batch, first + n)
        backend.write([(i, time.time_ns(), INFO, source, "m", {"i": i, "pad": PAD})
                       for i in range(start, stop)])  # fmt: skip
        os.write(acks, b"ack %d\n" % (stop - 1))
        if spec.get("await") and backend.rotated_files():  # the worker holds the first one
            while not os.path.exists(spec["await"]):
                time.sleep(0.001)
    os.write(acks, b"done\n")
    threading.Event().wait()  # killed here, or at the pause point


if __name__ == "__main__":
    main()
