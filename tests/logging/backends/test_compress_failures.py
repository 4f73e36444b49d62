"""A compression that fails on a real full disk (a tiny tmpfs): tried again a few times, then
left until the next rotation; the original stays whole, no ``.tmp`` is left, the counts are in
the file backend's stats (in this process and through the writer process), and the failure is
said once, with the path and errno."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from hft.logging import FileBackend, HFTLogger, LoggingPipeline, create_backend_from_config
from hft.logging.backends import compress
from hft.logging.backends.compress import FAILED, RECOVERED
from hft.logging.backends.rotated import Compression, rotated_groups
from tests.logging.backends.compressed import (
    METHODS,
    WAIT_S,
    checked_by_tools,
    contents,
    log,
    no_temp,
    record,
    rotated_by_hand,
)
from tests.logging.faultfs import fill_up, tmpfs

RECORDS = 300  #: records in the rotated file made by hand (about 30 KB)


@pytest.fixture
def disk() -> Iterator[Path]:
    """A 256 KiB tmpfs (needs root and mount rights; skipped without them, failed in CI)."""
    with tmpfs("256k") as mount:
        yield mount


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backends made in this process wait 10 ms and 20 ms between their attempts."""
    monkeypatch.setattr(compress, "RETRY_DELAYS_S", (0.01, 0.02))


def lines(log: Path) -> list[dict[str, Any]]:
    """Every line of *log*'s rotated files (decompressed by Debian's tools) and live file."""
    files = [*rotated_groups(log), log]
    return [orjson.loads(line) for path in files for line in contents(path).splitlines()]


def numbers(found: list[dict[str, Any]]) -> list[int]:
    """The record numbers among *found* (the logging layer's own warnings left out)."""
    return [r["fields"]["i"] for r in found if r["logger"] != "hft.logging"]


def said(found: list[dict[str, Any]], msg: str) -> list[dict[str, Any]]:
    """The fields of the warnings *msg* among *found* (any of the hft schema's lines)."""
    return [r["fields"] for r in found if r["logger"] == "hft.logging" and r["msg"] == msg]


def failed_ones(path: Path, rotated: Path, method: Compression, attempts: int) -> dict[str, Any]:
    """What a failed compression of *rotated* must be said with."""
    return {
        "backend": "file", "path": str(rotated), "errno": errno.ENOSPC, "code": "ENOSPC",
        "error": "No space left on device", "attempts": attempts, "method": method,
    }  # fmt: skip


@pytest.mark.usefixtures("quick_retries")
@pytest.mark.parametrize("method", METHODS)
def test_a_full_disk_keeps_the_original_and_the_next_rotation_tries_again(
    disk: Path, method: Compression
) -> None:
    """Full disk: three attempts, the original whole, no ``.tmp``, counted and said once; room
    again: the next rotation compresses it and the new one, said once, every record once."""
    path, rotated, content = rotated_by_hand(disk, RECORDS)
    ballast = fill_up(disk)
    backend = FileBackend(
        file_path=path, rotation="size", max_bytes=20_000, retention=100, compression=method
    )
    assert backend.wait_compressed(WAIT_S)
    assert sorted(p.name for p in disk.iterdir()) == sorted([ballast.name, path.name, rotated.name])
    assert rotated.read_bytes() == content
    assert backend.stats() == {"compressed": 0, "compress_failures": 1, "compress_retries": 2}

    ballast.unlink()
    pipeline = log(backend, range(RECORDS + 1, RECORDS + 501))  # closed: the recovery said
    extra = pipeline.metrics().backends["file"].extra

    found = lines(path)
    assert numbers(found) == list(range(RECORDS + 501))
    compressed = checked_by_tools(disk)
    assert len(compressed) == len(rotated_groups(path)) >= 3  # the given-up file among them
    no_temp(disk)
    assert said(found, FAILED) == [failed_ones(path, rotated, method, 3)]
    assert said(found, RECOVERED) == [{"backend": "file", "left_uncompressed": 1}]
    assert extra == {"compressed": len(compressed), "compress_failures": 1, "compress_retries": 2}


