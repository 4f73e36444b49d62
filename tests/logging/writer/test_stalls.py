"""A sink that stops taking data stalls nothing else: counted on disk, under the shipped settings.

Each test runs a real child process under ``settings/dev.yaml`` (the console at DEBUG on its
stderr, the file at INFO) whose stderr is a pipe this test does not read, and holds what the
child's metrics say against the lines in the file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from hft.logging import HFTLogger, LoggingPipeline
from hft.logging.backends.registry import backend_section
from hft.logging.testing import CapturingBackend
from hft.logging.writer import ProcessBackend
from hft.logging.writer.sinks import DirectSink, QueuedSink, SinkGroup
from tests.logging.test_failover import json_lines, wait_until

CHILD = Path(__file__).with_name("stall_child.py")
ROOT = Path(__file__).resolve().parents[3]


def _spawn(
    work: Path, calls: int, rate: float, how: str, *overrides: str
) -> subprocess.Popen[bytes]:
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(work), str(calls), str(rate), how, *overrides],
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,  # never read until the child has exited: a stuck console
        env=env,
    )


def _file_seqs(work: Path) -> list[int]:
    lines = json_lines((work / "hft.log").read_bytes())
    return [line["fields"]["qty"] for line in lines if line["msg"] == "order placed"]


def _report(work: Path) -> dict[str, Any]:
    report: dict[str, Any] = orjson.loads((work / "child.json").read_bytes())
    return report


def _finish(child: subprocess.Popen[bytes], timeout: float) -> tuple[int, bytes]:
    """Wait for the child without reading its stderr first; then drain it."""
    deadline = time.monotonic() + timeout
    while child.poll() is None:
        assert time.monotonic() < deadline, "the child did not end"
        time.sleep(0.02)
    _, err = child.communicate()
    return child.returncode, err


class TestStuckConsole:
    def test_file_gets_every_record_and_the_console_counts_its_drops(self, tmp_path: Path) -> None:
        """40,000 calls with stderr never read: all 40,000 in the file, the console's drops
        counted, and every console record written, dropped or still queued at exit."""
        child = _spawn(tmp_path, 40_000, 20_000, "close")
        status, err = _finish(child, 60)
        assert status == 0, err[-2000:]
        assert _file_seqs(tmp_path) == list(range(40_000))
        report = _report(tmp_path)
        console, file = report["backends"]["console"], report["backends"]["file"]
        lines = json_lines((tmp_path / "hft.log").read_bytes())
        assert file["written"] == len(lines)
        assert file["dropped"] == 0
        assert file["pending"] == 0
        said = [line["msg"] for line in lines if line["logger"] == "hft.logging"]
        assert said.count("log sink not taking data; dropping its records") == 1
        assert console["dropped"] > 0
        assert console["written"] + console["dropped"] + console["pending"] == console["routed"]
        shown = err.count(b"order placed")  # what reached the pipe before it filled
        assert console["written"] <= shown <= console["written"] + console["dropped"]

    def test_sigterm_ends_the_process_within_the_drain_deadline(self, tmp_path: Path) -> None:
        """SIGTERM during the stall ends the child (143) within the deadline, every call made
        before it in the file."""
        child = _spawn(tmp_path, 30_000, 20_000, "wait")
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        sent = time.monotonic()
        child.send_signal(signal.SIGTERM)
        status, err = _finish(child, 30)
        took = time.monotonic() - sent
        assert status == 143, err[-2000:]
        assert took < 10, took  # the drain deadline is 1 s; the file's drain and exit beside it
        report = _report(tmp_path)
        assert _file_seqs(tmp_path) == list(range(report["calls"]))

    def test_kill_9_during_the_stall_loses_nothing_handed_over(self, tmp_path: Path) -> None:
        """kill -9 of the logging process during the stall: the writer writes what it was
        handed, once each, in order (the file holds a gap-free prefix of the calls)."""
        child = _spawn(tmp_path, 30_000, 20_000, "wait")
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        child.kill()
        _finish(child, 30)
        _assert_a_gap_free_prefix(tmp_path)


def _assert_a_gap_free_prefix(work: Path) -> None:
    """Once the orphaned writer has written all it was handed: the calls 0, 1, 2, ... once
    each, in order, and at least one."""
    seqs: list[int] = []
    wait_until(lambda: _settled(work, seqs), timeout=20)
    assert seqs == list(range(len(seqs)))
    assert seqs


def _settled(work: Path, seqs: list[int]) -> bool:
    """The writer (orphaned, reading its pipe to the end) has stopped adding lines."""
    now = _file_seqs(work)
    same = now == seqs
    seqs[:] = now
    time.sleep(0.2)
    return same and now == _file_seqs(work)


class _Stuck(CapturingBackend):
    """A console whose stream blocks until released."""

    def __init__(self) -> None:
        super().__init__(name="console")
        self.release = __import__("threading").Event()

    def write(self, records: Any) -> None:
        self.release.wait()
        super().write(records)


class TestQueuedSink:
    def _group(self, stuck: _Stuck, bound: int) -> tuple[SinkGroup, CapturingBackend, list[str]]:
        from hft.logging.pipeline.slots import BackendSlot
        from hft.logging.pipeline.spill import NoFallback

        warnings: list[str] = []

        def warn(msg: str, **fields: Any) -> None:
            del fields
            warnings.append(msg)

        def slot(backend: Any) -> BackendSlot:
            return BackendSlot(
                backend,
                max_retry_attempts=1,
                enable_failover=False,
                fallback=NoFallback(),
                warn=warn,
            )

        lossless = CapturingBackend()
        group = SinkGroup([DirectSink(slot(lossless)), QueuedSink(slot(stuck), warn, bound)])
        return group, lossless, warnings

    def test_a_full_queue_drops_and_counts_and_the_lossless_sink_carries_on(self) -> None:
        """A blocked sink takes its bound, then drops (counted, one warning); the other sink
        gets every record; released, it writes one line saying how many it dropped."""
        stuck = _Stuck()
        group, lossless, warnings = self._group(stuck, bound=100)
        source = __import__("hft.logging.record", fromlist=["Source"]).Source.create("x", (), {})
        for i in range(50):
            group.deliver([(i, 0, 20, source, "m", {"i": j}) for j in range(10)])
        assert len(lossless.records) == 500
        queued = next(s for s in group.sinks if isinstance(s, QueuedSink))
        wait_until(lambda: queued.dropped >= 500 - 110)
        assert warnings.count("log sink not taking data; dropping its records") == 1
        assert queued.stats().state == "unhealthy"
        stuck.release.set()
        wait_until(lambda: queued.stats().pending == 0)
        # One line each time it resumes (once here, twice if it took a batch between drops),
        # saying how many it dropped since the last: together, every drop.
        notes = [r for r in stuck.records if r.msg.startswith("log sink dropped")]
        assert 1 <= len(notes) <= 2
        assert sum(n.fields["dropped"] for n in notes) == queued.dropped
        stats = queued.stats()
        assert stats.written == len(stuck.records)
        assert stats.written - len(notes) + stats.dropped == 500  # a note is a line of its own
        assert group.close(1.0) == {}

    def test_close_past_the_deadline_counts_what_was_not_delivered(self) -> None:
        """A sink still stuck at the deadline: what it held is counted undelivered and said in
        the lossless sink."""
        stuck = _Stuck()
        group, lossless, _ = self._group(stuck, bound=1000)
        source = __import__("hft.logging.record", fromlist=["Source"]).Source.create("x", (), {})
        group.deliver([(i, 0, 20, source, "m", {}) for i in range(30)])
        started = time.monotonic()
        undelivered = group.close(0.3)
        assert time.monotonic() - started < 2
        assert undelivered == {"console": 30}
        assert group.stuck
        said = [r for r in lossless.records if r.msg.startswith("log sink records not delivered")]
        assert said
        assert said[0].fields["undelivered"] == 30
        stuck.release.set()


class TestOneWriter:
    def test_console_and_file_share_one_writer_and_the_lane(self, tmp_path: Path) -> None:
        """Under dev's backends, one writer process hosts file and console; INFO and DEBUG
        records take the lane, and each sink's counts appear under its own name."""
        backend = ProcessBackend(
            [("file", backend_section("file", {"file_path": str(tmp_path / "f.log"),
                                               "rotation": "none"})),
             ("console", backend_section("console", {"level": "DEBUG"}))],
        )  # fmt: skip
        pipeline = LoggingPipeline([backend]).start()
        try:
            logger = HFTLogger(pipeline, "x")
            if pipeline._lane is not None:
                assert pipeline.lane_for(20, logger._source)[0] is not None
                assert pipeline.lane_for(10, logger._source)[0] is not None
            for i in range(100):
                logger.debug("d", i=i)
                logger.info("i", i=i)
            assert pipeline.flush()
            wait_until(lambda: pipeline.metrics().backends["console"].written == 200)
            stats = pipeline.metrics().backends
            assert set(stats) == {"file", "console"}
            assert stats["file"].written == 100
        finally:
            pipeline.close()
        lines = json_lines((tmp_path / "f.log").read_bytes())
        assert [line["fields"]["i"] for line in lines] == list(range(100))


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_the_console_writes_to_this_processs_stream(tmp_path: Path, stream: str) -> None:
    """The writer's console writes to the application's own stdout or stderr (its replies
    travel on a pipe of their own)."""
    code = (
        "from hft.logging import HFTLogger, LoggingPipeline\n"
        "from hft.logging.backends.registry import backend_section\n"
        "from hft.logging.writer import ProcessBackend\n"
        f"b = ProcessBackend([('console', backend_section('console', {{'stream': '{stream}'}}))])\n"
        "p = LoggingPipeline([b]).start()\n"
        "HFTLogger(p, 'x').info('hello there', k=1)\n"
        "p.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, cwd=tmp_path
    )
    out = done.stdout if stream == "stdout" else done.stderr
    assert b"hello there k=1" in out


