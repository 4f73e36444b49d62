"""ProcessBackend: a backend in a writer process; nothing handed over is lost."""

from __future__ import annotations

import dataclasses
import enum
import os
import threading
from pathlib import Path

import pytest

from hft.config import ConfigError
from hft.logging import HFTLogger, LoggingPipeline, create_backend_from_config
from hft.logging.testing import CapturingBackend
from tests.logging.faultfs import fill_up
from tests.logging.test_failover import assert_accounted, json_lines, tiny_tmpfs
from tests.logging.writer.helpers import SOURCE, file_lines, process_file

__all__ = ["tiny_tmpfs"]  # a fixture, imported to be used here


class _Side(enum.Enum):
    BUY = "buy"


@dataclasses.dataclass
class _Fill:
    qty: float


class _Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


class TestDelivery:
    def test_every_record_reaches_the_file_in_order(self, tmp_path: Path) -> None:
        """100,000 records through the writer process are all on disk, in order, after close."""
        path = tmp_path / "hft.log"
        pipeline = LoggingPipeline([process_file(path)]).start()
        logger = HFTLogger(pipeline, "bulk", ["t"])
        for i in range(100_000):
            logger.info("order placed", i=i)
        pipeline.close()
        assert [line["fields"]["i"] for line in file_lines(path)] == list(range(100_000))  # type: ignore[index]

    def test_pickled_frames_give_the_in_process_bytes(self, tmp_path: Path) -> None:
        """Classic batches, plain or odd (both pickled), write what the in-process backend
        writes for the same records, byte for byte."""
        plain = [
            (i, 10**18 + i, 20, SOURCE, "m", {"px": 1.5, "s": "x", "ok": True}) for i in range(50)
        ]
        odd = [(50, 10**18, 20, SOURCE, "m", {"nested": {"a": [1, 2]}})]
        local = create_backend_from_config(
            "file", {"file_path": str(tmp_path / "local.log"), "rotation": "none"}
        )
        remote = process_file(tmp_path / "remote.log")
        for backend in (local, remote):
            backend.write(plain)
            backend.write(odd)
            backend.flush()
            backend.write(plain)
            backend.close()
        assert (tmp_path / "remote.log").read_bytes() == (tmp_path / "local.log").read_bytes()

    def test_routes_like_the_backend_it_wraps(self, tmp_path: Path) -> None:
        """The wrapper takes its name and level from the wrapped backend's settings."""
        backend = process_file(tmp_path / "hft.log", level="WARNING")
        assert (backend.name, backend.level) == ("file", 30)
        backend.close()

    def test_values_that_cannot_cross_become_text(self, tmp_path: Path) -> None:
        """Enums and dataclasses keep their JSON forms; a user's opaque object crosses as repr."""
        path = tmp_path / "hft.log"
        pipeline = LoggingPipeline([process_file(path)]).start()
        lock = threading.Lock()
        HFTLogger(pipeline, "x").info(
            "odd", side=_Side.BUY, fill=_Fill(0.5), obj=_Opaque(), lock=lock
        )
        pipeline.close()
        fields = file_lines(path)[0]["fields"]
        assert fields["side"] == "buy"  # type: ignore[index]
        assert fields["fill"] == {"qty": 0.5}  # type: ignore[index]
        assert fields["obj"] == "<opaque>"  # type: ignore[index]
        assert str(fields["lock"]).startswith("<unlocked _thread.lock")  # type: ignore[index]


class TestFailover:
    def test_full_disk_in_the_writer_fails_over_to_stderr(
        self, tiny_tmpfs: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A full disk under the writer process: its records go to stderr, none is lost, and
        this process's metrics, health and warnings say so (lines on disk + lines on stderr
        == logged, and == the parent's written + failed_over)."""
        backend = process_file(tiny_tmpfs / "hft.log")
        capture = CapturingBackend()
        pipeline = LoggingPipeline([backend, capture]).start()
        logger = HFTLogger(pipeline, "x")
        for i in range(50):
            logger.info("before", i=i)
        pipeline.flush()
        filler = fill_up(tiny_tmpfs)
        for i in range(2000):
            logger.info("during", i=i)
        pipeline.flush()
        during = pipeline.metrics().backends["file"]
        filler.unlink()
        pipeline.close()
        in_file = json_lines((tiny_tmpfs / "hft.log").read_bytes())
        on_stderr = json_lines(capfd.readouterr().err)
        stats = pipeline.metrics().backends["file"]
        seqs = sorted(x["seq"] for x in in_file + on_stderr if x["logger"] == "x")
        assert seqs == [*range(50), *range(51, 2051)]  # seq 50 was flush()'s marker
        assert during.unhealthy
        assert during.failed_over > 0
        assert (stats.written, stats.failed_over, stats.lost) == (len(in_file), len(on_stderr), 0)
        assert_accounted(stats)
        warnings = [(r.msg, r.fields.get("backend")) for r in capture.records]
        assert ("logging backend failed", "file") in warnings


class TestWriterCpu:
    @pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: nothing to keep free")
    def test_the_writer_runs_on_the_last_cpu_by_default(self, tmp_path: Path) -> None:
        """``writer_cpu: last``: the writer process may use only the last usable CPU."""
        backend = process_file(tmp_path / "hft.log")
        try:
            assert backend.writer_pid is not None
            assert os.sched_getaffinity(backend.writer_pid) == {max(os.sched_getaffinity(0))}
        finally:
            backend.close()

    def test_any_leaves_the_writer_where_the_os_puts_it(self, tmp_path: Path) -> None:
        """``writer_cpu: any``: the writer may use every CPU this process may."""
        backend = process_file(tmp_path / "hft.log", writer_cpu="any")
        try:
            assert backend.writer_pid is not None
            assert os.sched_getaffinity(backend.writer_pid) == os.sched_getaffinity(0)
        finally:
            backend.close()

    def test_a_cpu_it_cannot_use_is_a_warning_not_a_failure(self, tmp_path: Path) -> None:
        """A CPU number out of reach: the writer runs unpinned, says so once, loses nothing."""
        path = tmp_path / "hft.log"
        backend = process_file(path, writer_cpu=4096)
        pipeline = LoggingPipeline([backend]).start()
        logger = HFTLogger(pipeline, "x")
        for i in range(100):
            logger.info("m", i=i)
        pipeline.close()
        lines = json_lines(path.read_bytes())
        (warning,) = [line for line in lines if "unpinned" in line["msg"]]
        assert warning["fields"]["writer_cpu"] == 4096
        assert [line["fields"]["i"] for line in lines if line["msg"] == "m"] == list(range(100))

    def test_a_bad_value_is_a_config_error_naming_the_key(self, tmp_path: Path) -> None:
        """``writer_cpu: first`` is refused at build time, with the key named."""
        with pytest.raises(ConfigError, match=r"logging\.backends\.file\.writer_cpu"):
            process_file(tmp_path / "hft.log", writer_cpu="first")