@pytest.mark.usefixtures("quick_retries")
def test_with_no_pipeline_the_failure_is_said_on_stderr_once(
    disk: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A backend no pipeline took says the failure as one JSON line on standard error, once for
    two files; the second, while the first's failure lasts, is tried once, not retried."""
    path, rotated, content = rotated_by_hand(disk, RECORDS)
    second = rotated.with_name(rotated.name + ".1")  # a later rotation, its name taken
    second.write_bytes(content)
    os.utime(second, ns=(rotated.stat().st_mtime_ns + 1,) * 2)
    ballast = fill_up(disk)
    backend = FileBackend(file_path=path, rotation="none", compression="zstd")
    assert backend.wait_compressed(WAIT_S)
    backend.close()
    warnings = [orjson.loads(line) for line in capfd.readouterr().err.splitlines()]
    assert [w["fields"] for w in warnings if w["msg"] == FAILED] == [
        failed_ones(path, rotated, "zstd", 3)
    ]
    assert backend.stats() == {"compressed": 0, "compress_failures": 2, "compress_retries": 2}
    assert sorted(disk.iterdir()) == sorted([ballast, path, rotated, second])
    assert rotated.read_bytes() == second.read_bytes() == content


def test_through_the_writer_process_the_counts_and_the_warning_reach_the_pipeline(
    disk: Path,
) -> None:
    """The file backend in a writer process on a full disk: its counts come back in the
    pipeline's metrics, its warning is logged by the pipeline (once room is made)."""
    path, rotated, content = rotated_by_hand(disk, RECORDS)
    ballast = fill_up(disk)
    backend = create_backend_from_config(
        "file", {"file_path": str(path), "rotation": "none", "compression": "gzip"}
    )
    pipeline = LoggingPipeline([backend]).start()
    deadline = time.monotonic() + WAIT_S  # the writer waits 1 s, then 4 s, between attempts
    while pipeline.metrics().backends["file"].extra.get("compress_failures") != 1:
        assert time.monotonic() < deadline, pipeline.metrics().backends["file"]
        time.sleep(0.05)
    assert rotated.read_bytes() == content
    no_temp(disk)
    ballast.unlink()
    HFTLogger(pipeline, "x").info("m", i=RECORDS + 1)
    pipeline.flush()
    extra = pipeline.metrics().backends["file"].extra
    pipeline.close()
    assert {k: extra[k] for k in ("compressed", "compress_failures", "compress_retries")} == {
        "compressed": 0, "compress_failures": 1, "compress_retries": 2,
    }  # fmt: skip
    found = lines(path)
    assert said(found, FAILED) == [failed_ones(path, rotated, "gzip", 3)]
    assert numbers(found) == list(range(RECORDS + 2))
    assert sorted(disk.iterdir()) == sorted([path, rotated])


def _appending(monkeypatch: pytest.MonkeyPatch, rotated: Path, times: int) -> list[int]:
    """The worker's next *times* compressions of *rotated* see a line appended to it once
    they have measured it (another process still writing to it); the count of appends."""
    appended: list[int] = []
    to_temp = compress.Compressor._to_temp

    def growing(self: compress.Compressor, src: int, dst: int, stat: os.stat_result) -> bool:
        if len(appended) < times:
            with rotated.open("ab") as late:
                late.write(b'{"late":%d}\n' % len(appended))
            appended.append(1)
        return to_temp(self, src, dst, stat)

    monkeypatch.setattr(compress.Compressor, "_to_temp", growing)
    return appended


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.usefixtures("quick_retries")
def test_a_rotated_file_that_grows_while_compressed_is_never_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: Compression
) -> None:
    """A rotated file written to while it is compressed is not deleted with what came late:
    the attempt fails (EBUSY, no ``.tmp``), the next one compresses all of it."""
    path, rotated, content = rotated_by_hand(tmp_path)
    appended = _appending(monkeypatch, rotated, times=1)
    backend = FileBackend(file_path=path, compression=method, rotation="none")
    assert backend.wait_compressed(WAIT_S)
    backend.close()
    (compressed,) = checked_by_tools(tmp_path)
    assert contents(compressed) == content + b'{"late":0}\n'
    assert len(appended) == 1
    assert backend.stats() == {"compressed": 1, "compress_failures": 0, "compress_retries": 1}
    no_temp(tmp_path)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.usefixtures("quick_retries")
def test_a_file_that_keeps_growing_is_given_up_and_the_worker_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: Compression
) -> None:
    """A rotated file still written to at every attempt stays uncompressed and whole, the
    failure is counted and said with EBUSY, and the worker lives on for the next rotation."""
    path, rotated, content = rotated_by_hand(tmp_path)
    _appending(monkeypatch, rotated, times=1 + len(compress.RETRY_DELAYS_S))
    backend = FileBackend(file_path=path, compression=method, rotation="size", max_bytes=1)
    assert backend.wait_compressed(WAIT_S)
    assert rotated.read_bytes() == content + b'{"late":0}\n{"late":1}\n{"late":2}\n'
    assert backend.stats() == {"compressed": 0, "compress_failures": 1, "compress_retries": 2}
    (report,) = backend._compressor.take_reports()
    assert report[0] == FAILED
    assert report[1]["code"] == "EBUSY"
    backend.write([record(1000)])  # two rotations: the given-up file is tried again first
    backend.write([record(1001)])
    assert backend.wait_compressed(WAIT_S)
    backend.close()
    assert backend.stats()["compressed"] == 3  # it, and the two new ones
    assert len(checked_by_tools(tmp_path)) == 3
    no_temp(tmp_path)
