"""The fault shim itself, and each fault the crash sweep found, pinned as a regular test.

Each test runs the sweep's workload under ``faultshim.so`` with one fault at one numbered
persistence call, then reads the files from disk and runs ``hft audit verify`` (the CLI).
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import orjson

from tests.crash import checks
from tests.crash.checks import Results, trail_records
from tests.crash.sweep import (
    AUDIT_BLOCK,
    AUDIT_DURABLE,
    JSON_FILE,
    SPOOL,
    Call,
    Fault,
    Harness,
    with_n,
)

SMALL = with_n(AUDIT_DURABLE, 4)
_CREATE = "import os, sys; os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600))"
_PARENT = f"""
import subprocess, sys
{_CREATE.replace("sys.argv[1]", "sys.argv[1] + 'a'")}
subprocess.run([sys.executable, "-c", {_CREATE!r}, sys.argv[1] + "b"], check=True)
"""


def _at(calls: list[Call], call: str, name: str, nth: int = 1) -> int:
    """The number of the *nth* call named *call* on file *name*."""
    found = [c.k for c in calls if c.call == call and c.name == name]
    return found[nth - 1]


def _verify(folder: Path, *, keyed: bool = True) -> tuple[int, str]:
    argv = [sys.executable, "-m", "hft.cli", "audit", "verify"]
    argv += [str(p) for p in checks.chain_files(folder)]
    if keyed:
        argv += ["--hmac-key-env", "HFT_AUDIT_HMAC_KEY"]
    env = {**os.environ, "HFT_AUDIT_HMAC_KEY": "sweep-key"}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout


class TestShim:
    def test_numbers_every_persistence_call_in_one_order_across_threads(
        self, harness: Harness
    ) -> None:
        """A trace numbers the calls 1..N on the caller's and the dispatcher's threads."""
        calls = harness.trace(SMALL)
        assert [c.k for c in calls] == list(range(1, len(calls) + 1))
        assert {"mkdir", "open", "write", "fdatasync", "fsync", "rename"} <= {c.call for c in calls}
        assert len({c.tid for c in calls}) == 2
        assert calls[0] == Call(1, "mkdir", "d", calls[0].pid, calls[0].pid)

    def test_numbers_calls_across_processes(self, shim: Path, tmp_path: Path) -> None:
        """A child process of a preloaded one takes its numbers from the same counter."""
        (tmp_path / "d").mkdir()
        counter = tmp_path / "counter"
        counter.write_bytes(bytes(8))
        env = {
            **os.environ,
            "LD_PRELOAD": str(shim),
            "FAULT_DIR": str(tmp_path / "d"),
            "FAULT_COUNTER": str(counter),
            "FAULT_LOG": str(tmp_path / "trace"),
        }
        target = str(tmp_path / "d" / "f")
        subprocess.run([sys.executable, "-c", _PARENT, target], env=env, check=True)
        lines = [line.split(" ") for line in (tmp_path / "trace").read_text().splitlines()]
        assert [(k, Path(path).name) for k, _, _, _, path, *_ in lines] == [
            ("1", "fa"),
            ("2", "fb"),
        ]
        assert lines[0][1] != lines[1][1]  # two processes

    def test_crash_kills_before_the_call(self, harness: Harness) -> None:
        """crash at the trail's first write: the process dies, the trail is empty."""
        k = _at(harness.trace(SMALL), "write", "audit.log")
        where = harness.fresh("crash")
        run = Results(harness.run(SMALL, where, Fault(k, "crash"), phase="run"))
        assert not run.done
        assert (where / "d" / "audit.log").stat().st_size == 0

    def test_torn_write_leaves_half_the_bytes(self, harness: Harness) -> None:
        """torn: the write is half done, then the process is killed."""
        calls = harness.trace(SMALL)
        k = _at(calls, "write", "audit.log")
        where = harness.fresh("torn")
        harness.run(SMALL, where, Fault(k, "torn"), phase="run")
        data = (where / "d" / "audit.log").read_bytes()
        assert data.startswith(b'{"alg":"hmac-sha256",')
        assert b"\n" not in data

    def test_errno_fails_the_call_once(self, harness: Harness) -> None:
        """errno ENOSPC at the trail's first write: that call raises, the next is written."""
        k = _at(harness.trace(SMALL), "write", "audit.log")
        where = harness.fresh("errno")
        run = Results(harness.run(SMALL, where, Fault(k, "errno", errno.ENOSPC), phase="run"))
        assert (run.raised, run.acked) == ({0}, {1, 2, 3})
        assert [r["fields"]["i"] for r in trail_records(where / "d")] == [1, 2, 3]


