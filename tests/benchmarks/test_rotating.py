"""The rotating contenders (``hft-rotating-*``): wired in outside the defaults, and every record
in the benchmark's file once the rotated files are joined back. Small counts; no timing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchmarks import harness, paced
from benchmarks.contenders import DEFAULT, REGISTRY, load
from benchmarks.contenders.hft_rotating import join_rotated
from hft.logging.backends.file import FileBackend
from hft.logging.backends.rotated import Compression
from hft.logging.record import Source

ROTATING = ["hft-rotating-none", "hft-rotating-gzip", "hft-rotating-zstd"]


def test_registered_but_never_in_a_default_run() -> None:
    """All three are registered; neither the suite's nor the paced default runs them."""
    assert set(ROTATING) <= set(REGISTRY)
    assert not set(ROTATING) & {*DEFAULT, *paced.DEFAULT}


@pytest.mark.parametrize("method", ["none", "gzip", "zstd"])
def test_join_puts_every_rotated_record_back_in_order(tmp_path: Path, method: Compression) -> None:
    """Rotated files, compressed or not, and the live one joined: every line once, in order."""
    path = tmp_path / "bench.jsonl"
    backend = FileBackend(file_path=path, rotation="size", max_bytes=2000, compression=method)
    source = Source.create("x", (), {})
    for i in range(100):
        backend.write([(i, time.time_ns(), 20, source, "order placed", {"i": i})])
    assert backend.wait_compressed(60)
    backend.close()
    join_rotated(path)
    assert list(tmp_path.iterdir()) == [path]
    assert harness.check_file(path, 100)["lost"] == 0


@pytest.mark.parametrize("name", ROTATING)
def test_a_contender_leaves_every_record_in_its_file(tmp_path: Path, name: str) -> None:
    """Each logs as hft-prod does, and its file holds every record after close."""
    contender = load(name)(tmp_path / f"{name}.jsonl")
    harness.time_calls(contender.log, 50)
    contender.close()
    assert harness.check_file(tmp_path / f"{name}.jsonl", 50)["lost"] == 0
