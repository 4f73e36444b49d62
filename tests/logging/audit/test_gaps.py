"""Loss notes and gap records: lost audit records are said in the chain, and verify sees it."""

from __future__ import annotations

from pathlib import Path

from hft.logging import AuditBackend, verify_audit_files
from hft.logging.audit._gaps import NOTE_BYTES, note_path, ranges, read_note
from tests.logging.audit_files import record
from tests.logging.faultfs import trail_records


def _trail_with_loss(path: Path, lost: list[int]) -> AuditBackend:
    backend = AuditBackend(file_path=path)
    backend.write([record(0), record(1)])
    backend.note_lost(lost, "OSError: [Errno 28] No space left on device")
    return backend


def test_ranges_compress_sequence_numbers() -> None:
    """Pipeline sequence numbers are noted as inclusive ranges."""
    assert ranges([9, 7, 8, 12]) == [[7, 9], [12, 12]]


def test_note_is_written_in_place_over_its_blanks(tmp_path: Path) -> None:
    """The note keeps its preallocated size (written in place) and reads back."""
    path = tmp_path / "audit.log"
    backend = _trail_with_loss(path, [5, 6, 7])
    backend.close()
    assert note_path(path).stat().st_size == NOTE_BYTES
    note = read_note(path)
    assert note is not None
    assert note["lost"] == 3
    assert note["pipeline_seqs"] == [[5, 7]]


def test_unsealed_note_is_reported_as_a_gap(tmp_path: Path) -> None:
    """Before the next start, verify reports the note's loss: verdict GAP, rc 1."""
    path = tmp_path / "audit.log"
    _trail_with_loss(path, [5, 6]).close()
    report = verify_audit_files([path])
    assert report.exit_code == 1
    assert report.render().startswith("GAP")
    assert "2 audit record(s) lost (pipeline seqs 5..6)" in report.render()


def test_next_write_seals_the_gap_record_first(tmp_path: Path) -> None:
    """Writing resumes: the gap record goes in first, chained, and the note is blanked."""
    path = tmp_path / "audit.log"
    backend = _trail_with_loss(path, [5, 6, 9])
    backend.write([record(10)])
    backend.close()
    events = [r["event"] for r in trail_records(path)]
    assert events == ["order.placed", "order.placed", "audit.gap", "order.placed"]
    assert read_note(path) is None
    report = verify_audit_files([path])
    assert [p.kind for p in report.problems] == ["records_lost"]
    assert report.problems[0].seq == 2
    assert report.exit_code == 1


def test_next_start_seals_the_gap_record(tmp_path: Path) -> None:
    """A loss noted at close is sealed when the backend opens again."""
    path = tmp_path / "audit.log"
    _trail_with_loss(path, [3]).close()
    AuditBackend(file_path=path).close()
    (gap,) = [r for r in trail_records(path) if r["event"] == "audit.gap"]
    assert gap["fields"]["lost"] == 1  # type: ignore[index]
    assert gap["logger"] == "hft.audit"
    assert gap["pipeline_seq"] == -1


def test_verify_ignores_the_note_file_given_as_a_path(tmp_path: Path) -> None:
    """``hft audit verify logs/audit.log*`` takes the blank note as no chain file."""
    path = tmp_path / "audit.log"
    backend = AuditBackend(file_path=path)
    backend.write([record(0)])
    backend.close()
    report = verify_audit_files([path, note_path(path)])
    assert report.exit_code == 0, report.render()


def test_a_foreign_file_at_the_note_path_is_left_untouched(tmp_path: Path) -> None:
    """A file at ``<file>.lost`` that is not a note is neither read nor overwritten."""
    path = tmp_path / "audit.log"
    foreign = note_path(path)
    foreign.write_bytes(b"someone else's data\n")
    backend = _trail_with_loss(path, [4])
    backend.close()
    assert foreign.read_bytes() == b"someone else's data\n"
    assert read_note(path) is None