class TestMended:
    def test_torn_first_record_of_a_trail_is_a_torn_tail(self, harness: Harness) -> None:
        """The first write of a new trail cut short verifies TORN TAIL (exit 3), not exit 4."""
        k = _at(harness.trace(SMALL), "write", "audit.log")
        where = harness.fresh("torn-first")
        harness.run(SMALL, where, Fault(k, "torn"), phase="run")
        code, out = _verify(where / "d")
        assert (code, out.split(":")[0]) == (3, "TORN TAIL"), out

    def test_torn_first_record_after_rotation_is_a_torn_tail(self, harness: Harness) -> None:
        """The first write into a file after a size rotation, cut short: exit 3 too."""
        calls = harness.trace(SMALL)
        rotation = next(
            c.k for c in calls if c.call == "rename" and c.name != "audit.log.checkpoint"
        )
        k = next(
            c.k for c in calls if c.k > rotation and c.call == "write" and c.name == "audit.log"
        )
        where = harness.fresh("torn-rotated")
        harness.run(SMALL, where, Fault(k, "torn"), phase="run")
        assert len(checks.chain_files(where / "d")) >= 3  # the rotated file, the new, the rest
        code, out = _verify(where / "d")
        assert (code, out.split(":")[0]) == (3, "TORN TAIL"), out

    def test_failed_sync_then_failed_cut_back_writes_each_record_once(
        self, harness: Harness
    ) -> None:
        """EIO at fdatasync, then at the cut-back's ftruncate: each record once, INTACT."""
        scenario = with_n(AUDIT_BLOCK, 4)
        calls = harness.trace(scenario)
        k = _at(calls, "fdatasync", "audit.log", 2)
        where = harness.fresh("twice")
        run = Results(harness.run(scenario, where, Fault(k, "errno", errno.EIO, 2), phase="run"))
        assert (where / "fired").read_text().count("\n") == 2
        records = trail_records(where / "d")
        assert [r["fields"]["i"] for r in records] == [0, 1, 2, 3]
        assert run.acked == {0, 1, 2, 3}
        code, out = _verify(where / "d", keyed=False)
        assert code == 0, out

    def test_persistent_failure_stays_unhealthy(self, harness: Harness) -> None:
        """Disk full for good from the third write (raise): unhealthy, never 'recovered'."""
        calls = harness.trace(SMALL)
        k = _at(calls, "write", "audit.log", 3)
        where = harness.fresh("persistent")
        run = Results(harness.run(SMALL, where, Fault(k, "errno", errno.ENOSPC, 0), phase="run"))
        assert (run.acked, run.raised) == ({0, 1}, {2, 3})
        assert run.first("state") == ["state", "unhealthy"]
        assert any(w.startswith("audit_trail_failing") for w in run.warnings)
        assert "audit_trail_recovered" not in run.warnings


class TestFoundBySweep:
    def test_torn_blank_loss_note_is_made_whole(self, harness: Harness) -> None:
        """The blank loss note, torn by a kill as it was made, is whole after a restart."""
        k = _at(harness.trace(SMALL), "write", "audit.log.lost")
        where = harness.fresh("note-torn")
        harness.run(SMALL, where, Fault(k, "torn"), phase="run")
        note = where / "d" / "audit.log.lost"
        assert 0 < note.stat().st_size < 4096
        harness.run(SMALL, where, None, phase="restart")
        assert note.read_bytes() == b" " * 4095 + b"\n"

    def test_spool_write_failing_part_way_leaves_no_partial_frame(self, harness: Harness) -> None:
        """A spool write cut short, then ENOSPC: no corrupt message is sent or replayed."""
        calls = harness.trace(SPOOL)
        k = next(c.k for c in calls if c.call == "write" and c.name.endswith(".spool"))
        fault = Fault(k + 1, "short", errno.ENOSPC)
        where = harness.fresh("spool-short")
        harness.run(SPOOL, where, fault, phase="run")
        assert checks.check_point(harness, SPOOL, fault, where) == []

    def test_spool_torn_position_note_loses_nothing(self, harness: Harness) -> None:
        """The confirmed offset written at close, torn by a kill: the rest is replayed."""
        calls = harness.trace(SPOOL)
        k = next(c.k for c in calls if c.call == "write" and c.name.endswith(".pos"))
        where = harness.fresh("spool-pos")
        harness.run(SPOOL, where, Fault(k, "torn"), phase="run")
        assert checks.check_point(harness, SPOOL, Fault(k, "torn"), where) == []

    def test_json_file_torn_line_is_cut_at_the_next_start(self, harness: Harness) -> None:
        """A JSON line torn by a kill is cut off at the next start: every line parses."""
        k = _at(harness.trace(JSON_FILE), "write", "app.log", 2)
        where = harness.fresh("file-torn")
        harness.run(JSON_FILE, where, Fault(k, "torn"), phase="run")
        assert checks.check_point(harness, JSON_FILE, Fault(k, "torn"), where) == []
        lines = (where / "d" / "app.log").read_bytes().splitlines()
        assert [orjson.loads(line)["fields"]["i"] for line in lines] == [0, 0, 1, 2]

    def test_json_file_failed_rotation_writes_on(self, harness: Harness) -> None:
        """The rename of a size rotation fails once: the next writes work (no stale fd)."""
        calls = harness.trace(JSON_FILE)
        k = next(c.k for c in calls if c.call == "rename")
        where = harness.fresh("file-rename")
        run = Results(harness.run(JSON_FILE, where, Fault(k, "errno", errno.EACCES), phase="run"))
        assert len(run.raised) == 1
        assert max(run.acked) == JSON_FILE.n - 1
