"""verify_audit_files: the exact report for each way an audit file can be damaged."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from hft.logging import AuditBackend, AuditReport, verify_audit_files
from hft.logging.audit._chain import SHA256, rotated_files, seal
from tests.logging.audit_files import append_torn, lines, record, rewrite, write_trail


def _found(report: AuditReport) -> list[tuple[str, int, int | None]]:
    return [(p.kind, p.line, p.seq) for p in report.problems]


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    """An intact trail of ten records, seq 0..9 on lines 1..10."""
    path = tmp_path / "audit.log"
    write_trail(path, 10)
    return path


class TestIntact:
    def test_intact_trail(self, trail: Path) -> None:
        """An untouched trail: exit 0, count, first and last seq, time span."""
        report = verify_audit_files([trail])
        assert (report.exit_code, report.records, report.first_seq, report.last_seq) == (
            0,
            10,
            0,
            9,
        )
        assert report.first_ts_ns is not None
        assert report.last_ts_ns is not None
        assert report.last_ts_ns >= report.first_ts_ns
        assert report.render().startswith("INTACT: 10 records in 1 file(s), seq 0..9, ")

    def test_no_paths_is_an_error(self) -> None:
        """Verifying nothing is a usage error, not an intact chain."""
        with pytest.raises(ValueError, match="no audit files"):
            verify_audit_files([])

    def test_missing_file_is_usage_error(self, tmp_path: Path) -> None:
        """A file that cannot be read (and has no checkpoint) gives exit code 2."""
        report = verify_audit_files([tmp_path / "nope.log"])
        assert (report.exit_code, _found(report)) == (
            2,
            [("unreadable", 0, None), ("no_checkpoint", 0, None)],
        )


class TestTampering:
    def test_modified_byte(self, trail: Path) -> None:
        """One changed byte in a field: digest mismatch at that seq and line, content altered."""
        content = lines(trail)
        content[4] = content[4].replace(b'"n":4', b'"n":7')
        rewrite(trail, content)
        report = verify_audit_files([trail])
        assert (report.exit_code, _found(report)) == (1, [("digest_mismatch", 5, 4)])
        assert "content was altered" in report.problems[0].detail

    def test_modified_digest(self, trail: Path) -> None:
        """An edited stored digest is told apart from edited content."""
        content = lines(trail)
        obj = orjson.loads(content[2])
        content[2] = content[2].replace(obj["digest"].encode(), b"f" * 64)
        rewrite(trail, content)
        report = verify_audit_files([trail])
        assert _found(report) == [("digest_mismatch", 3, 2)]
        assert "stored digest was altered" in report.problems[0].detail

    def test_broken_json(self, trail: Path) -> None:
        """A line that no longer parses is reported unparsable, and its absence as a gap."""
        content = lines(trail)
        content[3] = content[3].replace(b'{"alg"', b'["alg"', 1)
        rewrite(trail, content)
        report = verify_audit_files([trail])
        assert _found(report) == [("unparsable", 4, None), ("gap", 5, 4)]

    def test_deleted_line(self, trail: Path) -> None:
        """A deleted record shows as a gap before the next line."""
        content = lines(trail)
        del content[5]
        rewrite(trail, content)
        report = verify_audit_files([trail])
        assert (report.exit_code, _found(report)) == (1, [("gap", 6, 6)])
        assert report.problems[0].detail == "seq 5 missing (1 records deleted)"

    def test_deleted_head(self, trail: Path) -> None:
        """Deleting the first records is a gap at the start of the chain."""
        rewrite(trail, lines(trail)[2:])
        report = verify_audit_files([trail])
        assert _found(report) == [("gap", 1, 2)]
        assert report.problems[0].detail == "seqs 0..1 missing (2 records deleted)"

    def test_swapped_lines(self, trail: Path) -> None:
        """Two swapped records are reported as reordered, each at its line."""
        content = lines(trail)
        content[3], content[4] = content[4], content[3]
        rewrite(trail, content)
        report = verify_audit_files([trail])
        assert (report.exit_code, _found(report)) == (1, [("reordered", 4, 4), ("reordered", 5, 3)])

    def test_duplicated_line(self, trail: Path) -> None:
        """A copied record is a duplicate naming where the first copy is."""
        content = lines(trail)
        content.insert(7, content[6])
        rewrite(trail, content)
        report = verify_audit_files([trail])
        assert _found(report) == [("duplicate", 8, 6)]
        assert report.problems[0].detail == f"seq 6 already at {trail}:7"

    def test_resealed_record_breaks_the_chain(self, trail: Path) -> None:
        """A record edited and re-sealed (unkeyed) verifies itself but breaks the next link."""
        content = lines(trail)
        obj = orjson.loads(content[4])
        del obj["digest"]
        obj["fields"]["n"] = 99
        content[4] = seal(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS), None)[0]
        rewrite(trail, content)
        report = verify_audit_files([trail])
        assert _found(report) == [("chain_break", 6, 5)]


class TestCrashes:
    def test_truncated_mid_line(self, trail: Path) -> None:
        """A line cut short after the checkpoint: torn tail (exit 3), the prefix verified."""
        append_torn(trail)
        report = verify_audit_files([trail])
        assert (report.exit_code, _found(report)) == (3, [("torn_tail", 11, None)])
        assert (report.records, report.last_seq) == (10, 9)
        assert "after seq 9" in report.problems[0].detail

    def test_side_file_reported(self, trail: Path) -> None:
        """A torn tail set aside at restart is reported next to an intact chain."""
        append_torn(trail)
        write_trail(trail, 1)
        report = verify_audit_files([trail])
        assert (report.exit_code, [p.kind for p in report.problems]) == (3, ["side_file"])
        assert ".torn-" in report.problems[0].path

    def test_side_file_given_explicitly_is_not_a_chain_file(self, trail: Path) -> None:
        """A side file among the paths (``audit.log*``) is reported, not parsed as records."""
        append_torn(trail)
        backend = write_trail(trail, 1)
        assert backend.set_aside is not None
        report = verify_audit_files([backend.set_aside, trail])
        assert [p.kind for p in report.problems] == ["side_file"]
        assert report.files == (str(trail),)


class TestFiles:
    def test_rotated_files_in_any_order(self, tmp_path: Path) -> None:
        """Files of one chain are ordered by their first seq, whatever order they are given."""
        path = tmp_path / "audit.log"
        backend = AuditBackend(file_path=path)
        rotated = []
        for n in range(3):
            write = [record(n * 2), record(n * 2 + 1)]
            backend.write(write)
            if n < 2:
                target = backend.rotate()
                assert target is not None
                rotated.append(target)
        backend.close()
        report = verify_audit_files([path, *reversed(rotated)])
        assert (report.exit_code, report.records, report.last_seq) == (0, 6, 5)
        assert report.files == (str(rotated[0]), str(rotated[1]), str(path))

    def test_missing_middle_file_is_a_gap(self, tmp_path: Path) -> None:
        """A rotated file left out (or deleted) leaves a gap between its neighbours."""
        path = tmp_path / "audit.log"
        write_trail(path, 6, rotation="size", max_bytes=1)
        files = rotated_files(path)
        report = verify_audit_files([files[0], files[1], files[3], files[4], path])
        assert _found(report) == [("gap", 1, 3)]


class TestKeys:
    def test_keyed_chain_needs_the_key(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A keyed chain checked without a key is a usage error (exit 2), once per file."""
        monkeypatch.setenv("TEST_AUDIT_KEY", "k")
        path = tmp_path / "audit.log"
        write_trail(path, 3, hmac_key_env="TEST_AUDIT_KEY")
        report = verify_audit_files([path])
        assert (report.exit_code, _found(report)) == (
            2,
            [("key_required", 1, 0), ("key_required", 0, None)],
        )
        assert report.problems[1].path == f"{path}.checkpoint"
        assert verify_audit_files([path], hmac_key="k").exit_code == 0
        assert verify_audit_files([path], hmac_key=b"k").exit_code == 0

    def test_wrong_key(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The wrong key makes every record a digest mismatch, and the checkpoint invalid."""
        monkeypatch.setenv("TEST_AUDIT_KEY", "k")
        path = tmp_path / "audit.log"
        write_trail(path, 2, hmac_key_env="TEST_AUDIT_KEY")
        report = verify_audit_files([path], hmac_key="other")
        assert [p.kind for p in report.problems] == [
            "digest_mismatch",
            "digest_mismatch",
            "checkpoint_invalid",
        ]

    def test_unkeyed_records_when_key_given(self, trail: Path) -> None:
        """Given a key, a chain re-sealed with plain SHA-256 is flagged (downgrade)."""
        report = verify_audit_files([trail], hmac_key="k")
        assert (report.exit_code, _found(report)) == (
            1,
            [("alg_mismatch", 1, 0), ("checkpoint_invalid", 0, None)],
        )
        assert orjson.loads(lines(trail)[0])["alg"] == SHA256


class TestRender:
    def test_long_lists_are_cut(self, trail: Path) -> None:
        """The text shows the first 50 problems and counts the rest."""
        content = lines(trail) * 8
        rewrite(trail, content)
        text = verify_audit_files([trail]).render()
        assert text.startswith("TAMPERED: 80 records")
        assert text.endswith("… and 20 more")
