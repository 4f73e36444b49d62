"""``hft logs tail -f`` end to end: a real writer appending and rotating, then Ctrl-C."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from hft.logging import FileBackend
from hft.logging.record import Record, Source
from tests.logging.reader.cli import command, env
from tests.logging.reader.logfiles import T0, hft_line, write

WAIT_S = 60.0  # bound on every wait; never a measure of speed
_SOURCE = Source.create("exchange.mexc", ("mexc",), {})


class Tailing:
    """A ``hft logs tail -f`` child and its output lines, read by a thread into a queue."""

    def __init__(self, *args: str | Path) -> None:
        self.child = subprocess.Popen(
            command("tail", "-f", "--format", "json", *args),
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.child.stdout is not None
        for line in self.child.stdout:
            self.lines.put(line)

    def take(self, count: int) -> list[bytes]:
        """The next *count* lines (failing after WAIT_S)."""
        deadline = time.monotonic() + WAIT_S
        got: list[bytes] = []
        while len(got) < count:
            try:
                got.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail(f"only {len(got)} of {count} lines within {WAIT_S} s: {got[-3:]}")
        return got

    def interrupt(self) -> tuple[int, bytes]:
        """Ctrl-C: its exit status and its stderr."""
        self.child.send_signal(signal.SIGINT)
        status = self.child.wait(timeout=WAIT_S)
        assert self.child.stderr is not None
        return status, self.child.stderr.read()

    def kill(self) -> None:
        """Make sure the child is gone."""
        if self.child.poll() is None:
            self.child.kill()
            self.child.wait(timeout=WAIT_S)
        for stream in (self.child.stdout, self.child.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def tailing() -> Iterator[list[Tailing]]:
    """Children started by a test, killed at its end whatever happened."""
    started: list[Tailing] = []
    yield started
    for child in started:
        child.kill()


def _record(i: int) -> Record:
    return (i, T0 + i * 1000, 20, _SOURCE, "filled", {"i": i, "pad": "x" * 100})


class TestFollow:
    def test_across_rotations_until_ctrl_c(self, tmp_path: Path, tailing: list[Tailing]) -> None:
        """Lines written by a real file backend in a thread, through a dozen size rotations,
        each printed once and in order; Ctrl-C exits 0 without a traceback."""
        path = tmp_path / "hft.log"
        backend = FileBackend(file_path=path, rotation="size", max_bytes=2000, retention=100)
        backend.write([_record(-1)])
        follow = Tailing("-n", "1", path)
        tailing.append(follow)
        assert orjson.loads(follow.take(1)[0])["seq"] == -1  # following from here on
        seen: list[int] = []

        def writer() -> None:
            for start in range(0, 150, 5):
                backend.write([_record(i) for i in range(start, start + 5)])
                time.sleep(0.01)

        thread = threading.Thread(target=writer)
        thread.start()
        seen += [orjson.loads(line)["seq"] for line in follow.take(150)]
        thread.join(WAIT_S)
        backend.close()
        assert seen == list(range(150))
        assert len(backend.rotated_files()) >= 10
        status, stderr = follow.interrupt()
        assert status == 0, stderr
        assert b"Traceback" not in stderr

    def test_lockstep_with_each_rotation(self, tmp_path: Path, tailing: list[Tailing]) -> None:
        """A rotation between two polls: the old file's rest, then the new file, nothing lost."""
        path = tmp_path / "hft.log"
        backend = FileBackend(file_path=path, rotation="size", max_bytes=1, retention=100)
        backend.write([_record(-1)])
        follow = Tailing("-n", "1", path)
        tailing.append(follow)
        follow.take(1)
        for i in range(20):  # every write rotates first
            backend.write([_record(i)])
            assert orjson.loads(follow.take(1)[0])["seq"] == i
        backend.close()
        assert follow.interrupt()[0] == 0

    def test_several_logs_merged(self, tmp_path: Path, tailing: list[Tailing]) -> None:
        """-f --merge over two logs prints what is appended to either."""
        a = write(tmp_path / "a.log", [hft_line(T0, seq=0)])
        b = write(tmp_path / "b.log", [hft_line(T0 + 1, seq=0)])
        follow = Tailing("-n", "5", "--merge", a, b)
        tailing.append(follow)
        assert [orjson.loads(line)["ts"][-3:-1] for line in follow.take(2)] == ["00", "01"]
        with b.open("ab") as more:
            more.write(hft_line(T0 + 3, msg="from b"))
        with a.open("ab") as more:
            more.write(hft_line(T0 + 2, msg="from a"))
        got = sorted(orjson.loads(line)["msg"] for line in follow.take(2))
        assert got == ["from a", "from b"]
        assert follow.interrupt()[0] == 0
