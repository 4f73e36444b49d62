"""The audit backend writes only its own trail: no symlink, no foreign file, its own mode,
and a forked child's chain of its own."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hft.logging import (
    AuditBackend,
    AuditPathError,
    HFTLogger,
    LoggingPipeline,
    create_backend_from_config,
    verify_audit_files,
)
from hft.logging.audit._files import child_path
from tests.logging.audit_files import record, write_trail
from tests.logging.faultfs import trail_records

KEY = "logging.backends.audit.file_path"


def _snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), stat.S_IMODE(path.stat().st_mode)


def _siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


class TestRefused:
    def test_symlink_is_refused_and_its_target_untouched(self, tmp_path: Path) -> None:
        """A symlink at file_path is refused naming the key; the target keeps bytes and mode."""
        target = tmp_path / "precious.txt"
        target.write_bytes(b"not an audit trail\npartial line")
        target.chmod(0o644)
        link = tmp_path / "logs" / "audit.log"
        link.parent.mkdir()
        link.symlink_to(target)
        before = _snapshot(target)
        with pytest.raises(AuditPathError, match=KEY):
            AuditBackend(file_path=link)
        assert _snapshot(target) == before
        assert _siblings(tmp_path) == ["logs", "precious.txt"]
        assert _siblings(link.parent) == ["audit.log"]

    def test_symlink_to_a_real_trail_is_refused_too(self, tmp_path: Path) -> None:
        """Even a link to a genuine trail is refused: the last component is never followed."""
        real = tmp_path / "real.log"
        write_trail(real, 3)
        before = _snapshot(real)
        link = tmp_path / "audit.log"
        link.symlink_to(real)
        with pytest.raises(AuditPathError, match="symbolic link"):
            AuditBackend(file_path=link)
        assert _snapshot(real) == before

    def test_foreign_file_is_refused_untouched(self, tmp_path: Path) -> None:
        """A file that is not a trail is not truncated, moved aside or chmodded."""
        path = tmp_path / "audit.log"
        path.write_bytes(b"2026-12-02 some other log\nhalf a line")
        path.chmod(0o644)
        before = _snapshot(path)
        with pytest.raises(AuditPathError, match=f"{KEY}: .* not an audit trail"):
            create_backend_from_config("audit", {"file_path": str(path)})
        assert _snapshot(path) == before
        assert _siblings(tmp_path) == ["audit.log"]

    def test_directory_is_refused(self, tmp_path: Path) -> None:
        """A directory at file_path is refused with the key in the message."""
        (tmp_path / "audit.log").mkdir()
        with pytest.raises(AuditPathError, match=KEY):
            AuditBackend(file_path=tmp_path / "audit.log")

    def test_own_trail_with_a_torn_first_line_is_continued(self, tmp_path: Path) -> None:
        """A trail whose only write was cut short is still ours: its tail is set aside."""
        path = tmp_path / "audit.log"
        path.write_bytes(b'{"alg":"sha256","ev')
        backend = AuditBackend(file_path=path)
        backend.write([record(0)])
        backend.close()
        assert backend.set_aside is not None
        assert verify_audit_files([path]).records == 1


class TestMode:
    def test_file_mode_setting_is_applied_to_new_trails(self, tmp_path: Path) -> None:
        """file_mode sets the trail's mode (and the loss note's)."""
        path = tmp_path / "audit.log"
        old = os.umask(0)
        try:
            write_trail(path, 1, file_mode=0o640)
        finally:
            os.umask(old)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        assert stat.S_IMODE((tmp_path / "audit.log.lost").stat().st_mode) == 0o640


class TestFork:
    @pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
    def test_forked_child_writes_a_sealed_chain_of_its_own(self, tmp_path: Path) -> None:
        """A child's audit records go to audit.<pid>.log, which verifies; never to spill."""
        path = tmp_path / "audit.log"
        pipeline = LoggingPipeline([AuditBackend(file_path=path)], spill_dir=tmp_path / "spill")
        pipeline.start()
        log = HFTLogger(pipeline, "desk")
        log.audit("parent.before", n=0)
        assert pipeline.flush(5)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                for n in range(5):
                    log.audit("child.order", n=n)
                code = 0 if log.flush(5) else 2
                pipeline.close()
            finally:
                os._exit(code)
        assert os.waitpid(pid, 0)[1] == 0
        log.audit("parent.after", n=1)
        pipeline.close()
        child = child_path(path, pid)
        assert child.name == f"audit.{pid}.log"
        assert [r["event"] for r in trail_records(child)] == ["child.order"] * 5
        assert [r["event"] for r in trail_records(path)] == ["parent.before", "parent.after"]
        for trail in (path, child):
            report = verify_audit_files([trail])
            assert report.exit_code == 0, report.render()
        assert not (tmp_path / "spill").exists()
