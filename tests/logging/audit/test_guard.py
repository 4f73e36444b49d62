"""The audit slot under real faults: every audit() call lands in the trail or raises.

Full disk: a 256 KiB tmpfs. Read-only: an ext4 image remounted read-only by the kernel.
Deleted folder: ``rmtree`` under the running backend. Each test counts the records in the
trail and holds them against the calls made, the calls that raised and the counts reported.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hft.logging import (
    AuditBackend,
    AuditWriteError,
    HFTLogger,
    LoggingPipeline,
    verify_audit_files,
)
from hft.logging.audit._guard import AuditSlot
from hft.logging.pipeline.metrics import BackendStats
from hft.logging.testing import CapturingBackend
from tests.logging.faultfs import (
    ext4,
    field_values,
    fill,
    make_read_only,
    tmpfs,
    trail_records,
)

PAD = "x" * 300  #: about 650 bytes a record: some 400 fit in 256 KiB


def _start(path: Path, tmp_path: Path, **settings: Any) -> tuple[LoggingPipeline, HFTLogger]:
    backend = AuditBackend(file_path=path, **settings)
    pipeline = LoggingPipeline(
        [backend, CapturingBackend(level="WARNING")],
        ring_buffer_size=64,
        spill_dir=tmp_path / "spill",
    ).start()
    return pipeline, HFTLogger(pipeline, "desk.audit")


def _audit_stats(pipeline: LoggingPipeline) -> BackendStats:
    guard = pipeline.audit_guard
    assert isinstance(guard, AuditSlot)
    return guard.stats()


def _warnings(pipeline: LoggingPipeline) -> list[str]:
    capture = next(s.backend for s in pipeline.slots if isinstance(s.backend, CapturingBackend))
    assert isinstance(capture, CapturingBackend)
    return [r.msg for r in capture.logs() if r.level == "WARNING"]


def _call(log: HFTLogger, n: int, raised: list[int]) -> None:
    try:
        log.audit("order.filled", i=n, pad=PAD)
    except AuditWriteError:
        raised.append(n)


class TestFullDisk:
    def test_3100_calls_land_or_raise_and_held_records_follow_in_order(
        self, tmp_path: Path
    ) -> None:
        """ENOSPC, raise policy: trail + raised + held == calls, flush() False while held;
        freeing room writes the held records in order; then trail + raised == calls, verify
        INTACT, counts agree, and the call site is fast again."""
        with tmpfs() as mnt:
            fill(mnt / "ballast", 128 * 1024)
            path = mnt / "audit.log"
            pipeline, log = _start(path, tmp_path, on_failure="raise")
            raised: list[int] = []
            for n in range(3100):
                _call(log, n, raised)
            held = _audit_stats(pipeline).pending
            during = field_values(trail_records(path))
            assert raised, "the disk never filled"
            assert len(during) + len(raised) + held == 3100
            assert getattr(log.audit, "capacity", 0) == 0  # every call takes the slow path
            assert not pipeline.flush(0.2) or held == 0  # flush says the held are not written
            (mnt / "ballast").unlink()
            assert pipeline.flush(10)
            assert getattr(log.audit, "capacity", 64) == 64  # the fast path is back
            written = field_values(trail_records(path))
            stats = _audit_stats(pipeline)
            pipeline.close()
            assert written == sorted(written)  # in call order, the held ones included
            assert sorted(written + raised) == list(range(3100))
            assert stats.written == len(written)
            assert stats.extra["raised"] == len(raised)
            assert (stats.lost, stats.pending, stats.failed_over) == (0, 0, 0)
            report = verify_audit_files([path])
            assert report.exit_code == 0, report.render()
            assert report.records == len(written)
            assert "audit trail failing: audit() now waits for its record" in _warnings(pipeline)
            assert not (tmp_path / "spill").exists()

    def test_block_policy_returns_once_room_is_made(self, tmp_path: Path) -> None:
        """block: a call made while the disk is full returns when its record is written."""
        with tmpfs() as mnt:
            fill(mnt / "ballast", 200 * 1024)
            path = mnt / "audit.log"
            pipeline, log = _start(path, tmp_path, failure_timeout_ms=20_000)
            raised: list[int] = []
            n = 0
            while not _audit_stats(pipeline).write_errors:
                _call(log, n, raised)
                n += 1
                pipeline.flush(5)
            freed = threading.Timer(0.3, (mnt / "ballast").unlink)
            freed.start()
            _call(log, n, raised)  # blocks until the timer frees room
            freed.join()
            written = field_values(trail_records(path))
            pipeline.close()
            assert raised == []
            assert written == list(range(n + 1))
            assert verify_audit_files([path]).exit_code == 0

    def test_block_policy_times_out_and_the_record_is_never_written(self, tmp_path: Path) -> None:
        """block: after failure_timeout_ms the call raises; its record stays out for good."""
        with tmpfs() as mnt:
            fill(mnt / "ballast", 200 * 1024)
            path = mnt / "audit.log"
            pipeline, log = _start(path, tmp_path, failure_timeout_ms=100)
            raised: list[int] = []
            n = 0
            while not raised:
                _call(log, n, raised)
                n += 1
            for extra in range(n, n + 5):
                _call(log, extra, raised)
            (mnt / "ballast").unlink()
            assert pipeline.flush(10)
            written = field_values(trail_records(path))
            stats = _audit_stats(pipeline)
            pipeline.close()
            assert set(raised).isdisjoint(written)
            assert sorted(written + raised) == list(range(n + 5))
            assert stats.written == len(written)
            assert stats.extra["raised"] == len(raised)
            assert verify_audit_files([path]).exit_code == 0

    def test_close_while_full_loses_held_records_into_a_sealed_gap(self, tmp_path: Path) -> None:
        """close() with the disk still full: held records are counted lost, noted, and sealed
        as a gap record at the next start; verify reports GAP (rc 1) before and after."""
        with tmpfs() as mnt:
            fill(mnt / "ballast", 200 * 1024)
            path = mnt / "audit.log"
            pipeline, log = _start(path, tmp_path, on_failure="raise")
            raised: list[int] = []
            for n in range(200):  # the first ones take the fast path: accepted, then held
                _call(log, n, raised)
            pipeline.close()
            stats = _audit_stats(pipeline)
            written = field_values(trail_records(path))
            assert stats.lost > 0
            assert len(written) + len(raised) + stats.lost == 200
            assert stats.written == len(written)
            pending = verify_audit_files([path])
            assert pending.exit_code == 1
            assert pending.render().startswith("GAP")
            assert f"{stats.lost} audit record(s) lost" in pending.render()
            (mnt / "ballast").unlink()
            AuditBackend(file_path=path).close()  # the next start seals the gap record
            records = trail_records(path)
            (gap,) = [r for r in records if r["event"] == "audit.gap"]
            assert gap["fields"]["lost"] == stats.lost  # type: ignore[index]
            spans = gap["fields"]["pipeline_seqs"]  # type: ignore[index]
            assert sum(b - a + 1 for a, b in spans) == stats.lost
            report = verify_audit_files([path])
            assert report.exit_code == 1
            assert [p.kind for p in report.problems] == ["records_lost"]
            assert "gap record" in report.render()


class TestThreads:
    def test_concurrent_callers_each_land_or_raise_while_room_comes_and_goes(
        self, tmp_path: Path
    ) -> None:
        """Four threads, block policy, the disk full then freed mid-run: no record is both
        raised and written, none is missing, none written twice, each thread's in order."""
        with tmpfs("512k") as mnt:
            fill(mnt / "ballast", 380 * 1024)
            path = mnt / "audit.log"
            pipeline, log = _start(path, tmp_path, failure_timeout_ms=50)
            raised: list[int] = []
            lock = threading.Lock()

            def worker(base: int) -> None:
                mine: list[int] = []
                for n in range(base, base + 300):
                    try:
                        log.audit("order.filled", i=n)  # ~330 bytes: all 1,200 fit once freed
                    except AuditWriteError:
                        mine.append(n)
                with lock:
                    raised.extend(mine)

            threads = [threading.Thread(target=worker, args=(k * 1000,)) for k in range(4)]
            for thread in threads:
                thread.start()
            time.sleep(0.5)
            (mnt / "ballast").unlink()
            for thread in threads:
                thread.join()
            assert pipeline.flush(10)
            stats = _audit_stats(pipeline)
            pipeline.close()
            written = field_values(trail_records(path))
            calls = [k * 1000 + n for k in range(4) for n in range(300)]
            assert raised, "the disk never filled"
            assert sorted(written + raised) == calls
            for k in range(4):
                mine = [n for n in written if n // 1000 == k]
                assert mine == sorted(mine)
            assert stats.written == len(written)
            assert stats.extra["raised"] == len(raised)
            assert verify_audit_files([path]).exit_code == 0


class TestDurable:
    def test_each_call_returns_with_its_record_in_the_file(self, tmp_path: Path) -> None:
        """durable: when audit() returns, its record is already in the trail file."""
        path = tmp_path / "audit.log"
        pipeline, log = _start(path, tmp_path, durable=True)
        try:
            for n in range(20):
                log.audit("order.filled", i=n)
                assert field_values(trail_records(path)) == list(range(n + 1))
        finally:
            pipeline.close()


class TestReadOnly:
    def test_durable_calls_land_or_raise_when_the_fs_turns_read_only(self, tmp_path: Path) -> None:
        """EROFS, durable: every returned call is in the trail, every other one raised."""
        with ext4() as mnt:
            path = mnt / "audit.log"
            pipeline, log = _start(path, tmp_path, on_failure="raise", durable=True)
            raised: list[int] = []
            for n in range(300):
                if n == 100:
                    make_read_only(mnt)
                _call(log, n, raised)
            stats = _audit_stats(pipeline)
            pipeline.close()
            written = field_values(trail_records(path))
            assert written == list(range(100))
            assert raised == list(range(100, 300))
            assert stats.written == 100
            assert stats.extra["raised"] == 200
            assert stats.lost == 0
            assert verify_audit_files([path]).exit_code == 0

    def test_async_records_held_at_close_on_read_only_are_counted_and_warned(
        self, tmp_path: Path
    ) -> None:
        """EROFS, fast path: records accepted then never written are counted lost and warned
        about (the loss note cannot be written on a read-only file system)."""
        with ext4() as mnt:
            path = mnt / "audit.log"
            pipeline, log = _start(path, tmp_path, failure_timeout_ms=20)
            for n in range(50):
                log.audit("order.filled", i=n, pad=PAD)
            assert pipeline.flush(5)
            make_read_only(mnt)
            raised: list[int] = []
            for n in range(50, 300):
                _call(log, n, raised)
            pipeline.close()
            stats = _audit_stats(pipeline)
            written = field_values(trail_records(path))
            assert written[:50] == list(range(50))
            assert len(written) + len(raised) + stats.lost == 300
            assert stats.written == len(written)
            assert "audit records lost: the trail could not be written before close" in (
                _warnings(pipeline)
            )


class TestDeletedFolder:
    def test_calls_raise_until_the_folder_is_back_then_the_chain_goes_on(
        self, tmp_path: Path
    ) -> None:
        """Folder deleted: calls raise (never written to the orphan); once the folder is back
        the held records go to a new file, and verify reports the deleted records (rc 1)."""
        with tmpfs("4m") as mnt:
            folder = mnt / "logs"
            path = folder / "audit.log"
            pipeline, log = _start(path, tmp_path, on_failure="raise")
            for n in range(20):
                log.audit("order.filled", i=n)
            assert pipeline.flush(5)
            shutil.rmtree(folder)
            raised: list[int] = []
            for n in range(20, 120):
                _call(log, n, raised)
                time.sleep(0.001)
            held = _audit_stats(pipeline).pending
            assert raised
            assert len(raised) + held == 100
            folder.mkdir()
            assert pipeline.flush(10)
            stats = _audit_stats(pipeline)
            pipeline.close()
            written = field_values(trail_records(path))
            assert sorted(written + raised) == list(range(20, 120))
            assert stats.written == 20 + len(written)
            report = verify_audit_files([path])
            assert report.exit_code == 1, report.render()
            assert report.of_kind("gap")


@pytest.mark.parametrize("policy", ["block", "raise"])
def test_healthy_trail_keeps_the_fast_path(tmp_path: Path, policy: str) -> None:
    """While the trail is healthy audit() is the C call site with the ring's capacity."""
    pipeline, log = _start(tmp_path / "audit.log", tmp_path, on_failure=policy)
    try:
        assert getattr(log.audit, "capacity", None) == pipeline.capacity
    finally:
        pipeline.close()
