"""Compression throughput of a rotated file: ``python -m benchmarks.compression [--mb 100]
[--rounds 3]``.

A rotated file of ``--mb`` megabytes of hft JSON lines (the paced benchmark's call, its numbers
varying as a strategy's do) is compressed by the file backend's own worker
(:class:`hft.logging.backends.compress.Compressor`: temp file, fsync, rename, folder fsync,
unlink), with each method, ``--rounds`` times, interleaved. Printed per method: MB/s of input
over the wall time and over the process's CPU time, and the ratio (input / output).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from hft.logging.backends.compress import Compressor
from hft.logging.backends.file import FileBackend
from hft.logging.backends.rotated import SUFFIXES, Compression
from hft.logging.levels import INFO
from hft.logging.record import Record, Source

MB = 1_000_000
BATCH = 1000


def make_rotated(path: Path, size: int) -> None:
    """At least *size* bytes of JSON lines at *path*, as the file backend renders them."""
    render = FileBackend(file_path=path.with_name("render.log"), rotation="none").render
    source = Source.create("exchange.mexc.orders", ("mexc", "orders"), {})
    start, i = time.time_ns(), 0
    with path.open("wb") as out:
        while out.tell() < size:
            out.write(render([_record(source, start, n) for n in range(i, i + BATCH)]))
            i += BATCH


def _record(source: Source, start: int, n: int) -> Record:
    price = 60_000 + (n * 7919 % 100_000) / 100
    fields = {"symbol": "BTCUSDT", "price": price, "qty": (n * 31 % 1000) / 1000, "id": n}
    return (n, start + n * 10_000 + n * 2654435761 % 9973, INFO, source, "order placed", fields)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def compress_once(source: Path, work: Path, method: Compression) -> dict[str, float]:
    """*source* copied in as a rotated file of a log in *work*, then compressed by the worker."""
    log = work / "bench.log"
    rotated = work / "bench.log.1"
    shutil.copyfile(source, rotated)
    compressor = Compressor(log, method)
    wall, cpu = time.perf_counter(), _cpu_s()
    compressor.submit(rotated)
    compressor.wait()
    wall, cpu = time.perf_counter() - wall, _cpu_s() - cpu
    compressor.close()
    out = rotated.with_name(rotated.name + SUFFIXES[method])
    size, packed = source.stat().st_size, out.stat().st_size
    out.unlink()
    return {"mb_s_wall": size / MB / wall, "mb_s_cpu": size / MB / cpu, "ratio": size / packed}


def run(
    mb: int, rounds: int, methods: tuple[Compression, ...] = ("gzip", "zstd")
) -> dict[str, Any]:
    """Each method *rounds* times on one *mb*-megabyte file; every round's figures."""
    results: dict[Compression, list[dict[str, float]]] = {m: [] for m in methods}
    with tempfile.TemporaryDirectory(prefix="hft-bench-compress-") as tmp:
        source = Path(tmp) / "source.log"
        make_rotated(source, mb * MB)
        for _ in range(rounds):
            for method in methods:
                results[method].append(compress_once(source, Path(tmp), method))
    return {"mb": mb, "rounds": rounds, "results": results}


def table(figures: dict[str, Any]) -> str:
    """One line per method: each figure's range and median over the rounds."""
    head = f"compression of a {figures['mb']} MB rotated file, {figures['rounds']} rounds"
    lines = [f"{head}, nproc {os.cpu_count()}:"]
    for method, rounds in figures["results"].items():
        parts = []
        for key in ("mb_s_wall", "mb_s_cpu", "ratio"):
            values = [r[key] for r in rounds]
            parts.append(f"{key} {min(values):.1f}-{max(values):.1f}"
                         f" (median {statistics.median(values):.1f})")  # fmt: skip
        lines.append(f"  {method}: {', '.join(parts)}")
    return "\n".join(lines)


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(table(run(args.mb, args.rounds)))


if __name__ == "__main__":
    main()
