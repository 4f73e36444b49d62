"""What the compression tests share: Debian's tools run on the files, the records read back,
rotated files made by hand."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from hft.logging import FileBackend, HFTLogger, LoggingPipeline
from hft.logging.backends.rotated import SUFFIXES, Compression, rotated_groups
from hft.logging.record import Record, Source
from tests.needs import cannot

SOURCE = Source.create("orders", ("mexc",), {})
METHODS: tuple[Compression, ...] = ("gzip", "zstd")
TOOL = {".gz": "gzip", ".zst": "zstd"}
WAIT_S = 60.0  #: longest wait for a child or the worker (a loaded machine; never a timing)


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        cannot(f"Debian's {name} is not installed")
    return found


def contents(path: Path) -> bytes:
    """The bytes of a rotated or live file, decompressed by Debian's own tool."""
    if path.suffix not in TOOL:
        return path.read_bytes()
    run = subprocess.run(
        [tool(TOOL[path.suffix]), "-dc", str(path)], check=False, capture_output=True
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def checked_by_tools(folder: Path) -> list[Path]:
    """Every compressed file in *folder*, each accepted by ``gzip -t`` / ``zstd -t``."""
    found = sorted(p for p in folder.iterdir() if p.suffix in TOOL)
    for path in found:
        run = subprocess.run(
            [tool(TOOL[path.suffix]), "-t", "-q", str(path)], check=False, capture_output=True
        )
        assert run.returncode == 0, (path, run.stderr)
    return found


def record_numbers(log: Path) -> list[int]:
    """The record numbers in the log's rotated files (decompressed) and then the live file."""
    files = [*rotated_groups(log), *([log] if log.exists() else [])]
    return [orjson.loads(line)["fields"]["i"] for p in files for line in contents(p).splitlines()]


def record(i: int) -> Record:
    """Record number *i*: an INFO record whose only field is ``i``."""
    return (i, time.time_ns(), 20, SOURCE, "m", {"i": i})


def log(backend: FileBackend, numbers: range, every: int = 50) -> LoggingPipeline:
    """Log *numbers* through a pipeline, flushed every *every*; wait for the compressions;
    the pipeline, closed."""
    pipeline = LoggingPipeline([backend], batch_size=every).start()
    logger = HFTLogger(pipeline, "x")
    for i in numbers:
        logger.info("m", i=i)
        if i % every == every - 1:
            pipeline.flush()
    pipeline.flush()
    assert backend.wait_compressed(WAIT_S)
    pipeline.close()
    return pipeline


def no_temp(folder: Path) -> None:
    """Nothing in *folder* is a compression in flight (``.tmp``)."""
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def rotated_by_hand(tmp_path: Path, n: int = 50) -> tuple[Path, Path, bytes]:
    """A log with one rotated file of *n* records made uncompressed; its path and bytes."""
    path = tmp_path / "hft.log"
    backend = FileBackend(file_path=path, rotation="size", max_bytes=1)
    backend.write([record(i) for i in range(n)])
    backend.write([record(n)])
    backend.close()
    (rotated,) = rotated_groups(path)
    return path, rotated, rotated.read_bytes()


def compress_with_tool(original: Path, method: Compression) -> Path:
    """*original* compressed by Debian's tool beside it (the original kept)."""
    out = original.with_name(original.name + SUFFIXES[method])
    name = "gzip" if method == "gzip" else "zstd"
    out.write_bytes(subprocess.run([tool(name), "-c", str(original)], check=True,
                                   capture_output=True).stdout)  # fmt: skip
    return out


def wait(done: Callable[[], bool], what: str) -> None:
    """Poll until *done* holds; fail after ``WAIT_S``, naming *what* was awaited."""
    deadline = time.monotonic() + WAIT_S
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
