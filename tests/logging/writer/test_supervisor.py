"""The writer process's life (writer.supervisor): killed, stopped, replaced, never started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import orjson
import pytest

import hft
from hft.config import ConfigError
from hft.logging import HFTLogger, LoggingPipeline
from hft.logging.backends.registry import backend_section
from hft.logging.writer.backend import ProcessBackend
from tests.logging.test_failover import assert_accounted, json_lines, wait_until
from tests.logging.writer.helpers import SOURCE, file_lines, process_file

SRC = str(Path(hft.__file__).resolve().parents[1])


class TestFailures:
    def test_a_killed_writer_is_replaced(self, tmp_path: Path) -> None:
        """If the writer process dies, the next batch starts a new one and is written, and the
        death is logged as a warning."""
        path = tmp_path / "hft.log"
        backend = process_file(path)
        pipeline = LoggingPipeline([backend]).start()
        logger = HFTLogger(pipeline, "x")
        logger.info("before")
        pipeline.flush()
        child = backend._writer.child
        assert child is not None
        child.popen.kill()
        child.popen.wait()
        logger.info("after")
        pipeline.close()
        assert backend.restarts == 1
        lines = file_lines(path)
        assert [line["msg"] for line in lines if line["logger"] == "x"] == ["before", "after"]
        assert "log writer process exited" in [line["msg"] for line in lines]

    def test_a_writer_that_cannot_start_is_an_error(self, tmp_path: Path) -> None:
        """A writer that fails to open its backend fails the constructor, naming key and path."""
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("")
        section = backend_section("file", {"file_path": str(blocker / "hft.log")})
        with pytest.raises(ConfigError, match=r"^logging\.backends\.file\.file_path: cannot open"):
            ProcessBackend([("file", section)], 4096)

    def test_writers_that_cannot_start_leave_the_records_to_this_process(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """The log replaced by a symlink, then the writer killed: replacements refuse to open
        it, so after three this process takes over; it refuses too, so the records go to
        stderr, counted as failed over, and the symlink's target is untouched."""
        path, target = tmp_path / "hft.log", tmp_path / "precious.txt"
        target.write_bytes(b"keep me\n")
        backend = process_file(path)
        pipeline = LoggingPipeline([backend]).start()
        logger = HFTLogger(pipeline, "x")
        logger.info("before")
        pipeline.flush()
        path.unlink()
        path.symlink_to(target)
        pid = backend.writer_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        for i in range(100):
            logger.info("after", i=i)
        pipeline.close()
        err = capfd.readouterr().err  # JSON lines, and the tracebacks of the refusing writers
        on_stderr = json_lines("\n".join(x for x in err.splitlines() if x.startswith("{")))
        after = [line["fields"]["i"] for line in on_stderr if line.get("msg") == "after"]
        stats = pipeline.metrics().backends["file"]
        assert after == list(range(100))
        assert target.read_bytes() == b"keep me\n"
        assert stats.failed_over == len([line for line in on_stderr if "seq" in line])
        assert (stats.lost, stats.pending) == (0, 0)
        assert_accounted(stats)
        assert "log writer process cannot start; writing in this process" in [
            line.get("msg") for line in on_stderr
        ]

    def test_parent_killed_loses_nothing_handed_over(self, tmp_path: Path) -> None:
        """SIGKILL of the logging process: the writer still writes every handed-over record
        (every record logged, but those the block policy counted dropped)."""
        path = tmp_path / "hft.log"
        script = textwrap.dedent(
            f"""
            import os, sys
            from hft.logging import HFTLogger, LoggingPipeline, create_backend_from_config
            backend = create_backend_from_config(
                "file", {{"file_path": {str(path)!r}, "rotation": "none"}})
            pipeline = LoggingPipeline([backend]).start()
            logger = HFTLogger(pipeline, "x")
            for i in range(50_000):
                logger.info("m", i=i)
            pipeline.flush()
            print(backend.writer_pid, pipeline.metrics().dropped, flush=True)
            os.kill(os.getpid(), 9)
            """
        )
        env = {**os.environ, "PYTHONPATH": SRC}
        proc = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == -signal.SIGKILL
        writer_pid, dropped = map(int, proc.stdout.split())
        _wait_gone(writer_pid)
        assert len(path.read_bytes().splitlines()) + dropped == 50_000  # drops: a loaded machine


