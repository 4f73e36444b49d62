"""``hft audit verify``: the report on stdout and exit codes a script can use."""

from __future__ import annotations

from pathlib import Path

import pytest

from hft.cli import main
from hft.logging import AuditBackend
from tests.logging.audit_files import lines, rewrite, write_trail


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    """An intact trail of five records."""
    path = tmp_path / "audit.log"
    write_trail(path, 5)
    return path


class TestAuditVerify:
    def test_intact_exit_0(self, trail: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """An intact trail prints INTACT with the count and exits 0."""
        assert main(["audit", "verify", str(trail)]) == 0
        assert capsys.readouterr().out.startswith("INTACT: 5 records in 1 file(s), seq 0..4")

    def test_tampered_exit_1(self, trail: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A deleted record prints the gap and exits 1."""
        content = lines(trail)
        del content[2]
        rewrite(trail, content)
        assert main(["audit", "verify", str(trail)]) == 1
        out = capsys.readouterr().out
        assert out.startswith("TAMPERED")
        assert f"{trail}:3: gap at seq 3: seq 2 missing (1 records deleted)" in out

    def test_records_lost_exit_1(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A sealed gap record prints GAP with the lost records and exits 1 (every file of
        ``audit.log*`` given, the loss note included)."""
        path = tmp_path / "audit.log"
        backend = AuditBackend(file_path=path)
        backend.note_lost([7, 8], "OSError: [Errno 28] No space left on device")
        backend.close()
        AuditBackend(file_path=path).close()
        assert main(["audit", "verify", *map(str, sorted(tmp_path.glob("audit.log*")))]) == 1
        out = capsys.readouterr().out
        assert out.startswith("GAP: 1 records in 1 file(s)")
        assert (
            "records_lost at seq 0: gap record: 2 audit record(s) lost (pipeline seqs 7..8)" in out
        )

    def test_torn_exit_3(self, trail: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A line cut short prints TORN TAIL and exits 3."""
        trail.write_bytes(trail.read_bytes()[:-10])
        assert main(["audit", "verify", str(trail)]) == 3
        assert capsys.readouterr().out.startswith("TORN TAIL")

    def test_missing_file_exit_2(self, tmp_path: Path) -> None:
        """An unreadable path exits 2."""
        assert main(["audit", "verify", str(tmp_path / "nope")]) == 2

    def test_no_path_exit_2(self) -> None:
        """No path at all is an argparse usage error (exit 2)."""
        with pytest.raises(SystemExit) as exc:
            main(["audit", "verify"])
        assert exc.value.code == 2

    def test_unset_key_variable_exit_2(
        self, trail: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``--hmac-key-env`` naming an unset variable exits 2 and says so."""
        monkeypatch.delenv("TEST_AUDIT_KEY", raising=False)
        assert main(["audit", "verify", str(trail), "--hmac-key-env", "TEST_AUDIT_KEY"]) == 2
        assert "TEST_AUDIT_KEY is not set" in capsys.readouterr().err

    def test_keyed_chain_with_key(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A keyed chain verifies with the key read from the named variable."""
        monkeypatch.setenv("TEST_AUDIT_KEY", "k")
        path = tmp_path / "audit.log"
        write_trail(path, 2, hmac_key_env="TEST_AUDIT_KEY")
        assert main(["audit", "verify", str(path)]) == 2
        assert main(["audit", "verify", str(path), "--hmac-key-env", "TEST_AUDIT_KEY"]) == 0
