"""The audit trail's file (audit._trail): its mode, one write per batch, durability, rotation."""

from __future__ import annotations

import fcntl
import os
import stat
import time
from pathlib import Path

import orjson
import pytest

from hft.logging import AuditBackend, verify_audit_files
from tests.logging.audit_files import lines, record, write_trail


def _objects(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in lines(path)]


class TestFile:
    def test_mode_0600_even_under_permissive_umask(self, tmp_path: Path) -> None:
        """The audit file is readable and writable by its owner only."""
        old = os.umask(0)
        try:
            write_trail(tmp_path / "audit.log", 1)
        finally:
            os.umask(old)
        assert stat.S_IMODE((tmp_path / "audit.log").stat().st_mode) == 0o600

    def test_existing_file_is_tightened_to_0600(self, tmp_path: Path) -> None:
        """A pre-existing file with a looser mode is set to 0600 on open."""
        path = tmp_path / "audit.log"
        path.touch(mode=0o644)
        AuditBackend(file_path=path).close()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_opened_append_only(self, tmp_path: Path) -> None:
        """The descriptor is O_APPEND, so every write lands at the end of the file."""
        backend = AuditBackend(file_path=tmp_path / "audit.log")
        try:
            assert fcntl.fcntl(backend._file.fd, fcntl.F_GETFL) & os.O_APPEND
        finally:
            backend.close()

    def test_failed_write_leaves_no_partial_batch(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A sync failure cuts the file back and keeps the chain state, so a retry is clean."""
        path = tmp_path / "audit.log"
        backend = AuditBackend(file_path=path)
        backend.write([record(0)])

        def failing_sync(_fd: int) -> None:
            raise OSError(5, "I/O error")

        monkeypatch.setattr("hft.logging.audit._trail._sync", failing_sync)
        with pytest.raises(OSError, match="I/O error"):
            backend.write([record(1)])
        monkeypatch.undo()
        backend.write([record(1)])
        backend.close()
        assert [o["seq"] for o in _objects(path)] == [0, 1]
        assert verify_audit_files([path]).exit_code == 0


class TestDurability:
    def test_every_batch_syncs_each_write(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``every_batch``: one fdatasync per write, before write returns."""
        synced: list[int] = []
        monkeypatch.setattr("hft.logging.audit._trail._sync", synced.append)
        backend = AuditBackend(file_path=tmp_path / "audit.log")
        backend.write([record(0)])
        backend.write([record(1), record(2)])
        assert len(synced) == 2
        backend.close()

    def test_interval_syncs_at_most_once_per_interval(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``interval_ms``: writes in one interval share a sync; flush or close syncs later."""
        synced: list[int] = []
        monkeypatch.setattr("hft.logging.audit._trail._sync", synced.append)
        backend = AuditBackend(
            file_path=tmp_path / "audit.log", fsync_policy="interval_ms", fsync_interval_ms=60_000
        )
        for n in range(5):
            backend.write([record(n)])
        backend.flush()
        assert synced == []
        backend.close()
        assert len(synced) == 1

    def test_interval_elapsed_flush_syncs(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Once the interval has passed, the dispatcher's periodic flush syncs pending records."""
        synced: list[int] = []
        monkeypatch.setattr("hft.logging.audit._trail._sync", synced.append)
        backend = AuditBackend(
            file_path=tmp_path / "audit.log", fsync_policy="interval_ms", fsync_interval_ms=1
        )
        backend._file.synced_at = time.monotonic()
        backend.write([record(0)])
        time.sleep(0.005)
        backend.flush()
        assert len(synced) >= 1
        backend.close()


class TestRotation:
    def test_explicit_rotate_keeps_one_chain(self, tmp_path: Path) -> None:
        """After ``rotate()``, the new file's first record links to the old file's last."""
        path = tmp_path / "audit.log"
        backend = AuditBackend(file_path=path)
        backend.write([record(0), record(1)])
        rotated = backend.rotate()
        backend.write([record(2)])
        backend.close()
        assert rotated is not None
        assert backend.rotated_files() == [rotated]
        assert _objects(path)[0]["prev"] == _objects(rotated)[-1]["digest"]
        report = verify_audit_files([path, rotated])
        assert (report.exit_code, report.records, report.last_seq) == (0, 3, 2)

    def test_size_rotation_and_restart_on_empty_file(self, tmp_path: Path) -> None:
        """Size rotation starts new files; a restart on an empty file continues from the last."""
        path = tmp_path / "audit.log"
        write_trail(path, 6, rotation="size", max_bytes=1)
        rotating = AuditBackend(file_path=path)
        rotating.rotate()  # the live file is now new and empty
        rotating.close()
        write_trail(path, 1, start=6)
        files = [path, *AuditBackend(file_path=path).rotated_files()]
        report = verify_audit_files(files)
        assert (report.exit_code, report.records, report.last_seq) == (0, 7, 6)
        assert len(files) == 7

    def test_rotate_empty_file_is_a_no_op(self, tmp_path: Path) -> None:
        """Rotating a file with nothing in it does not create an empty rotated file."""
        backend = AuditBackend(file_path=tmp_path / "audit.log")
        assert backend.rotate() is None
        backend.close()