class _Killer(threading.Thread):
    """Kills the writer process now and then while records flow: kill -9, and SIGSTOP with
    SIGCONT before the kill or none (a stopped writer killed as it is)."""

    def __init__(self, backend: ProcessBackend, kills: int, every_s: float) -> None:
        super().__init__(daemon=True)
        self.backend, self.kills, self.every_s = backend, kills, every_s
        self.done = 0
        self.stop = threading.Event()

    def run(self) -> None:
        """Kill a ready writer every *every_s* until *kills* were done or stopped."""
        killed = None
        while self.done < self.kills and not self.stop.wait(self.every_s):
            pid = self.backend.writer_pid
            if pid is None or pid == killed:  # a writer killed but not yet seen gone: its pid
                continue  # still answers signals (a zombie), and killing it again is no kill
            with _gone_is_fine():
                if self.done % 3 == 1:
                    os.kill(pid, signal.SIGSTOP)
                    self.stop.wait(0.05)
                elif self.done % 3 == 2:
                    os.kill(pid, signal.SIGSTOP)
                    self.stop.wait(0.05)
                    os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
                killed = pid
                self.done += 1


def _field_i(schema: str, line: bytes) -> int | None:
    """The ``i`` field of logger x's record in a line of *schema* (None: another logger's)."""
    obj = orjson.loads(line)
    if schema == "ecs":
        return int(obj["fields"]["i"]) if obj["log"]["logger"] == "x" else None
    scope = obj["resourceLogs"][0]["scopeLogs"][0]
    if scope["scope"]["name"] != "x":
        return None
    (_, fields) = scope["logRecords"][0]["attributes"]
    values = {kv["key"]: kv["value"] for kv in fields["value"]["kvlistValue"]["values"]}
    return int(values["i"]["intValue"])


