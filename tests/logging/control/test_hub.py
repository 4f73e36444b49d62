"""The control channel of a real process: ``hft level --pid`` and SIGHUP from outside it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

import hft as hft_package
from hft.logging.control import request
from hft.logging.pipeline.loglevels import CHANGED

REPO = Path(__file__).resolve().parents[3]
SRC = str(Path(hft_package.__file__).resolve().parents[1])
CHILD = Path(__file__).with_name("steered_child.py")


class Steered:
    """The child process, its settings file, its log file and its runtime folder."""

    def __init__(self, folder: Path, runtime: Path) -> None:
        self.settings, self.log, self.runtime = folder / "settings", folder / "hft.log", runtime
        shutil.copyfile(REPO / "settings" / "base.yaml", self.settings.with_name("base.tmp"))
        self.settings.mkdir()
        shutil.move(self.settings.with_name("base.tmp"), self.settings / "base.yaml")
        self.write_levels({"": "INFO"})
        self.env = {**os.environ, "PYTHONPATH": SRC, "XDG_RUNTIME_DIR": str(runtime)}
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD), str(self.settings), "ops"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=self.env,
        )  # fmt: skip
        self.pid = int(self.answer().removeprefix("ready "))

    def write_levels(self, levels: dict[str, str]) -> None:
        """The environment file ``ops.yaml``: the file at DEBUG, no console, *levels*."""
        file = {"level": "DEBUG", "rotation": "none", "file_path": str(self.log)}
        backends = {"console": {"enabled": False}, "file": file}
        ops = {"logging": {"backends": backends, "levels": levels}}
        (self.settings / "ops.yaml").write_text(yaml.safe_dump(ops))

    def answer(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def say(self, line: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.answer()

    def hft_level(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``hft level --pid <child> ARGS``, a process of its own."""
        return subprocess.run(
            [sys.executable, "-m", "hft.cli", "level", "--pid", str(self.pid), *args],
            env=self.env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    def records(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.log.read_bytes().splitlines() if line]

    def counts(self, phase: int) -> Counter[tuple[str, str]]:
        """(logger's exchange, level) -> records of *phase* on disk."""
        return Counter(
            (r["logger"].split(".")[1], r["level"])
            for r in self.records()
            if r["fields"].get("phase") == phase
        )


@pytest.fixture
def steered(tmp_path: Path) -> Iterator[Steered]:
    """The child, running; killed if a test left it running."""
    runtime = Path(tempfile.mkdtemp(prefix="hft-rt-", dir="/tmp"))  # short: sun_path limit
    child = Steered(tmp_path, runtime)
    yield child
    with child.process:  # closes the pipes
        if child.process.poll() is None:
            child.process.kill()
        child.process.wait(30)
    shutil.rmtree(runtime, ignore_errors=True)


def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    """Poll *predicate* until it holds (a real process applies a change asynchronously)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def levels_of(child: Steered) -> dict[str, str]:
    reply = request(child.pid, {"op": "list"}, str(child.runtime / "hft"), timeout=10)
    levels: dict[str, str] = reply["pipelines"][0]["levels"]
    return levels


class TestOperator:
    def test_hft_level_lists_sets_and_sighup_reloads(self, steered: Steered) -> None:
        """List, set over the socket, reload on SIGHUP: the records on disk follow each."""
        socket_file = steered.runtime / "hft" / f"{steered.pid}.sock"
        assert steered.say("log 0") == "logged 0"
        assert steered.counts(0) == {(x, lv): 20 for x in ("mexc", "gateio")
                                     for lv in ("INFO", "WARNING", "ERROR")}  # fmt: skip
        listed = steered.hft_level()
        assert listed.returncode == 0, listed.stderr
        assert '"" (root)' in listed.stdout
        assert "exchange.mexc.book" in listed.stdout
        changed = steered.hft_level("exchange.mexc", "DEBUG")
        assert changed.returncode == 0, changed.stderr
        assert steered.say("log 1") == "logged 1"
        assert steered.counts(1)[("mexc", "DEBUG")] == 20
        assert steered.counts(1)[("gateio", "DEBUG")] == 0
        steered.write_levels({"": "WARNING"})
        os.kill(steered.pid, signal.SIGHUP)
        wait_for(lambda: levels_of(steered) == {"": "WARNING"})
        assert steered.say("log 2") == "logged 2"
        assert steered.counts(2) == {(x, lv): 20 for x in ("mexc", "gateio")
                                     for lv in ("WARNING", "ERROR")}  # fmt: skip
        assert steered.say("quit") == "bye"
        assert steered.process.wait(30) == 0
        assert not socket_file.exists()
        changes = [(r["fields"]["prefix"], r["fields"]["old"], r["fields"]["new"],
                    r["fields"]["by"].split(" pid=")[0])
                   for r in steered.records() if r["msg"] == CHANGED]  # fmt: skip
        assert changes == [
            ("exchange.mexc", "NOTSET", "DEBUG", f"socket uid={os.getuid()}"),
            ("", "INFO", "WARNING", "SIGHUP"),
            ("exchange.mexc", "DEBUG", "NOTSET", "SIGHUP"),
        ]

    def test_sighup_with_broken_settings_keeps_the_levels_and_says_so(
        self, steered: Steered
    ) -> None:
        """A reload of a file that no longer validates changes nothing, and is logged."""
        steered.write_levels({"exchange..mexc": "DEBUG"})
        os.kill(steered.pid, signal.SIGHUP)
        wait_for(lambda: steered.log.exists() and any(
            r["msg"].startswith("SIGHUP: levels not reloaded") for r in steered.records()
        ))  # fmt: skip
        assert levels_of(steered) == {"": "INFO"}
        warning = next(r for r in steered.records() if r["msg"].startswith("SIGHUP"))
        assert "exchange..mexc" in warning["fields"]["error"]
        assert steered.say("quit") == "bye"

    def test_hft_level_without_a_process_is_a_clear_error(self, steered: Steered) -> None:
        """No socket for the pid: exit status 2 and a line saying what to check."""
        steered.pid = 2**22 + 7  # above pid_max's default: no such process
        result = steered.hft_level()
        assert result.returncode == 2
        assert "no control socket for pid" in result.stderr
        assert "Traceback" not in result.stderr

    def test_a_bad_level_is_refused_by_the_process(self, steered: Steered) -> None:
        """``hft level`` with an unknown level: the process says no, exit status 1."""
        result = steered.hft_level("exchange", "TRACE")
        assert result.returncode == 1
        assert "TRACE" in result.stderr
        assert levels_of(steered) == {"": "INFO"}
