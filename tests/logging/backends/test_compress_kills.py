"""Compressed rotation under kill -9 (backends.compress): the writing process killed at each
step of a compression and while pruning, then started again; the writer process, through the
container's settings, compressing what it rotates, killed while it does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

import hft
from hft.logging import FileBackend, HFTLogger, LoggingPipeline
from hft.logging.backends.compress import PAUSE_ENV
from hft.logging.backends.rotated import SUFFIXES, Compression, rotated_groups
from tests._apps import REPO_SETTINGS
from tests.logging.backends.compressed import (
    METHODS,
    WAIT_S,
    checked_by_tools,
    contents,
    no_temp,
    record,
    record_numbers,
    wait,
)

SRC = str(Path(hft.__file__).resolve().parents[1])
CHILD = Path(__file__).with_name("compress_child.py")


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
        wait(flag.exists, f"the child to stop at {point}")
        if point != "pruning":  # the writes go on beside the paused worker: let them end
            wait(lambda: acks.exists() and b"done" in acks.read_bytes(), "the writes")
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
        backend.write([record(j) for j in range(i, i + 10)])
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
        assert record_numbers(path) == list(range(_last_ack(acks) + 1))  # as the kill left it
        _restart(path, method, 600)
        no_temp(path.parent)
        assert len(checked_by_tools(path.parent)) == len(rotated_groups(path)) > 10
        assert record_numbers(path) == list(range(800))

    def test_a_kill_while_pruning_leaves_every_kept_record_once(
        self, tmp_path: Path, method: Compression
    ) -> None:
        """kill -9 between two deletions of a prune: what is kept is in order, each record once,
        up to the last written (the oldest rotation, in the worker's hands, is kept beyond
        retention); after a restart, ``retention`` rotations, all compressed, a run of records."""
        path, acks = _killed_at(tmp_path, method, "pruning", retention=3)
        numbers = record_numbers(path)
        assert numbers == sorted(set(numbers))
        assert numbers[-1] == _last_ack(acks)
        _restart(path, method, _last_ack(acks) + 1, retention=3)
        no_temp(path.parent)
        assert len(rotated_groups(path)) == len(checked_by_tools(path.parent)) == 3
        numbers = record_numbers(path)
        assert numbers == list(range(numbers[0], _last_ack(acks) + 201))

    def test_the_file_in_hand_is_never_pruned(self, tmp_path: Path, method: Compression) -> None:
        """Rotations go on while the worker holds the first one, retention 1: prunes delete
        the others, never the one in hand; a restart compresses it, and prunes it in turn."""
        flag = tmp_path / "flag"  # the child writes on once the worker holds the first rotation
        path, _ = _killed_at(tmp_path, method, "partial", retention=1, await_=str(flag))
        (in_hand, *kept) = rotated_groups(path)
        assert in_hand.with_name(in_hand.name + SUFFIXES[method] + ".tmp").exists()
        assert len(kept) == 1  # the rotations after it were pruned around it
        numbers = record_numbers(path)
        assert numbers[0] == 0
        assert numbers == sorted(set(numbers))
        assert numbers[-1] == 599
        _restart(path, method, 600, retention=1)
        no_temp(path.parent)
        assert len(rotated_groups(path)) == len(checked_by_tools(path.parent)) == 1


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

    wait(lambda: len(rotated()) > 10, "the writer's rotations")
    wait(lambda: all(p.suffix == suffix for p in rotated()), "the writer's compressions")
    assert "hft-file-compress" not in [t.name for t in threading.enumerate()]  # not here
    app.shutdown_resources()
    assert len(rotated()) > 10
    assert checked_by_tools(tmp_path) == rotated()
    no_temp(tmp_path)
    lines = [orjson.loads(x) for p in [*rotated(), path] for x in contents(p).splitlines()]
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
    no_temp(tmp_path)  # a kill's .tmp was cleared by the writer that came next, or is the last
    mine = [
        orjson.loads(line)["fields"]["i"]
        for p in [*rotated_groups(path), path]
        for line in contents(p).splitlines()
        if b'"logger":"x"' in line
    ]
    assert len(mine) == len(set(mine)) == 40_000  # none twice, none missing
    assert len(rotated_groups(path)) > 2
    assert checked_by_tools(tmp_path)  # each accepted by -t (how many the worker finished: timing)
