"""The fault file systems outlive no run: a session killed inside a mount leaves nothing that
breaks the next one (tests/logging/faultfs.py, tests/conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.logging import faultfs

REPO = Path(__file__).resolve().parents[2]

KILLED = """
import sys, time
from tests.logging.faultfs import ext4

def test_killed_inside_ext4(tmp_path):
    with ext4() as mount_point:
        (mount_point / "audit.log.checkpoint").write_text("1")
        (tmp_path / "work").write_text("1")
        print(mount_point, flush=True)
        time.sleep(600)
"""

NEXT = """
def test_next_session(tmp_path):
    (tmp_path / "work").write_text("2")
"""


def _session(folder: Path, test: str, basetemp: Path) -> list[str]:
    """The argv of a pytest session over *test* in *folder*, with this suite's conftest."""
    (folder / test).parent.mkdir(parents=True, exist_ok=True)
    (folder / "pytest.ini").write_text("[pytest]\n")
    return [
        sys.executable, "-m", "pytest", "-q", "-s", "-p", "tests.conftest",
        "-p", "no:cacheprovider", "-c", str(folder / "pytest.ini"), "--rootdir", str(folder),
        "--basetemp", str(basetemp), str(folder / test),
    ]  # fmt: skip


class TestKilledRun:
    def test_the_next_session_unmounts_what_a_killed_one_left(self, tmp_path: Path) -> None:
        """A pytest child SIGKILLed inside ext4() leaves its mount; the next session unmounts it,
        removes its folder, and pytest's temp folder of the killed run is removed cleanly."""
        faultfs.need_root()
        probe, basetemp = tmp_path / "probe", tmp_path / "basetemp"
        probe.mkdir()
        (probe / "test_killed.py").write_text(KILLED)
        argv = _session(probe, "test_killed.py", basetemp)
        with subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True) as child:
            try:
                assert child.stdout is not None
                line = child.stdout.readline().strip()
                os.kill(child.pid, signal.SIGKILL)
            finally:
                child.kill()
        assert child.returncode == -signal.SIGKILL
        mount_point = Path(line)
        assert mount_point in faultfs.our_mounts()  # left behind, owner gone
        assert not mount_point.is_relative_to(basetemp)
        assert (basetemp / "test_killed_inside_ext40" / "work").exists()

        (probe / "test_next.py").write_text(NEXT)
        argv = _session(probe, "test_next.py", basetemp)
        after = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
        assert after.returncode == 0, after.stdout[-2000:] + after.stderr[-2000:]
        assert mount_point not in faultfs.our_mounts()
        assert not mount_point.parent.exists()  # the killed run's folder is gone too
        assert not (basetemp / "test_killed_inside_ext40").exists()  # pytest cleared it

    def test_a_live_process_keeps_its_mounts(self) -> None:
        """The cleanup leaves alone what a running process (this one) has mounted."""
        with faultfs.tmpfs("64k") as mount_point:
            assert mount_point not in faultfs.unmount_stale()
            assert mount_point in faultfs.our_mounts()
            assert mount_point.is_relative_to(faultfs.run_folder())

    def test_mounts_stay_outside_pytest_temp_folders(
        self, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        """Fault file systems are mounted in the run folder, not under pytest's temp root."""
        with faultfs.ext4() as mount_point:
            assert not mount_point.is_relative_to(tmp_path_factory.getbasetemp().parent)
            assert mount_point.parent == faultfs.run_folder()