class _Silent:
    """A TCP server on loopback that accepts and never reads or answers (a stuck collector,
    a push gateway that hangs); stopped by the test."""

    def __init__(self) -> None:
        import socket
        import threading

        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self._server.accept()
                self._held.append(conn)

    def close(self) -> None:
        self._server.close()
        for conn in self._held:
            conn.close()


@pytest.fixture
def silent() -> Iterator[_Silent]:
    """A collector that stops reading: accepts, then never reads."""
    server = _Silent()
    yield server
    server.close()


def _spawn_with(work: Path, how: str, overrides: dict[str, Any]) -> subprocess.Popen[bytes]:
    child = _spawn(work, 30_000, 20_000, how, orjson.dumps(overrides).decode())
    if how != "close":
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
    return child


def _end(child: subprocess.Popen[bytes], how: str) -> tuple[int, float]:
    sent = time.monotonic()
    if how == "sigterm":
        child.send_signal(signal.SIGTERM)
    elif how == "kill":
        child.kill()
    status, _ = _finish(child, 60)
    return status, time.monotonic() - sent


class TestStuckCollectors:
    @pytest.mark.parametrize("how", ["close", "sigterm", "kill"])
    def test_a_syslog_collector_that_stops_reading_stalls_nothing(
        self, tmp_path: Path, silent: _Silent, how: str
    ) -> None:
        """A syslog collector that accepts and never reads, with the console's stderr unread
        too: the file gets every call made (in order, once each), and the process ends."""
        syslog = {"enabled": True, "port": silent.port, "spool_dir": str(tmp_path / "spool")}
        child = _spawn_with(tmp_path, how, {"backends": {"syslog": syslog}})
        status, took = _end(child, how)
        if how == "kill":
            _assert_a_gap_free_prefix(tmp_path)
            return
        assert status == (0 if how == "close" else 143)
        assert took < 20, took
        report = _report(tmp_path)
        assert _file_seqs(tmp_path) == list(range(report["calls"]))
        sent = report["backends"]["syslog"]
        assert (
            sent["written"] + sent["dropped"] + sent["pending"] + sent["failed_over"] + sent["lost"]
            == sent["routed"]
        )
        assert report["backends"]["file"]["dropped"] == 0

    @pytest.mark.parametrize("how", ["sigterm", "kill"])
    def test_a_push_gateway_that_never_answers_stalls_nothing(
        self, tmp_path: Path, silent: _Silent, how: str
    ) -> None:
        """Prometheus pushing to a socket that accepts and never answers: every call is in the
        file, and SIGTERM ends the process within the push timeout and the drain deadline."""
        prometheus = {
            "enabled": True,
            "push_gateway_url": f"http://127.0.0.1:{silent.port}",
            "push_interval": 1,
            "push_timeout": 1.0,
        }
        child = _spawn_with(tmp_path, how, {"backends": {"prometheus": prometheus}})
        status, took = _end(child, how)
        if how == "kill":
            _assert_a_gap_free_prefix(tmp_path)
            return
        assert status == 143
        assert took < 15, took
        report = _report(tmp_path)
        assert _file_seqs(tmp_path) == list(range(report["calls"]))
