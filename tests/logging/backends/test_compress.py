"""Compressed rotation (backends.compress): Debian's gzip and zstd accept every rotated file,
every record is there once after decompression, kills at each step leave it so, retention
counts every rotation once, the writer process compresses off its loop."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

import hft
from hft.logging import FileBackend, HFTLogger, LoggingPipeline
from hft.logging.backends.compress import (
    PAUSE_ENV,
    SUFFIXES,
    Compression,
    _entry,
    read_rotated,
    rotated_groups,
)
from hft.logging.backends.file import rotated_last_line
from hft.logging.record import Record, Source
from tests._apps import REPO_SETTINGS
from tests.needs import cannot

SOURCE = Source.create("orders", ("mexc",), {})
SRC = str(Path(hft.__file__).resolve().parents[1])
CHILD = Path(__file__).with_name("compress_child.py")
METHODS: tuple[Compression, ...] = ("gzip", "zstd")
TOOL = {".gz": "gzip", ".zst": "zstd"}
WAIT_S = 60.0  #: longest wait for a child or the worker (a loaded machine; never a timing)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        cannot(f"Debian's {name} is not installed")
    return found


def _contents(path: Path) -> bytes:
    """The bytes of a rotated or live file, decompressed by Debian's own tool."""
    if path.suffix not in TOOL:
        return path.read_bytes()
    run = subprocess.run(
        [_tool(TOOL[path.suffix]), "-dc", str(path)], check=False, capture_output=True
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def _tested(folder: Path) -> list[Path]:
    """Every compressed file in *folder*, each accepted by ``gzip -t`` / ``zstd -t``."""
    found = sorted(p for p in folder.iterdir() if p.suffix in TOOL)
    for path in found:
        run = subprocess.run(
            [_tool(TOOL[path.suffix]), "-t", "-q", str(path)], check=False, capture_output=True
        )
        assert run.returncode == 0, (path, run.stderr)
    return found


def _numbers(log: Path) -> list[int]:
    """The record numbers in the log's rotated files (decompressed) and then the live file."""
    files = [*rotated_groups(log), *([log] if log.exists() else [])]
    return [orjson.loads(line)["fields"]["i"] for p in files for line in _contents(p).splitlines()]


def _record(i: int) -> Record:
    return (i, time.time_ns(), 20, SOURCE, "m", {"i": i})


def _log(backend: FileBackend, numbers: range, every: int = 50) -> None:
    """Log *numbers* through a pipeline, flushed every *every*; wait for the compressions."""
    pipeline = LoggingPipeline([backend], batch_size=every).start()
    logger = HFTLogger(pipeline, "x")
    for i in numbers:
        logger.info("m", i=i)
        if i % every == every - 1:
            pipeline.flush()
    pipeline.flush()
    assert backend.wait_compressed(WAIT_S)
    pipeline.close()


def _no_temp(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


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
        _log(backend, range(3000))
        rotated = backend.rotated_files()
        assert len(rotated) > 10
        assert {p.suffix for p in rotated} == {SUFFIXES[method]}
        assert _tested(tmp_path) == sorted(rotated)
        assert _numbers(path) == list(range(3000))
        _no_temp(tmp_path)

    def test_daily_rotation_compresses_yesterday(
        self, tmp_path: Path, method: Compression, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A write on a new UTC day moves yesterday's file aside and compresses it."""
        path = tmp_path / "hft.log"
        backend = FileBackend(file_path=path, rotation="daily", compression=method)
        backend.write([_record(0)])
        yesterday = time.strftime("%Y-%m-%d", time.gmtime())
        tomorrow = time.time() + 86_400
        monkeypatch.setattr(time, "time", lambda: tomorrow)
        backend.write([_record(1)])
        assert backend.wait_compressed(WAIT_S)
        backend.close()
        assert _tested(tmp_path) == [tmp_path / f"hft.log.{yesterday}{SUFFIXES[method]}"]
        assert _numbers(path) == [0, 1]

    def test_retention_counts_compressed_and_uncompressed(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """Rotations left uncompressed by an earlier run count as the compressed ones do: the
        newest ``retention`` rotations are kept, each once, every one compressed in the end."""
        path = tmp_path / "hft.log"
        plain = FileBackend(file_path=path, rotation="size", max_bytes=2000, retention=100)
        _log(plain, range(300), every=10)
        assert len(plain.rotated_files()) > 4
        backend = FileBackend(
            file_path=path, rotation="size", max_bytes=2000, retention=4, compression=method
        )
        _log(backend, range(300, 600), every=10)
        rotated = backend.rotated_files()
        assert len(rotated) == 4
        assert len(_tested(tmp_path)) == 4
        assert len(list(tmp_path.iterdir())) == 5  # four rotations and the live file
        numbers = _numbers(path)
        assert numbers == list(range(numbers[0], 600))

    def test_the_compressed_file_keeps_the_originals_mtime(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """The compressed file has the mtime of the file it was compressed from."""
        path = tmp_path / "hft.log"
        backend = FileBackend(file_path=path, rotation="size", max_bytes=1, compression=method)
        backend.write([_record(0)])
        then = 1_700_000_000 * 10**9 + 123_456_789
        os.utime(path, ns=(then, then))
        backend.write([_record(1)])
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
        backend.write([_record(0)])
        backend._rotate("same")
        backend.write([_record(1)])
        backend._rotate("same")
        assert backend.wait_compressed(WAIT_S)
        backend.close()
        suffix = SUFFIXES[method]
        assert sorted(p.name for p in _tested(tmp_path)) == [
            f"hft.log.same.1{suffix}",
            f"hft.log.same{suffix}",
        ]
        assert _numbers(path) == [0, 1]


class TestSettings:
    def test_none_leaves_rotated_files_as_they_are(self, tmp_path: Path) -> None:
        """compression none (the default) compresses nothing and starts no thread."""
        path = tmp_path / "hft.log"
        backend = FileBackend(file_path=path, rotation="size", max_bytes=1)
        for i in range(3):
            backend.write([_record(i)])
        assert "hft-file-compress" not in [t.name for t in threading.enumerate()]
        backend.close()
        assert len(backend.rotated_files()) == 2
        assert not _tested(tmp_path)
        assert _numbers(path) == [0, 1, 2]

    def test_an_unknown_method_names_the_key(self, tmp_path: Path) -> None:
        """An unknown method is refused with the settings key's name."""
        with pytest.raises(ValueError, match=r"logging\.backends\.file\.compression"):
            FileBackend(file_path=tmp_path / "hft.log", compression="bzip2")  # type: ignore[arg-type]


def _rotated_by_hand(tmp_path: Path, n: int = 50) -> tuple[Path, Path, bytes]:
    """A log with one rotated file of *n* records made uncompressed; its path and bytes."""
    path = tmp_path / "hft.log"
    backend = FileBackend(file_path=path, rotation="size", max_bytes=1)
    backend.write([_record(i) for i in range(n)])
    backend.write([_record(n)])
    backend.close()
    (rotated,) = rotated_groups(path)
    return path, rotated, rotated.read_bytes()


def _compress_with_tool(original: Path, method: Compression) -> Path:
    """*original* compressed by Debian's tool beside it (the original kept)."""
    out = original.with_name(original.name + SUFFIXES[method])
    name = "gzip" if method == "gzip" else "zstd"
    out.write_bytes(
        subprocess.run([_tool(name), "-c", str(original)], check=False, capture_output=True).stdout
    )
    return out


@pytest.mark.parametrize("method", METHODS)
class TestRecovery:
    def test_a_leftover_temp_is_deleted_and_the_original_compressed(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """A ``.tmp`` a kill left is deleted; the original is compressed again."""
        path, rotated, content = _rotated_by_hand(tmp_path)
        temp = rotated.with_name(rotated.name + SUFFIXES[method] + ".tmp")
        temp.write_bytes(b"torn")
        assert rotated_groups(path) == [rotated]  # a .tmp is never listed
        backend = FileBackend(file_path=path, compression=method, rotation="none")
        assert backend.wait_compressed(WAIT_S)
        backend.close()
        (compressed,) = _tested(tmp_path)
        assert _contents(compressed) == content
        _no_temp(tmp_path)
        assert not rotated.exists()

    def test_a_whole_twin_is_kept_and_the_original_deleted(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """An original beside a whole compressed twin (killed before the unlink): the original
        goes, the twin stays as it was (not compressed twice)."""
        path, rotated, content = _rotated_by_hand(tmp_path)
        twin = _compress_with_tool(rotated, method)
        assert rotated_groups(path) == [twin]  # one rotation, listed once
        inode = twin.stat().st_ino
        backend = FileBackend(file_path=path, compression=method, rotation="none")
        assert backend.wait_compressed(WAIT_S)
        backend.close()
        assert not rotated.exists()
        assert twin.stat().st_ino == inode
        assert _contents(twin) == content

    def test_a_torn_twin_is_replaced_from_the_original(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """A compressed twin that does not decompress whole is deleted and made again."""
        path, rotated, content = _rotated_by_hand(tmp_path, 2000)
        twin = _compress_with_tool(rotated, method)
        twin.write_bytes(twin.read_bytes()[: twin.stat().st_size // 2])
        backend = FileBackend(file_path=path, compression=method, rotation="none")
        assert backend.wait_compressed(WAIT_S)
        backend.close()
        assert _tested(tmp_path) == [twin]
        assert _contents(twin) == content
        assert not rotated.exists()

    def test_with_compression_off_a_temp_is_still_deleted(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """compression none after a killed compressing run: the ``.tmp`` is deleted, the
        original kept as it is."""
        path, rotated, content = _rotated_by_hand(tmp_path)
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
        records = [_record(i) for i in range(3000)]
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
        path, rotated, content = _rotated_by_hand(tmp_path)
        last = content[content.rstrip(b"\n").rfind(b"\n") + 1 :]
        temp = rotated.with_name(rotated.name + SUFFIXES[method] + ".tmp")
        temp.write_bytes(b"torn")
        assert rotated_last_line(rotated_groups(path)[-1]) == last
        temp.unlink()
        _compress_with_tool(rotated, method)
        assert rotated_last_line(rotated_groups(path)[-1]) == last
        rotated.unlink()
        assert rotated_last_line(rotated_groups(path)[-1]) == last

    def test_a_corrupt_compressed_newest_rotation_reads_as_none(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """A newest rotation whose compressed file is corrupt: last_line says None (a
        replacement writer then skips nothing), never raises."""
        path, rotated, _ = _rotated_by_hand(tmp_path)
        twin = _compress_with_tool(rotated, method)
        twin.write_bytes(twin.read_bytes()[:20])
        rotated.unlink()
        assert rotated_last_line(rotated_groups(path)[-1]) is None


class TestListing:
    def test_a_rotation_is_listed_once_by_its_compressed_name(self, tmp_path: Path) -> None:
        """Original and compressed twin: listed once, by the compressed name; original and a
        ``.tmp``: by the original's."""
        path, rotated, _ = _rotated_by_hand(tmp_path)
        temp = rotated.with_name(rotated.name + ".zst.tmp")
        temp.write_bytes(b"torn")
        assert rotated_groups(path) == [rotated]
        temp.unlink()
        twin = _compress_with_tool(rotated, "gzip")
        assert rotated_groups(path) == [twin]

    def test_an_original_deleted_since_it_was_listed_is_found_compressed(
        self, tmp_path: Path
    ) -> None:
        """A rotation compressed (and its original deleted) between the listing and the sort
        keeps its place, under its compressed name."""
        _, rotated, _ = _rotated_by_hand(tmp_path)
        twin = _compress_with_tool(rotated, "zstd")
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


def _wait(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _killed_at(
    tmp_path: Path, method: Compression, point: str, **spec: object
) -> tuple[Path, list[str]]:
    """Run the child with *point* asked for, SIGKILL it there; the log and its acks."""
    path, flag, acks = tmp_path / "log" / "hft.log", tmp_path / "flag", tmp_path / "acks"
    settings = {"path": str(path), "compression": method, "acks": str(acks), "retention": 1000,
                "max_bytes": 3000, "first": 0, "n": 600, "batch": 10,
                **{k.rstrip("_"): v for k, v in spec.items()}}  # fmt: skip
    env = {**os.environ, "PYTHONPATH": SRC, PAUSE_ENV: f"{point}:{flag}"}
    child = subprocess.Popen([sys.executable, str(CHILD), orjson.dumps(settings)], env=env)
    try:
        _wait(flag.exists, f"the child to stop at {point}")
        if point != "pruning":  # the writes go on beside the paused worker: let them end
            _wait(lambda: acks.exists() and b"done" in acks.read_bytes(), "the writes")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    return path, acks.read_text().split()


def _last_ack(acks: list[str]) -> int:
    return int([word for word in acks if word.isdigit()][-1])


def _restart(path: Path, method: Compression, first: int, retention: int = 1000) -> None:
    """A new backend on the killed one's path: recovery, then 200 more records."""
    backend = FileBackend(
        file_path=path, rotation="size", max_bytes=3000, retention=retention, compression=method
    )
    for i in range(first, first + 200, 10):
        backend.write([_record(j) for j in range(i, i + 10)])
    assert backend.wait_compressed(WAIT_S)
    backend.close()


@pytest.mark.parametrize("method", METHODS)
class TestKills:
    @pytest.mark.parametrize("point", ["partial", "synced", "renamed"])
    def test_a_kill_while_compressing_leaves_every_record_once(
        self, tmp_path: Path, method: Compression, point: str
    ) -> None:
        """kill -9 with the temporary file partly written, fsynced but not renamed, or renamed
        with the original not yet deleted: every record is readable once, then and after a
        restart, which leaves no ``.tmp`` and every rotation compressed and accepted by -t."""
        path, acks = _killed_at(tmp_path, method, point)
        suffix = SUFFIXES[method]
        first = rotated_groups(path)[0]
        left = {"partial": suffix + ".tmp", "synced": suffix + ".tmp", "renamed": suffix}[point]
        assert first.with_name(first.name.removesuffix(suffix) + left).exists()
        assert _numbers(path) == list(range(_last_ack(acks) + 1))  # as the kill left it
        _restart(path, method, 600)
        _no_temp(path.parent)
        assert len(_tested(path.parent)) == len(rotated_groups(path)) > 10
        assert _numbers(path) == list(range(800))

    def test_a_kill_while_pruning_leaves_every_kept_record_once(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """kill -9 between two deletions of a prune: what is kept is in order, each record once,
        up to the last written (the oldest rotation, in the worker's hands, is kept beyond
        retention); after a restart, ``retention`` rotations, all compressed, a run of records."""
        path, acks = _killed_at(tmp_path, method, "pruning", retention=3)
        numbers = _numbers(path)
        assert numbers == sorted(set(numbers))
        assert numbers[-1] == _last_ack(acks)
        _restart(path, method, _last_ack(acks) + 1, retention=3)
        _no_temp(path.parent)
        assert len(rotated_groups(path)) == len(_tested(path.parent)) == 3
        numbers = _numbers(path)
        assert numbers == list(range(numbers[0], _last_ack(acks) + 201))

    def test_the_file_in_hand_is_never_pruned(self, tmp_path: Path, method: Compression) -> None:
        """Rotations go on while the worker holds the first one, retention 1: prunes delete
        the others, never the one in hand; a restart compresses it, and prunes it in turn."""
        flag = tmp_path / "flag"  # the child writes on once the worker holds the first rotation
        path, _ = _killed_at(tmp_path, method, "partial", retention=1, await_=str(flag))
        (in_hand, *kept) = rotated_groups(path)
        assert in_hand.with_name(in_hand.name + SUFFIXES[method] + ".tmp").exists()
        assert len(kept) == 1  # the rotations after it were pruned around it
        numbers = _numbers(path)
        assert numbers[0] == 0
        assert numbers == sorted(set(numbers))
        assert numbers[-1] == 599
        _restart(path, method, 600, retention=1)
        _no_temp(path.parent)
        assert len(rotated_groups(path)) == len(_tested(path.parent)) == 1


@pytest.mark.parametrize("method", METHODS)
def test_the_writer_process_compresses_what_it_rotates(tmp_path: Path, method: Compression) -> None:
    """Settings through the container (the shipped way): the writer process rotates by size
    and its own worker compresses; every rotated file passes -t, every record is there once."""
    from hft.containers import create_application

    path = tmp_path / "hft.log"
    app = create_application("dev", REPO_SETTINGS, env={})
    file = app.config.logging.backends.file
    app.config.logging.backends.console.enabled.override(False)
    file.file_path.override(str(path))
    file.rotation.override("size")
    file.max_bytes.override(20_000)
    file.retention.override(1000)
    file.compression.override(method)
    app.config.logging.hft_settings.spill_dir.override(str(tmp_path / "spill"))
    app.init_resources()
    logger = app.logging.logger(name="bulk")
    pipeline: LoggingPipeline = app.logging.pipeline()
    for i in range(5000):
        logger.info("m", i=i)
        if i % 100 == 99:
            pipeline.flush()  # batches of a hundred: the writer rotates between them
    suffix = SUFFIXES[method]

    def rotated() -> list[Path]:
        return rotated_groups(path)

    _wait(lambda: len(rotated()) > 10, "the writer's rotations")
    _wait(lambda: all(p.suffix == suffix for p in rotated()), "the writer's compressions")
    assert "hft-file-compress" not in [t.name for t in threading.enumerate()]  # not here
    app.shutdown_resources()
    assert len(rotated()) > 10
    assert _tested(tmp_path) == rotated()
    _no_temp(tmp_path)
    lines = [orjson.loads(x) for p in [*rotated(), path] for x in _contents(p).splitlines()]
    assert [x["fields"]["i"] for x in lines if x["logger"] == "bulk"] == list(range(5000))


@pytest.mark.parametrize("method", METHODS)
def test_writers_killed_while_rotating_and_compressing_write_each_record_once(
    tmp_path: Path, method: Compression
) -> None:
    """The writer process killed (kill -9) several times while it rotates every few batches and
    its worker compresses: each replacement finds the last line (in the live file, or the newest
    rotation, compressed or in flight) and every record is in the files once."""
    from tests.logging.test_failover import wait_until
    from tests.logging.writer.helpers import process_file
    from tests.logging.writer.test_supervisor import _Killer

    path = tmp_path / "hft.log"
    backend = process_file(
        path, rotation="size", max_bytes=30_000, retention=100_000, compression=method
    )
    pipeline = LoggingPipeline([backend], block_timeout_ms=10_000).start()
    logger = HFTLogger(pipeline, "x")
    killer = _Killer(backend, kills=4, every_s=0.2)
    killer.start()
    for i in range(40_000):
        logger.info("m", i=i)
        if i % 500 == 499:
            time.sleep(0.01)
    wait_until(lambda: killer.done >= 2, timeout=60)
    killer.stop.set()
    killer.join()
    pipeline.close()
    _no_temp(tmp_path)  # a kill's .tmp was cleared by the writer that came next, or is the last
    mine = [
        orjson.loads(line)["fields"]["i"]
        for p in [*rotated_groups(path), path]
        for line in _contents(p).splitlines()
        if b'"logger":"x"' in line
    ]
    assert len(mine) == len(set(mine)) == 40_000  # none twice, none missing
    assert len(rotated_groups(path)) > 2
    assert _tested(tmp_path)  # each accepted by -t (how many the worker finished: timing)
