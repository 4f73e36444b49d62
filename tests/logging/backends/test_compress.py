"""Compressed rotation (backends.compress): Debian's gzip and zstd accept every rotated file,
every record is there once after decompression, retention counts every rotation once, a new
backend recovers what a kill left, the last line is found in a compressed rotation."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import orjson
import pytest

from hft.logging import FileBackend
from hft.logging.backends.file import rotated_last_line
from hft.logging.backends.rotated import SUFFIXES, Compression, _entry, read_rotated, rotated_groups
from tests.logging.backends.compressed import (
    METHODS,
    WAIT_S,
    checked_by_tools,
    compress_with_tool,
    contents,
    log,
    no_temp,
    record,
    record_numbers,
    rotated_by_hand,
)


@pytest.mark.parametrize("method", METHODS)
class TestCompressedRotation:
    def test_size_rotation_every_file_tested_every_record_once(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """Size rotation: every rotated file is compressed, passes Debian's ``-t``, and the
        records decompressed are all that was logged, in order, each once."""
        path = tmp_path / "hft.log"
        backend = FileBackend(
            file_path=path, rotation="size", max_bytes=4000, retention=1000, compression=method
        )
        log(backend, range(3000))
        rotated = backend.rotated_files()
        assert len(rotated) > 10
        assert {p.suffix for p in rotated} == {SUFFIXES[method]}
        assert checked_by_tools(tmp_path) == sorted(rotated)
        assert record_numbers(path) == list(range(3000))
        no_temp(tmp_path)

    def test_daily_rotation_compresses_yesterday(
        self, tmp_path: Path, method: Compression, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A write on a new UTC day moves yesterday's file aside and compresses it."""
        path = tmp_path / "hft.log"
        backend = FileBackend(file_path=path, rotation="daily", compression=method)
        backend.write([record(0)])
        yesterday = time.strftime("%Y-%m-%d", time.gmtime())
        tomorrow = time.time() + 86_400
        monkeypatch.setattr(time, "time", lambda: tomorrow)
        backend.write([record(1)])
        assert backend.wait_compressed(WAIT_S)
        backend.close()
        assert checked_by_tools(tmp_path) == [tmp_path / f"hft.log.{yesterday}{SUFFIXES[method]}"]
        assert record_numbers(path) == [0, 1]

    def test_retention_counts_compressed_and_uncompressed(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """Rotations left uncompressed by an earlier run count as the compressed ones do: the
        newest ``retention`` rotations are kept, each once, every one compressed in the end."""
        path = tmp_path / "hft.log"
        plain = FileBackend(file_path=path, rotation="size", max_bytes=2000, retention=100)
        log(plain, range(300), every=10)
        assert len(plain.rotated_files()) > 4
        backend = FileBackend(
            file_path=path, rotation="size", max_bytes=2000, retention=4, compression=method
        )
        log(backend, range(300, 600), every=10)
        rotated = backend.rotated_files()
        assert len(rotated) == 4
        assert len(checked_by_tools(tmp_path)) == 4
        assert len(list(tmp_path.iterdir())) == 5  # four rotations and the live file
        numbers = record_numbers(path)
        assert numbers == list(range(numbers[0], 600))

    def test_the_compressed_file_keeps_the_originals_mtime(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """The compressed file has the mtime of the file it was compressed from."""
        path = tmp_path / "hft.log"
        backend = FileBackend(file_path=path, rotation="size", max_bytes=1, compression=method)
        backend.write([record(0)])
        then = 1_700_000_000 * 10**9 + 123_456_789
        os.utime(path, ns=(then, then))
        backend.write([record(1)])
        assert backend.wait_compressed(WAIT_S)
        backend.close()
        (rotated,) = rotated_groups(path)
        assert rotated.suffix == SUFFIXES[method]
        assert rotated.stat().st_mtime_ns == then

    def test_a_rotation_never_takes_a_compressed_name(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """A rotation whose name a compressed file already has takes the next free one: the
        compressed file is never compressed over."""
        path = tmp_path / "hft.log"
        backend = FileBackend(file_path=path, rotation="size", max_bytes=1, compression=method)
        backend.write([record(0)])
        backend._rotate("same")
        backend.write([record(1)])
        backend._rotate("same")
        assert backend.wait_compressed(WAIT_S)
        backend.close()
        suffix = SUFFIXES[method]
        assert sorted(p.name for p in checked_by_tools(tmp_path)) == [
            f"hft.log.same.1{suffix}",
            f"hft.log.same{suffix}",
        ]
        assert record_numbers(path) == [0, 1]


class TestSettings:
    def test_none_leaves_rotated_files_as_they_are(self, tmp_path: Path) -> None:
        """compression none (the default) compresses nothing and starts no thread."""
        path = tmp_path / "hft.log"
        backend = FileBackend(file_path=path, rotation="size", max_bytes=1)
        for i in range(3):
            backend.write([record(i)])
        assert "hft-file-compress" not in [t.name for t in threading.enumerate()]
        backend.close()
        assert len(backend.rotated_files()) == 2
        assert not checked_by_tools(tmp_path)
        assert record_numbers(path) == [0, 1, 2]

    def test_an_unknown_method_names_the_key(self, tmp_path: Path) -> None:
        """An unknown method is refused with the settings key's name."""
        with pytest.raises(ValueError, match=r"logging\.backends\.file\.compression"):
            FileBackend(file_path=tmp_path / "hft.log", compression="bzip2")  # type: ignore[arg-type]


@pytest.mark.parametrize("method", METHODS)
class TestRecovery:
    def test_a_leftover_temp_is_deleted_and_the_original_compressed(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """A ``.tmp`` a kill left is deleted; the original is compressed again."""
        path, rotated, content = rotated_by_hand(tmp_path)
        temp = rotated.with_name(rotated.name + SUFFIXES[method] + ".tmp")
        temp.write_bytes(b"torn")
        assert rotated_groups(path) == [rotated]  # a .tmp is never listed
        backend = FileBackend(file_path=path, compression=method, rotation="none")
        assert backend.wait_compressed(WAIT_S)
        backend.close()
        (compressed,) = checked_by_tools(tmp_path)
        assert contents(compressed) == content
        no_temp(tmp_path)
        assert not rotated.exists()

    def test_a_whole_twin_is_kept_and_the_original_deleted(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """An original beside a whole compressed twin (killed before the unlink): the original
        goes, the twin stays as it was (not compressed twice)."""
        path, rotated, content = rotated_by_hand(tmp_path)
        twin = compress_with_tool(rotated, method)
        assert rotated_groups(path) == [twin]  # one rotation, listed once
        inode = twin.stat().st_ino
        backend = FileBackend(file_path=path, compression=method, rotation="none")
        assert backend.wait_compressed(WAIT_S)
        backend.close()
        assert not rotated.exists()
        assert twin.stat().st_ino == inode
        assert contents(twin) == content

    def test_a_torn_twin_is_replaced_from_the_original(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """A compressed twin that does not decompress whole is deleted and made again."""
        path, rotated, content = rotated_by_hand(tmp_path, 2000)
        twin = compress_with_tool(rotated, method)
        twin.write_bytes(twin.read_bytes()[: twin.stat().st_size // 2])
        backend = FileBackend(file_path=path, compression=method, rotation="none")
        assert backend.wait_compressed(WAIT_S)
        backend.close()
        assert checked_by_tools(tmp_path) == [twin]
        assert contents(twin) == content
        assert not rotated.exists()

    def test_with_compression_off_a_temp_is_still_deleted(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """compression none after a killed compressing run: the ``.tmp`` is deleted, the
        original kept as it is."""
        path, rotated, content = rotated_by_hand(tmp_path)
        temp = rotated.with_name(rotated.name + SUFFIXES[method] + ".tmp")
        temp.write_bytes(b"torn")
        FileBackend(file_path=path, rotation="none").close()
        assert sorted(tmp_path.iterdir()) == [path, rotated]
        assert rotated.read_bytes() == content


@pytest.mark.parametrize("method", METHODS)
class TestLastLine:
    def test_a_compressed_newest_rotation_is_read(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """Just after a rotation, compressed, the last line is read from the compressed file."""
        path = tmp_path / "hft.log"
        backend = FileBackend(file_path=path, rotation="size", max_bytes=1, compression=method)
        records = [record(i) for i in range(3000)]
        backend.write(records)
        backend._rotate("x")
        assert backend.wait_compressed(WAIT_S)
        assert [p.suffix for p in backend.rotated_files()] == [SUFFIXES[method]]
        assert backend.last_line() == backend.render(records[-1:])
        backend.close()

    def test_mid_compression_the_original_is_read(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """A rotation in flight (a ``.tmp`` beside it) or renamed but not yet deleted: its last
        line is read, once, from the original or the compressed file."""
        path, rotated, content = rotated_by_hand(tmp_path)
        last = content[content.rstrip(b"\n").rfind(b"\n") + 1 :]
        temp = rotated.with_name(rotated.name + SUFFIXES[method] + ".tmp")
        temp.write_bytes(b"torn")
        assert rotated_last_line(rotated_groups(path)[-1]) == last
        temp.unlink()
        compress_with_tool(rotated, method)
        assert rotated_last_line(rotated_groups(path)[-1]) == last
        rotated.unlink()
        assert rotated_last_line(rotated_groups(path)[-1]) == last

    def test_a_corrupt_compressed_newest_rotation_reads_as_none(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """A newest rotation whose compressed file is corrupt: last_line says None (a
        replacement writer then skips nothing), never raises."""
        path, rotated, _ = rotated_by_hand(tmp_path)
        twin = compress_with_tool(rotated, method)
        twin.write_bytes(twin.read_bytes()[:20])
        rotated.unlink()
        assert rotated_last_line(rotated_groups(path)[-1]) is None


class TestListing:
    def test_a_rotation_is_listed_once_by_its_compressed_name(self, tmp_path: Path) -> None:
        """Original and compressed twin: listed once, by the compressed name; original and a
        ``.tmp``: by the original's."""
        path, rotated, _ = rotated_by_hand(tmp_path)
        temp = rotated.with_name(rotated.name + ".zst.tmp")
        temp.write_bytes(b"torn")
        assert rotated_groups(path) == [rotated]
        temp.unlink()
        twin = compress_with_tool(rotated, "gzip")
        assert rotated_groups(path) == [twin]

    def test_an_original_deleted_since_it_was_listed_is_found_compressed(
        self, tmp_path: Path
    ) -> None:
        """A rotation compressed (and its original deleted) between the listing and the sort
        keeps its place, under its compressed name."""
        _, rotated, _ = rotated_by_hand(tmp_path)
        twin = compress_with_tool(rotated, "zstd")
        os.utime(twin, ns=(5, 5))
        rotated.unlink()
        assert _entry(rotated) == (5, rotated.name, twin)

    def test_a_symlinked_rotation_is_never_read_through(self, tmp_path: Path) -> None:
        """A symlink planted as a rotated file is not followed by the reader."""
        target = tmp_path / "secret"
        target.write_bytes(b"secret\n")
        link = tmp_path / "hft.log.x"
        link.symlink_to(target)
        with pytest.raises(OSError, match="Too many levels of symbolic links"):
            list(read_rotated(link))


@pytest.mark.parametrize("method", METHODS)
def test_hft_logs_reads_every_record_once_whatever_the_compression_left(
    tmp_path: Path, method: Compression
) -> None:
    """``hft logs cat`` over what the worker wrote, then over a rotation caught between its
    rename and its delete (original and compressed file both there) and one with a ``.tmp``
    beside it: every record once, in order."""
    from tests.logging.reader.cli import hft_logs

    path = tmp_path / "hft.log"
    backend = FileBackend(
        file_path=path, rotation="size", max_bytes=3000, retention=1000, compression=method
    )
    log(backend, range(500))

    def read() -> list[int]:
        run = hft_logs("cat", "--format", "json", path)
        assert run.returncode == 0, run.stderr
        return [orjson.loads(x)["fields"]["i"] for x in run.stdout.splitlines()]

    assert read() == list(range(500))
    for i, kept in enumerate(rotated_groups(path)[:2]):
        original = kept.with_name(kept.name.removesuffix(SUFFIXES[method]))
        original.write_bytes(contents(kept))
        os.utime(original, ns=(kept.stat().st_mtime_ns,) * 2)
        if i:  # killed mid-compression: the original and a torn .tmp
            kept.with_name(kept.name + ".tmp").write_bytes(b"torn")
            kept.unlink()
        # else killed after the rename, before the delete: original and compressed file
    assert read() == list(range(500))
