"""The end of a chain held against its checkpoint: lag allowed, anything else reported."""

from __future__ import annotations

from pathlib import Path

import orjson

from hft.logging import AuditBackend, verify_audit_files
from hft.logging.audit._checkpoint import trail_of
from tests.logging.audit_files import lines, record, rewrite, write_trail


def _kinds(path: Path, checkpoint: str | None = None) -> tuple[int, list[str]]:
    report = verify_audit_files([path], checkpoint=checkpoint)
    return report.exit_code, [p.kind for p in report.problems]


class TestEnd:
    def test_records_after_the_checkpoint_are_fine(self, tmp_path: Path) -> None:
        """A checkpoint that lags the trail (records after it) verifies INTACT."""
        path = tmp_path / "audit.log"
        backend = AuditBackend(file_path=path, checkpoint_interval_ms=3_600_000)
        backend.write([record(0), record(1)])
        backend.rotate()  # checkpoint at seq 1
        backend.write([record(2), record(3)])
        report = verify_audit_files([*backend.rotated_files(), path])
        backend.close()
        assert (report.exit_code, report.anchor_seq, report.last_seq) == (0, 1, 3)

    def test_empty_chain_with_its_checkpoint_is_intact(self, tmp_path: Path) -> None:
        """A trail that never held a record: its checkpoint (seq -1) is satisfied."""
        path = tmp_path / "audit.log"
        AuditBackend(file_path=path).close()
        assert _kinds(path) == (0, [])

    def test_other_record_at_the_checkpoint_seq(self, tmp_path: Path) -> None:
        """A different (validly sealed) record at the checkpoint's seq: checkpoint_mismatch."""
        path, other = tmp_path / "audit.log", tmp_path / "other" / "audit.log"
        write_trail(path, 3)
        write_trail(other, 3)  # same seqs, other timestamps: other digests
        assert _kinds(path, checkpoint=str(other) + ".checkpoint") == (1, ["checkpoint_mismatch"])

    def test_expect_beyond_the_end(self, tmp_path: Path) -> None:
        """``expect`` naming a seq the trail does not reach: truncated, with the count."""
        path = tmp_path / "audit.log"
        write_trail(path, 3)
        report = verify_audit_files([path], expect=(9, "a" * 64))
        assert [(p.kind, p.seq) for p in report.problems] == [("truncated", 9)]
        assert "seqs 3..9 missing (7 records)" in report.problems[0].detail

    def test_hole_at_the_checkpoint_is_one_gap(self, tmp_path: Path) -> None:
        """The checkpoint's record deleted with later ones kept: reported once, as a gap."""
        path = tmp_path / "audit.log"
        backend = AuditBackend(file_path=path, checkpoint_interval_ms=3_600_000)
        backend.write([record(0), record(1)])
        rotated = backend.rotate()  # checkpoint at seq 1
        backend.write([record(2)])
        assert rotated is not None
        rewrite(rotated, lines(rotated)[:1])
        report = verify_audit_files([rotated, path])
        backend.close()
        assert ([(p.kind, p.seq) for p in report.problems], report.exit_code) == ([("gap", 2)], 1)

    def test_complete_line_in_a_side_file_is_tampering(self, tmp_path: Path) -> None:
        """A side file holding a whole line (older versions moved one aside): exit 1."""
        path = tmp_path / "audit.log"
        write_trail(path, 2)
        side = tmp_path / "audit.log.torn-20250101T000000.000000Z"
        side.write_bytes(lines(path)[-1])
        report = verify_audit_files([path])
        assert [p.kind for p in report.problems] == ["set_aside_line"]
        assert report.exit_code == 1

    def test_checkpoint_found_from_a_rotated_file(self, tmp_path: Path) -> None:
        """Only rotated files given (newest deleted): the checkpoint is still found."""
        path = tmp_path / "audit.log"
        backend = AuditBackend(file_path=path)
        backend.write([record(0)])
        rotated = backend.rotate()
        backend.write([record(1)])
        backend.close()
        assert rotated is not None
        assert trail_of(rotated) == path
        path.unlink()
        report = verify_audit_files([rotated])
        assert [p.kind for p in report.problems] == ["truncated"]
        assert orjson.loads(lines(rotated)[-1])["seq"] == 0

    def test_the_chain_own_checkpoint_is_preferred(self, tmp_path: Path) -> None:
        """Among several checkpoints given, the one of the chain's own trail is used."""
        path, other = tmp_path / "b" / "audit.log", tmp_path / "a" / "audit.log"
        write_trail(path, 3)
        write_trail(other, 5)
        given = [Path(f"{other}.checkpoint"), path, Path(f"{path}.checkpoint")]
        report = verify_audit_files(given)
        assert (report.exit_code, report.anchor_seq) == (0, 2)
