"""Fault injection through a running pipeline: full disk, read-only mount, closed stream."""

from __future__ import annotations

import errno
import io
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from hft.logging import ConsoleBackend, FileBackend, HFTLogger, LoggingPipeline
from hft.logging.pipeline.metrics import BackendStats
from hft.logging.testing import CapturingBackend, FailingBackend
from tests.logging.faultfs import bind, fill_up, tmpfs

FAST = {"retry_backoff_ms": 1, "probe_interval_ms": 20, "max_retry_attempts": 2}


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll *predicate* until it holds (fails the test after *timeout* seconds)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def json_lines(data: str | bytes) -> list[dict[str, Any]]:
    """Every non-empty line parsed as JSON."""
    text = data.decode() if isinstance(data, bytes) else data
    return [orjson.loads(line) for line in text.splitlines() if line.strip()]


def seqs(lines: list[dict[str, Any]], logger: str = "x") -> list[int]:
    """Sequence numbers of the lines written by *logger*."""
    return [line["seq"] for line in lines if line["logger"] == logger]


def nudge_until_healthy(pipeline: LoggingPipeline, logger: HFTLogger, name: str) -> None:
    """Keep logging (each batch may be a probe) until backend *name* is healthy again."""

    def healthy() -> bool:
        logger.info("nudge")
        return pipeline.metrics().backends[name].healthy

    wait_until(healthy)


def assert_accounted(stats: BackendStats) -> None:
    """Every record routed to the backend is written, failed over, lost or pending."""
    assert stats.written + stats.failed_over + stats.lost + stats.pending == stats.routed


def _run(*argv: str) -> bool:
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


@pytest.fixture
def tiny_tmpfs() -> Iterator[Path]:
    """A 64 KiB tmpfs (needs root and mount rights; skipped without them)."""
    with tmpfs("64k") as mount:
        yield mount


@pytest.fixture
def bind_mount() -> Iterator[Path]:
    """A directory bind-mounted on itself, so it can be remounted read-only and back."""
    with bind() as target:
        yield target


