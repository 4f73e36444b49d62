"""``hft audit verify``: the report on stdout and exit codes a script can use."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from hft.cli import main
from hft.logging import AuditBackend, verify_audit_files
from hft.logging.audit._chain import rotated_files
from tests.logging.audit_files import append_torn, lines, record, rewrite, write_trail


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
        """A line cut short after the checkpoint (a crash) prints TORN TAIL and exits 3."""
        append_torn(trail)
        assert main(["audit", "verify", str(trail)]) == 3
        assert capsys.readouterr().out.startswith("TORN TAIL")

    def test_not_an_audit_trail_exit_4(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A file with no sealed record (an ordinary log, say) is not called tampered: one line
        saying it is not an audit trail, exit 4."""
        other = tmp_path / "hft.log"
        other.write_text("".join(f'{{"msg":"order {i}"}}\n' for i in range(500)))
        assert main(["audit", "verify", str(other)]) == 4
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith("NOT AN AUDIT TRAIL")
        expected = (
            f"  {other}:1: not_audit_trail: no line is a sealed audit record"
            " (line 1: no digest at the end of the line)"
        )
        assert out[1:] == [expected]

    def test_a_wrong_file_among_a_chain_exit_4(
        self, trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Given beside a real trail, the wrong file still decides the exit code (4)."""
        other = tmp_path / "notes.txt"
        other.write_text("just text")
        assert main(["audit", "verify", str(trail), str(other)]) == 4
        assert f"{other}:1: not_audit_trail" in capsys.readouterr().out

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


def _three_files(folder: Path) -> list[Path]:
    """A trail of 350 records by a real AuditBackend: seq 0..99, 100..199 rotated, 200..349."""
    path = folder / "audit.log"
    backend = AuditBackend(file_path=path)
    for first, count in ((0, 100), (100, 100), (200, 150)):
        backend.write([record(n) for n in range(first, first + count)])
        if first < 200:
            backend.rotate()
    backend.close()
    return [*rotated_files(path), path]


def _keep(path: Path, keep: slice) -> None:
    rewrite(path, lines(path)[keep])


def _edit(path: Path) -> None:
    content = lines(path)
    content[50] = content[50].replace(b'"n":150', b'"n":151')
    rewrite(path, content)


def _delete_line(path: Path) -> None:
    content = lines(path)
    del content[50]
    rewrite(path, content)


def _swap(path: Path) -> None:
    content = lines(path)
    content[10], content[11] = content[11], content[10]
    rewrite(path, content)


def _edit_then_restart(path: Path) -> None:
    content = lines(path)
    content[-1] = content[-1].replace(b'"n":349', b'"n":0')
    rewrite(path, content)
    write_trail(path, 1, start=350)  # the app restarted on the edited trail, logged one more


_MIDDLE, _NEWEST = 1, 2
#: tampering → (file it is done to, exit code, the one reason line's kind and text)
_TAMPERING = {
    "edit": (_MIDDLE, _edit, 1, "digest_mismatch at seq 150: digest mismatch: the record's"),
    "delete": (_MIDDLE, _delete_line, 1, "gap at seq 151: seq 150 missing (1 records deleted)"),
    "reorder": (_MIDDLE, _swap, 1, "reordered at seq 111: seq 111 comes before seq 110"),
    "truncate 1": (
        _NEWEST, lambda p: _keep(p, slice(None, -1)), 1,
        "truncated at seq 349: the end of the trail was cut off: seq 349 missing (1 records)",
    ),
    "truncate 100": (
        _NEWEST, lambda p: _keep(p, slice(None, -100)), 1,
        "truncated at seq 349: the end of the trail was cut off: seqs 250..349 missing (100",
    ),
    "truncate to 0": (
        _NEWEST, lambda p: p.write_bytes(b""), 1,
        "truncated at seq 349: the newest file (from seq 200) is missing or emptied: seqs",
    ),
    "delete newest": (
        _NEWEST, Path.unlink, 1,
        "truncated at seq 349: the newest file (from seq 200) is missing or emptied: seqs",
    ),
    "delete middle": (
        _MIDDLE, Path.unlink, 1, "gap at seq 200: seqs 100..199 missing (100 records deleted)"
    ),
    "edit then restart": (
        _NEWEST, _edit_then_restart, 1,
        "digest_mismatch at seq 349: digest mismatch: the record's content was altered",
    ),
}  # fmt: skip


class TestTampering:
    @pytest.mark.parametrize("name", list(_TAMPERING))
    def test_each_tampering_its_exit_code_and_reason(
        self, name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``hft audit verify logs/audit.log*`` after each tampering: exit code, one reason."""
        target, tamper, code, reason = _TAMPERING[name]
        files = _three_files(tmp_path)
        tamper(files[target])
        given = sorted(str(p) for p in tmp_path.glob("audit.log*"))  # what the shell passes
        assert main(["audit", "verify", *given]) == code
        verdict, *found = capsys.readouterr().out.splitlines()
        assert verdict.startswith("TAMPERED: ")
        assert len(found) == (2 if name == "reorder" else 1)  # a swap: each line out of place
        assert reason in found[0]
        assert verify_audit_files(given).exit_code == code

    def test_untouched_three_files_intact(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The same trail untouched: INTACT, exit 0, its end checked against the checkpoint."""
        _three_files(tmp_path)
        given = sorted(str(p) for p in tmp_path.glob("audit.log*"))
        assert main(["audit", "verify", *given]) == 0
        out = capsys.readouterr().out
        assert out.startswith("INTACT: 350 records in 3 file(s), seq 0..349")
        assert "end checked against seq 349" in out

    def test_named_newest_file_deleted(self, tmp_path: Path) -> None:
        """The newest file named but gone, its checkpoint beside: missing and truncated, 1."""
        files = _three_files(tmp_path)
        files[_NEWEST].unlink()
        report = verify_audit_files(files)
        assert [p.kind for p in report.problems] == ["missing_file", "truncated"]
        assert report.exit_code == 1

    def test_checkpoint_deleted_end_unconfirmed(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without its checkpoint the end cannot be confirmed: UNCONFIRMED, exit 2."""
        files = _three_files(tmp_path)
        tmp_path.joinpath("audit.log.checkpoint").unlink()
        _keep(files[_NEWEST], slice(None, -100))
        assert main(["audit", "verify", *map(str, files)]) == 2
        out = capsys.readouterr().out
        assert out.startswith("UNCONFIRMED: ")
        assert "no_checkpoint: no checkpoint beside the trail" in out
        assert main(["audit", "verify", "--no-checkpoint", *map(str, files)]) == 0

    def test_checkpoint_edited(self, tmp_path: Path) -> None:
        """A checkpoint whose seq was raised without its seal: checkpoint_invalid, exit 1."""
        files = _three_files(tmp_path)
        checkpoint = tmp_path / "audit.log.checkpoint"
        checkpoint.write_bytes(checkpoint.read_bytes().replace(b'"seq":349', b'"seq":400'))
        report = verify_audit_files(files)
        assert ([p.kind for p in report.problems], report.exit_code) == (
            ["checkpoint_invalid"],
            1,
        )

    def test_old_checkpoint_put_back_hides_truncation_expect_does_not(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Residual limit: an older checkpoint restored hides a cut; the off-host head shows it."""
        path = tmp_path / "audit.log"
        write_trail(path, 5)
        old = (tmp_path / "audit.log.checkpoint").read_bytes()
        write_trail(path, 5, start=5)
        head = orjson.loads(lines(path)[-1])
        _keep(path, slice(None, 5))
        (tmp_path / "audit.log.checkpoint").write_bytes(old)
        assert main(["audit", "verify", str(path)]) == 0
        expect = ["--expect-seq", str(head["seq"]), "--expect-digest", head["digest"]]
        assert main(["audit", "verify", str(path), *expect]) == 1
        assert "seqs 5..9 missing (5 records)" in capsys.readouterr().out

    def test_expect_matching_head_intact(self, trail: Path) -> None:
        """``--expect-seq/--expect-digest`` equal to the head: exit 0; another digest: 1."""
        head = orjson.loads(lines(trail)[-1])
        expect = ["--expect-seq", str(head["seq"]), "--expect-digest"]
        assert main(["audit", "verify", str(trail), *expect, head["digest"]]) == 0
        assert main(["audit", "verify", str(trail), *expect, "0" * 64]) == 1

    def test_expect_options_go_together(
        self, trail: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``--expect-seq`` without ``--expect-digest`` (or a bad digest) is a usage error."""
        assert main(["audit", "verify", str(trail), "--expect-seq", "4"]) == 2
        assert "go together" in capsys.readouterr().err
        bad_digest = ["--expect-seq", "4", "--expect-digest", "xy"]
        assert main(["audit", "verify", str(trail), *bad_digest]) == 2

    def test_explicit_checkpoint(self, tmp_path: Path) -> None:
        """``--checkpoint PATH`` is used instead of the one beside the trail."""
        path = tmp_path / "audit.log"
        write_trail(path, 5)
        copy = tmp_path / "offhost.checkpoint"
        copy.write_bytes((tmp_path / "audit.log.checkpoint").read_bytes())
        (tmp_path / "audit.log.checkpoint").unlink()
        _keep(path, slice(None, 3))
        assert main(["audit", "verify", str(path), "--checkpoint", str(copy)]) == 1