class _gone_is_fine:  # noqa: N801 - used as a context manager
    """A writer that already exited is not an error for the killer."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is ProcessLookupError


class TestKills:
    def test_kills_mid_stream_lose_nothing_and_write_nothing_twice(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """150,000 records while the writer is killed (kill -9, SIGSTOP+kill, SIGSTOP/SIGCONT+kill)
        several times: each record is on disk exactly once, and the metrics agree with the file."""
        path = tmp_path / "hft.log"
        backend = process_file(path)
        # A long block wait: on a loaded machine a caller must wait, never drop, for this count.
        pipeline = LoggingPipeline([backend], block_timeout_ms=10_000).start()
        logger = HFTLogger(pipeline, "x")
        killer = _Killer(backend, kills=6, every_s=0.2)
        killer.start()
        for i in range(150_000):
            logger.info("order placed", i=i, px=1.5)
            if i % 1000 == 999:
                time.sleep(0.01)  # about 100k records a second
        wait_until(lambda: killer.done >= 3, timeout=60)
        killer.stop.set()
        killer.join()
        pipeline.close()
        lines = json_lines(path.read_bytes())
        mine = [line["fields"]["i"] for line in lines if line["logger"] == "x"]
        stats = pipeline.metrics().backends["file"]
        assert len(mine) == len(set(mine)) == 150_000  # none twice, none missing
        assert sorted(mine) == list(range(150_000))
        assert stats.written == len(lines)  # warnings about the kills are lines too
        assert (stats.failed_over, stats.lost, stats.pending) == (0, 0, 0)
        assert_accounted(stats)
        assert backend.restarts == killer.done
        late = json_lines("\n".join(x for x in capfd.readouterr().err.splitlines() if x[:1] == "{"))
        exits = [x for x in lines + late if x["msg"] == "log writer process exited"]
        assert len(exits) == killer.done  # a death seen while closing is warned on stderr

    @pytest.mark.parametrize("schema", ["ecs", "otel"])
    def test_kills_mid_stream_write_each_record_once_in_any_schema(
        self, tmp_path: Path, schema: str
    ) -> None:
        """60,000 records under schema ecs or otel while the writer is killed six to eight
        times: each replacement reads the file's last line in that schema (line_seq), so each
        record is on disk once (test_serve's TestResend pins the skip itself, every time)."""
        path = tmp_path / "hft.log"
        backend = process_file(path, schema=schema)
        pipeline = LoggingPipeline([backend], block_timeout_ms=10_000).start()
        logger = HFTLogger(pipeline, "x")
        killer = _Killer(backend, kills=8, every_s=0.1)
        killer.start()
        for i in range(60_000):
            logger.info("order placed", i=i, px=1.5)
            if i % 1000 == 999:
                time.sleep(0.01)
        wait_until(lambda: killer.done >= 6, timeout=60)
        killer.stop.set()
        killer.join()
        pipeline.close()
        found = [_field_i(schema, line) for line in path.read_bytes().splitlines()]
        mine = [i for i in found if i is not None]
        assert len(mine) == len(set(mine)) == 60_000  # none twice, none missing
        assert sorted(mine) == list(range(60_000))
        stats = pipeline.metrics().backends["file"]
        assert (stats.failed_over, stats.lost, stats.pending) == (0, 0, 0)
        assert backend.restarts == killer.done

    def test_a_stopped_writer_is_back_pressure_not_loss(self, tmp_path: Path) -> None:
        """A stopped writer: at most max_unacked_frames frames wait, then the dispatcher waits,
        the ring fills, callers block and what the block policy drops is counted; once the
        writer runs again the file holds every record not counted dropped, once."""
        path = tmp_path / "hft.log"
        settings = {"file_path": str(path), "rotation": "none"}
        backend = ProcessBackend(
            [("file", backend_section("file", settings))], 4096, max_unacked_frames=4
        )
        pipeline = LoggingPipeline([backend], ring_buffer_size=1000, block_timeout_ms=5).start()
        logger = HFTLogger(pipeline, "x")
        pid = backend.writer_pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        logged = 0
        try:
            while pipeline.dropped < 20:
                logger.info("m", i=logged)
                logged += 1
            unacked = backend.stats()["writer_unacked_frames"]
        finally:
            os.kill(pid, signal.SIGCONT)
        pipeline.close()
        lines = json_lines(path.read_bytes())
        mine = [line["fields"]["i"] for line in lines if line["logger"] == "x"]
        metrics = pipeline.metrics()
        assert unacked <= 5
        assert len(mine) == len(set(mine))
        assert len(mine) + metrics.dropped == logged
        assert metrics.backends["file"].written == len(lines)
        assert backend.restarts == 0

    def test_a_torn_last_line_is_rewritten_whole(self, tmp_path: Path) -> None:
        """A writer killed mid-line leaves a torn tail: its replacement cuts it off and writes
        the record whole, once."""
        path = tmp_path / "hft.log"
        backend = process_file(path)
        records = [(i, 10**18 + i, 20, SOURCE, "m", {"i": i}) for i in range(3000)]
        backend.write(records[:1000])
        assert backend.sync()
        child = backend._writer.child
        assert child is not None
        os.kill(child.popen.pid, signal.SIGSTOP)
        backend.write(records[1000:3000])  # a full frame: sent, not written
        backend.flush()
        with path.open("ab") as log:  # what a kill in the middle of a write leaves
            log.write(b'{"ts":"2001-01-01T00:00:00.000000001Z","level":"INFO","seq":10')
        child.popen.kill()
        assert backend.sync()
        backend.close()
        got = [line["fields"]["i"] for line in file_lines(path)]  # type: ignore[index]
        assert got == list(range(3000))
        assert backend.written == 3000


def _wait_gone(pid: int) -> None:
    """Wait until process *pid* has exited (it was re-parented; poll /proc)."""
    import time

    for _ in range(600):
        if not Path(f"/proc/{pid}").exists() or "Z" in _state(pid):
            return
        time.sleep(0.05)
    raise AssertionError(f"writer {pid} still running")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, IndexError):
        return "Z"
