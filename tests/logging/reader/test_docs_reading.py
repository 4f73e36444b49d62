"""Every command of docs/tools/reading.md, and the `hft logs` ones of docs/cli.md, runs as
written in a folder of logs made for them: exit 0, output, nothing on stderr."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.docs_examples import ROOT, parse
from tests.logging.reader.cli import env
from tests.logging.reader.logfiles import SCHEMAS, write

PAGES = ("docs/tools/reading.md", "docs/cli.md")
#: 2026-12-07T09:00:00Z in ns: the docs' examples name times of that hour.
NINE = 1_796_634_000_000_000_000
MINUTE = 60 * 1_000_000_000
WAIT_S = 60.0  # a bound, never a measure


def commands() -> list[tuple[str, str]]:
    """(where, command) for each command line of the pages' ``sh`` blocks (docs/cli.md: those
    of ``hft logs``)."""
    found = []
    for page in PAGES:
        for block in parse((ROOT / page).read_text(), page):
            if block.lang != "sh":
                continue
            for number, line in enumerate(block.code.splitlines(), block.line + 1):
                mine = page == PAGES[0] or line.startswith("hft logs")
                if line.strip() and not line.startswith("#") and mine:
                    found.append((f"{page}:{number}", line))
    return found


COMMANDS = commands()


def _records(start_ns: int, count: int, step_ns: int, first_seq: int = 0) -> list[bytes]:
    loggers = ("exchange.mexc", "exchange.gate", "strategy.arbitrage", "exchanges")
    levels = ("INFO", "DEBUG", "WARNING", "INFO", "ERROR")
    messages = ("order placed", "order filled", "spread", "order cancelled")
    schemas = list(SCHEMAS.values())
    return [
        schemas[i % 3](
            start_ns + i * step_ns,
            levels[i % 5],
            loggers[i % 4],
            msg=messages[i % 4],
            seq=first_seq + i,
            side=("buy", "sell")[i % 2],
            qty=i % 5 + 1,
            book={"bid": {"px": 101.5 if i % 3 == 0 else 101.25}},
        )
        for i in range(count)
    ]


def make_logs(folder: Path) -> None:
    """logs/: hft.log with a zstd and a gzip rotated file (2026-12-07 09:00 on, and ten lines
    of two minutes ago), and gate.log; run/: three logs of half an hour ago."""
    old = time.time_ns() - 86_400 * 1_000_000_000
    write(folder / "logs" / "hft.log.2026-12-05.zst", _records(NINE, 40, MINUTE), mtime_ns=old)
    rotated = folder / "logs" / "hft.log.2026-12-06.gz"
    write(rotated, _records(NINE + 40 * MINUTE, 20, MINUTE, 40), mtime_ns=old + 1)
    recent = _records(time.time_ns() - 2 * MINUTE, 10, 1000, 100)
    write(folder / "logs" / "hft.log", _records(NINE + 60 * MINUTE, 30, MINUTE, 60) + recent)
    write(folder / "logs" / "gate.log", _records(NINE, 10, MINUTE))
    half_an_hour_ago = time.time_ns() - 30 * MINUTE
    for offset, name in enumerate(("mexc", "gate", "strategy")):
        write(folder / "run" / f"{name}.log", _records(half_an_hour_ago + offset, 30, 3))


def _run(command: str, folder: Path) -> subprocess.CompletedProcess[str]:
    variables = env() | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    if " -f" not in command:
        return subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            cwd=folder,
            env=variables,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    child = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=folder,
        env=variables,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout = child.stdout
    assert stdout is not None
    first: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=lambda: first.put(stdout.readline()), daemon=True).start()
    deadline = time.monotonic() + WAIT_S
    while first.empty() and time.monotonic() < deadline:  # until it prints: it is following
        for log in folder.glob("*/*.log"):
            with log.open("ab") as more:
                more.write(_records(time.time_ns(), 1, 1)[0])
        time.sleep(0.2)
    child.send_signal(signal.SIGINT)  # Ctrl-C
    out, err = child.communicate(timeout=WAIT_S)
    shown = b"" if first.empty() else first.get()
    return subprocess.CompletedProcess(
        child.args, child.returncode, (shown + out).decode(), err.decode()
    )


class TestReadingPage:
    def test_every_command_is_found(self) -> None:
        """The page's blocks give the commands (a page without them would pass vacuously)."""
        assert len([c for c in COMMANDS if c[0].startswith(PAGES[0])]) >= 15
        assert [c for c in COMMANDS if c[0].startswith(PAGES[1])]

    @pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[c[0] for c in COMMANDS])
    def test_command_runs(self, where: str, command: str, tmp_path: Path) -> None:
        """The command exits 0 with nothing on stderr, and prints something (one that follows:
        once lines are appended, and Ctrl-C then ends it with 0)."""
        make_logs(tmp_path)
        done = _run(command, tmp_path)
        assert done.returncode == 0, f"{where}: {command}\n{done.stderr}"
        assert done.stderr == "", f"{where}: {command}\n{done.stderr}"
        assert done.stdout.strip(), f"{where}: {command} printed nothing"
