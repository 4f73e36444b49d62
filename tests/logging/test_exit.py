"""No loss at exit: normal exit, SIGTERM, Ctrl-C and fork, in real child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

import hft
from hft.logging import HFTLogger, LoggingPipeline
from hft.logging.pipeline.signals import exit_on_sigterm, install_sigterm_exit, restore_sigterm
from hft.logging.testing import CapturingBackend

CHILD = Path(__file__).with_name("exit_child.py")
COUNT = 20_000


class _Owner:
    """Something that can own the handler (weakly referenced, like a pipeline)."""


def _spawn(log: Path, how: str, count: int = COUNT) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(hft.__file__).parents[1])}
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(log), str(count), how],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _loggers(log: Path) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for line in log.read_bytes().splitlines():
        record = orjson.loads(line)
        found.setdefault(record["logger"], []).append(record["fields"].get("i"))
    return found


def _signal_when_ready(child: subprocess.Popen[str], signum: int) -> int:
    """Signal the child once it says it is ready; its exit status. Its output is read while
    it exits (communicate, not wait): a child writing more than a pipe holds to stderr would
    otherwise block on the pipe and never exit."""
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    child.send_signal(signum)
    _, err = child.communicate(timeout=60)
    assert child.returncode is not None, err
    return child.returncode


@pytest.mark.slow
class TestExit:
    def test_normal_exit_writes_every_record(self, tmp_path: Path) -> None:
        """Leaving main() without shutdown drains the ring through atexit."""
        with _spawn(tmp_path / "hft.log", "exit") as child:
            _, err = child.communicate(timeout=60)
            assert child.returncode == 0, err
        assert _loggers(tmp_path / "hft.log")["child"] == list(range(COUNT))

    def test_sigterm_drains_and_exits_143(self, tmp_path: Path) -> None:
        """SIGTERM becomes SystemExit(143): the ring is drained and the status is still 143."""
        with _spawn(tmp_path / "hft.log", "sigterm") as child:
            assert _signal_when_ready(child, signal.SIGTERM) == 143
        assert _loggers(tmp_path / "hft.log")["child"] == list(range(COUNT))

    def test_ctrl_c_drains(self, tmp_path: Path) -> None:
        """SIGINT (KeyboardInterrupt in the main thread) still drains every record."""
        with _spawn(tmp_path / "hft.log", "sigint") as child:
            assert _signal_when_ready(child, signal.SIGINT) == -signal.SIGINT
        assert _loggers(tmp_path / "hft.log")["child"] == list(range(COUNT))

    def test_keyboard_interrupt_raised_drains(self, tmp_path: Path) -> None:
        """An unhandled KeyboardInterrupt raised by the program drains every record."""
        with _spawn(tmp_path / "hft.log", "raise") as child:
            _, err = child.communicate(timeout=30)
        assert "KeyboardInterrupt" in err
        assert _loggers(tmp_path / "hft.log")["child"] == list(range(COUNT))

    def test_forked_child_has_its_own_dispatcher(self, tmp_path: Path) -> None:
        """Parent and forked child each deliver all their records through their own thread."""
        with _spawn(tmp_path / "hft.log", "fork", count=5000) as child:
            _, err = child.communicate(timeout=30)
            assert child.returncode == 0, err
        found = _loggers(tmp_path / "hft.log")
        assert found["parent"] == list(range(5000))
        assert found["forked"] == list(range(5000))


class TestSigtermHandler:
    def test_installed_at_start_and_restored_at_close(self) -> None:
        """Starting a pipeline on the main thread installs the handler; closing restores SIG_DFL."""
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        pipeline = LoggingPipeline([CapturingBackend()]).start()
        assert signal.getsignal(signal.SIGTERM) is exit_on_sigterm
        pipeline.close()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

    def test_an_application_handler_is_left_alone(self) -> None:
        """A SIGTERM handler the application chose is never replaced or removed."""

        def mine(signum: int, frame: object) -> None:
            """The application's own handler."""

        previous = signal.signal(signal.SIGTERM, mine)
        try:
            pipeline = LoggingPipeline([CapturingBackend()]).start()
            HFTLogger(pipeline, "x").info("m")
            pipeline.close()
            assert signal.getsignal(signal.SIGTERM) is mine
        finally:
            signal.signal(signal.SIGTERM, previous)

    def test_stays_while_another_owner_is_open(self) -> None:
        """The handler is restored only when the last pipeline using it closes."""
        first, second = _Owner(), _Owner()
        assert install_sigterm_exit(first)
        assert install_sigterm_exit(second)
        restore_sigterm(first)
        assert signal.getsignal(signal.SIGTERM) is exit_on_sigterm
        restore_sigterm(second)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

    def test_handler_raises_system_exit_143(self) -> None:
        """The handler leaves through SystemExit with the status a terminated process has."""
        with pytest.raises(SystemExit) as info:
            exit_on_sigterm(signal.SIGTERM, None)
        assert info.value.code == 143
