"""The compression benchmark (benchmarks.compression): it runs and its figures are sane.
A one-megabyte file, one round; nothing here asserts a timing."""

from __future__ import annotations

from pathlib import Path

from benchmarks import compression


def test_the_rotated_file_is_hft_lines_of_the_size_asked(tmp_path: Path) -> None:
    """The file made is JSON lines, at least the size asked for."""
    path = tmp_path / "r.log"
    compression.make_rotated(path, 100_000)
    lines = path.read_bytes().splitlines()
    assert path.stat().st_size >= 100_000
    assert all(line.startswith(b'{"ts":') for line in lines)


def test_each_method_is_measured_and_compresses() -> None:
    """A round per method: a throughput and a ratio above one, in the printed table."""
    figures = compression.run(1, 1)
    for method in ("gzip", "zstd"):
        (only,) = figures["results"][method]
        assert only["mb_s_wall"] > 0
        assert only["ratio"] > 1
        assert f"  {method}: mb_s_wall" in compression.table(figures)
