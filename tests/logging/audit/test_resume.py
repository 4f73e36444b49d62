"""Where the chain stands on open (audit._resume): reopened, torn, damaged, after a crash."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hft.logging import AuditBackend, verify_audit_files
from hft.logging.audit._chain import read_tail, side_files
from hft.logging.audit.backend import AuditChainError
from tests.logging.audit_files import append_torn, lines, write_trail

SRC = Path(__file__).resolve().parents[3] / "src"


class TestRestart:
    def test_reopen_continues_the_chain(self, tmp_path: Path) -> None:
        """A new backend on an existing file continues seq and prev from its last record."""
        path = tmp_path / "audit.log"
        write_trail(path, 3)
        write_trail(path, 2)
        report = verify_audit_files([path])
        assert (report.exit_code, report.records, report.last_seq) == (0, 5, 4)

    def test_torn_tail_set_aside_before_appending(self, tmp_path: Path) -> None:
        """A line cut short is moved to a side file, the file cut back, the chain continued."""
        path = tmp_path / "audit.log"
        write_trail(path, 3)
        intact = path.read_bytes()
        torn = append_torn(path)
        backend = write_trail(path, 1)
        assert backend.set_aside is not None
        assert backend.set_aside.read_bytes() == torn
        assert stat.S_IMODE(backend.set_aside.stat().st_mode) == 0o600
        assert path.read_bytes().startswith(intact)
        report = verify_audit_files([path])
        assert (report.records, report.last_seq) == (4, 3)
        assert [p.kind for p in report.problems] == ["side_file"]
        assert report.exit_code == 3

    def test_record_cut_before_its_checkpoint_is_not_reused(self, tmp_path: Path) -> None:
        """A record the checkpoint vouched for, cut short: its seq is skipped, verify exits 1."""
        path = tmp_path / "audit.log"
        write_trail(path, 3)
        path.write_bytes(path.read_bytes()[:-30])
        write_trail(path, 1)
        report = verify_audit_files([path])
        assert [(p.kind, p.seq) for p in report.problems] == [("gap", 3), ("side_file", None)]
        assert (report.records, report.last_seq, report.exit_code) == (3, 3, 1)

    def test_damaged_last_line_kept_and_its_seq_not_reused(self, tmp_path: Path) -> None:
        """A complete last line that does not parse stays; the chain goes on after its seq."""
        path = tmp_path / "audit.log"
        write_trail(path, 2)
        path.write_bytes(path.read_bytes() + b"\x00\x00garbage\n")
        backend = write_trail(path, 1)
        assert backend.set_aside is None
        assert lines(path)[2] == b"\x00\x00garbage\n"
        report = verify_audit_files([path])
        assert [(p.kind, p.line, p.seq) for p in report.problems] == [
            ("unparsable", 3, None),
            ("gap", 4, 3),
        ]
        assert (report.last_seq, report.exit_code) == (3, 1)

    def test_edited_last_record_then_restart_is_tampering(self, tmp_path: Path) -> None:
        """The last record edited, then a restart: kept in place, seq not reused, exit 1."""
        path = tmp_path / "audit.log"
        write_trail(path, 3)
        content = lines(path)
        content[2] = content[2].replace(b'"n":2', b'"n":9')
        path.write_bytes(b"".join(content))
        backend = write_trail(path, 1)
        assert (backend.set_aside, side_files(path)) == (None, [])
        report = verify_audit_files([path])
        assert [(p.kind, p.line, p.seq) for p in report.problems] == [("digest_mismatch", 3, 2)]
        assert "content was altered" in report.problems[0].detail
        assert (report.records, report.last_seq, report.exit_code) == (4, 3, 1)

    def test_key_change_refuses_to_extend(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Records that do not verify under the configured key stop the backend from opening."""
        path = tmp_path / "audit.log"
        monkeypatch.setenv("TEST_AUDIT_KEY", "old")
        write_trail(path, 2, hmac_key_env="TEST_AUDIT_KEY")
        monkeypatch.setenv("TEST_AUDIT_KEY", "new")
        before = path.read_bytes()
        with pytest.raises(AuditChainError, match="do not verify"):
            AuditBackend(file_path=path, hmac_key_env="TEST_AUDIT_KEY")
        assert path.read_bytes() == before
        assert side_files(path) == []

    def test_alg_change_refuses_to_extend(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A key set for an unkeyed chain is refused rather than mixing algorithms."""
        path = tmp_path / "audit.log"
        write_trail(path, 1)
        monkeypatch.setenv("TEST_AUDIT_KEY", "k")
        with pytest.raises(AuditChainError, match="sealed with sha256"):
            AuditBackend(file_path=path, hmac_key_env="TEST_AUDIT_KEY")

    def test_read_tail_beyond_first_chunk(self, tmp_path: Path) -> None:
        """The last line is found even when it is longer than the first chunk read."""
        path = tmp_path / "f"
        path.write_bytes(b"a\n" + b"b" * 100 + b"\ntorn")
        tail = read_tail(path, chunk=8)
        assert (tail.line, tail.start, tail.end, tail.size) == (b"b" * 100, 2, 103, 107)


_CHILD = textwrap.dedent(
    """
    import sys
    from hft.logging import AuditBackend, HFTLogger, LoggingPipeline
    backend = AuditBackend(file_path=sys.argv[1])
    pipeline = LoggingPipeline([backend], ring_buffer_size=1000).start()
    logger = HFTLogger(pipeline, "strategy.arb")
    limit = int(sys.argv[2])
    n = 0
    while limit < 0 or n < limit:
        logger.audit("order.placed", n=n, payload="x" * 2000)
        n += 1
    pipeline.close()
    """
)


def _child(path: Path, limit: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(path), str(limit)], env=env)


def _wait_for_lines(path: Path, count: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and child.poll() is None:
        if path.exists() and path.read_bytes().count(b"\n") > count:
            return
        time.sleep(0.01)
    raise AssertionError("the child did not write enough audit records")


class TestCrash:
    @pytest.mark.slow
    def test_sigkill_mid_write_then_restart_keeps_one_chain(self, tmp_path: Path) -> None:
        """After SIGKILL, verify sees an intact prefix; a restart continues the chain."""
        path = tmp_path / "audit.log"
        child = _child(path, -1)
        _wait_for_lines(path, 2000, child)
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
        after_kill = verify_audit_files([path])
        assert {p.kind for p in after_kill.problems} <= {"torn_tail"}
        assert after_kill.first_seq == 0
        assert after_kill.last_seq == after_kill.records - 1
        killed_at = after_kill.records
        restart = _child(path, 500)
        assert restart.wait(30) == 0
        final = verify_audit_files([path])
        torn = bool(after_kill.problems)
        assert [p.kind for p in final.problems] == (["side_file"] if torn else [])
        assert final.exit_code == (3 if torn else 0)
        assert (final.records, final.last_seq) == (killed_at + 500, killed_at + 499)