class TestFullDisk:
    def test_enospc_fails_over_to_stderr_and_recovers(
        self, tiny_tmpfs: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """On a full tmpfs the file backend retries, fails over to stderr, then recovers."""
        backend = FileBackend(file_path=tiny_tmpfs / "hft.log", rotation="none")
        pipeline = LoggingPipeline([backend], **FAST).start()  # type: ignore[arg-type]
        logger = HFTLogger(pipeline, "x")
        for i in range(50):
            logger.info("before", i=i)
        wait_until(lambda: pipeline.metrics().backends["file"].written == 50)  # no flush marker
        filler = fill_up(tiny_tmpfs)
        for i in range(50):
            logger.info("during", i=i)
        wait_until(lambda: pipeline.metrics().backends["file"].unhealthy)
        filler.unlink()
        nudge_until_healthy(pipeline, logger, "file")
        for i in range(50):
            logger.info("after", i=i)
        pipeline.close()
        in_file = json_lines((tiny_tmpfs / "hft.log").read_bytes())
        on_stderr = json_lines(capsys.readouterr().err)
        assert_accounted(pipeline.metrics().backends["file"])
        logged = pipeline.metrics().records_logged
        got = seqs(in_file) + seqs(on_stderr)
        assert sorted(got) == sorted(set(got))  # nothing twice: a failed write leaves no tail
        assert len(got) + pipeline.metrics().dropped == logged
        internal = [line["msg"] for line in in_file + on_stderr if line["logger"] == "hft.logging"]
        assert internal.count("logging backend failed") == 1
        assert internal.count("logging backend recovered") == 1
        assert {line["msg"] for line in in_file} >= {"before", "after"}


class TestReadOnly:
    def test_read_only_mount_fails_over_and_recovers(
        self, bind_mount: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A descriptor closed under the backend on a mount gone read-only: EROFS, then back."""
        backend = FileBackend(file_path=bind_mount / "hft.log", rotation="none")
        pipeline = LoggingPipeline([backend], **FAST).start()  # type: ignore[arg-type]
        logger = HFTLogger(pipeline, "x")
        logger.info("before")
        wait_until(lambda: pipeline.metrics().backends["file"].written == 1)  # no flush marker
        os.close(backend._fd)  # as if rotated away by someone else; the backend reopens
        assert _run("mount", "-o", "remount,bind,ro", str(bind_mount))
        for i in range(20):
            logger.info("during", i=i)
        wait_until(lambda: pipeline.metrics().backends["file"].unhealthy)
        assert _run("mount", "-o", "remount,bind,rw", str(bind_mount))
        nudge_until_healthy(pipeline, logger, "file")
        pipeline.close()
        err = capsys.readouterr().err
        assert "Read-only file system" in err
        stats = pipeline.metrics().backends["file"]
        assert_accounted(stats)
        got = seqs(json_lines((bind_mount / "hft.log").read_bytes())) + seqs(json_lines(err))
        assert len(got) == len(set(got))
        assert set(range(21)) <= set(got)
        assert len(got) + stats.lost == pipeline.metrics().records_logged


class TestClosedStream:
    def test_closed_console_stream_fails_over_and_recovers(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A console whose stream is closed under it fails over to stderr until it has a new one."""
        stream = io.StringIO()
        console = ConsoleBackend(stream=stream, level="DEBUG", colored_output=False)
        pipeline = LoggingPipeline([console], **FAST).start()  # type: ignore[arg-type]
        logger = HFTLogger(pipeline, "x")
        stream.close()
        for i in range(30):
            logger.info("during", i=i)
        wait_until(lambda: pipeline.metrics().backends["console"].unhealthy)
        replacement = io.StringIO()
        console._stream_spec = replacement
        nudge_until_healthy(pipeline, logger, "console")
        logger.info("after")
        pipeline.close()
        stats = pipeline.metrics().backends["console"]
        assert_accounted(stats)
        assert seqs(json_lines(capsys.readouterr().err))[:30] == list(range(30))
        assert "after" in replacement.getvalue()
        assert stats.failed_over >= 30

    def test_stderr_closed_too_counts_lost(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A console on stderr with stderr closed: the fallback fails too, records count lost."""
        closed = io.StringIO()
        closed.close()
        monkeypatch.setattr("sys.stderr", closed)
        pipeline = LoggingPipeline([ConsoleBackend(level="DEBUG")], **FAST)  # type: ignore[arg-type]
        logger = HFTLogger(pipeline, "x")
        for i in range(10):
            logger.info("m", i=i)
        pipeline.close()
        stats = pipeline.metrics().backends["console"]
        assert stats.lost >= 10
        assert_accounted(stats)


class TestIsolation:
    def test_a_failing_backend_does_not_stall_the_others(self, tmp_path: Path) -> None:
        """While one backend retries and fails over, another gets every record at once."""
        failing = FailingBackend(failures=None)
        capture = CapturingBackend()
        pipeline = LoggingPipeline(
            [failing, capture],
            spill_dir=tmp_path / "spill",
            **FAST,  # type: ignore[arg-type]
        ).start()
        logger = HFTLogger(pipeline, "x")
        for i in range(1000):
            logger.info("m", i=i)
        assert pipeline.flush()
        assert [r.fields["i"] for r in capture.logs() if r.logger == "x"] == list(range(1000))
        pipeline.close()
        stats = pipeline.metrics().backends["failing"]
        assert_accounted(stats)
        spilled = json_lines((tmp_path / "spill" / "failing.jsonl").read_bytes())
        assert seqs(spilled) == list(range(1000))
        assert stats.failed_over == len(spilled)
        assert pipeline.metrics().failovers == stats.failed_over

    def test_failover_disabled_counts_lost_and_blocks_nothing(self, tmp_path: Path) -> None:
        """With ``enable_failover=False`` a dead backend's records are lost, counted, warned."""
        failing = FailingBackend(failures=None)
        capture = CapturingBackend()
        options: dict[str, Any] = {**FAST, "enable_failover": False, "spill_dir": tmp_path}
        pipeline = LoggingPipeline([failing, capture], **options).start()
        logger = HFTLogger(pipeline, "x")
        for i in range(500):
            logger.info("m", i=i)
        pipeline.close()
        stats = pipeline.metrics().backends["failing"]
        assert stats.lost == stats.routed > 500  # the warning record as well
        assert pipeline.metrics().lost == stats.lost
        assert list(tmp_path.iterdir()) == []
        warnings = [r.msg for r in capture.logs() if r.logger == "hft.logging"]
        assert warnings == ["logging backend failed"]
        assert len([r for r in capture.logs() if r.logger == "x"]) == 500


class TestDropSummary:
    def test_drop_warning_says_how_many_and_when(self) -> None:
        """The drop warning carries the count and the first and last time drops were seen."""
        capture = CapturingBackend()
        pipeline = LoggingPipeline([capture], ring_buffer_size=100, overflow_policy="drop_newest")
        logger = HFTLogger(pipeline, "x")
        for i in range(300):
            logger.info("m", i=i)
        pipeline.close()
        (warning,) = [r for r in capture.logs() if r.logger == "hft.logging"]
        assert warning.fields["dropped"] == 200
        assert warning.fields["first_drop"] <= warning.fields["last_drop"]
        assert warning.fields["last_drop"].endswith("Z")

    def test_errno_is_kept_in_the_warning(self) -> None:
        """The failure warning names the error, errno text included."""
        capture = CapturingBackend()
        failing = FailingBackend(None, OSError(errno.EACCES, "Permission denied"))
        pipeline = LoggingPipeline([failing, capture], fallback=CapturingBackend(), **FAST)  # type: ignore[arg-type]
        HFTLogger(pipeline, "x").info("m")
        pipeline.close()
        (warning,) = [r for r in capture.logs() if r.logger == "hft.logging"]
        assert warning.fields["error"] == "PermissionError: [Errno 13] Permission denied"
