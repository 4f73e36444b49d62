"""The writer process's side: frames off a pipe, resent frames skipped up to the log's end."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hft.logging.backends.file import FileBackend
from hft.logging.backends.registry import backend_section
from hft.logging.levels import INFO, WARNING
from hft.logging.pipeline.slots import BackendSlot
from hft.logging.pipeline.spill import StderrFallback
from hft.logging.record import BacktraceRecords, Record, Source
from hft.logging.render.schemas import SCHEMAS, line_seq
from hft.logging.writer.serve import (
    _READ_BYTES,
    YIELD_EVERY,
    FrameReader,
    Writer,
    open_backend,
    open_sinks,
)
from hft.logging.writer.sinks import DirectSink, QueuedSink, SinkGroup, SinkSpec
from hft.logging.writer.wire import (
    ACKED,
    HEADER,
    STATS,
    WARNED,
    FrameEncoder,
    closing_frame,
    parse_replies,
)
from tests.config.spies import count_validations

_SOURCE = Source.create("orders", ("mexc",), {})
_INTERNAL = Source.create("hft.logging", ("hft", "logging"), {})


def _records(start: int, stop: int) -> list[Record]:
    return [(i, 10**18 + i, 20, _SOURCE, "m", {"i": i}) for i in range(start, stop)]


def _writer(
    path: Path, first_frame: int, resend_through: int, **settings: Any
) -> tuple[Writer, io.BytesIO]:
    backend = FileBackend(file_path=path, rotation="none", **settings)
    slot = BackendSlot(
        backend, max_retry_attempts=1, enable_failover=True, fallback=StderrFallback(), warn=print
    )
    out = io.BytesIO()
    spec = {"first_frame": first_frame, "resend_through": resend_through}
    return Writer(SinkGroup([DirectSink(slot)]), out, spec), out


def _frame(records: list[Record]) -> bytes:
    return bytes(FrameEncoder(4096)(records))[8:]


def _backtrace(count: int) -> BacktraceRecords:
    """*count* kept DEBUG records and their ERROR trigger, routed as one at ERROR."""
    kept = [(i, 10**18 + i, 10, _SOURCE, "m", {"i": i, "backtrace": True}) for i in range(count)]
    return BacktraceRecords([*kept, (count, 10**18 + count, 40, _SOURCE, "m", {"i": count})], 40)


def _msgs(path: Path) -> list[object]:
    return [orjson.loads(line)["fields"].get("i") for line in path.read_bytes().splitlines()]


class TestFrameReader:
    def test_frames_split_across_reads_come_out_whole(self) -> None:
        """Frames written to a pipe in odd pieces are read back whole, then None at the end."""
        frames = [FrameEncoder(4096)(_records(k * 100, k * 100 + 100)) for k in range(3)]
        data = b"".join(bytes(f) for f in frames)
        read_fd, write_fd = os.pipe()
        for piece in (data[:5], data[5:700], data[700:]):
            os.write(write_fd, piece)
        os.close(write_fd)
        reader = FrameReader(read_fd)
        got = [reader.next(None) for _ in range(4)]
        os.close(read_fd)
        assert got[:3] == [bytes(f)[8:] for f in frames]
        assert got[3] is None
        assert reader.eof

    @settings(max_examples=25, deadline=None)
    @given(
        sizes=st.lists(
            st.one_of(st.integers(0, 5000), st.integers(_READ_BYTES - 20, 2 * _READ_BYTES + 7)),
            min_size=1,
            max_size=8,
        ),
        cuts=st.lists(st.integers(1, 300_000), min_size=1, max_size=20),
    )
    def test_any_frames_in_any_pieces_come_out_byte_for_byte(
        self, sizes: list[int], cuts: list[int]
    ) -> None:
        """Payloads of any size (larger than the reuse buffer too), written in any pieces,
        come out whole and in order, each its own bytes; then None at the end."""
        pattern = bytes(range(251)) * (2 * _READ_BYTES // 251 + 2)  # no run repeats a frame
        payloads = [pattern[k : k + size] for k, size in enumerate(sizes)]
        data = b"".join(HEADER.pack(len(p)) + p for p in payloads)
        read_fd, write_fd = os.pipe()

        def feed() -> None:  # a pipe holds 64 KiB: write from another thread
            at, k = 0, 0
            try:
                while at < len(data):
                    step = cuts[k % len(cuts)]
                    os.write(write_fd, data[at : at + step])
                    at, k = at + step, k + 1
            except BrokenPipeError:  # the reader gave up (the test fails below)
                pass
            finally:
                os.close(write_fd)

        feeder = threading.Thread(target=feed)
        feeder.start()
        reader = FrameReader(read_fd)
        got = [reader.next(5.0) for _ in range(len(payloads))]
        end = reader.next(5.0)
        os.close(read_fd)
        feeder.join()
        assert [type(g) for g in got] == [bytes] * len(payloads)
        assert got == payloads
        assert end is None
        assert reader.eof

    def test_a_timeout_returns_none_while_the_pipe_stays_open(self) -> None:
        """No frame within the timeout: None, and the pipe is not taken for ended."""
        read_fd, write_fd = os.pipe()
        reader = FrameReader(read_fd)
        assert reader.next(0.01) is None
        assert not reader.eof
        os.close(write_fd)
        os.close(read_fd)


class TestTake:
    def test_a_damaged_frame_is_warned_about_and_the_next_is_written(self, tmp_path: Path) -> None:
        """A frame the writer cannot read: a warning to the parent (which counts its records
        lost when acknowledged), no crash; the frames after it are written."""
        path = tmp_path / "hft.log"
        writer, out = _writer(path, first_frame=0, resend_through=-1)
        writer.take(_frame(_records(0, 10))[:-5])
        writer.take(_frame(_records(10, 20)))
        writer.acknowledge()
        assert _msgs(path) == list(range(10, 20))
        replies = parse_replies(bytearray(out.getvalue()))
        (warning,) = [r[1] for r in replies if r[0] == WARNED]
        assert warning["msg"] == "writer could not read a frame"
        assert replies[-1] == (ACKED, (1, 10, 0, 0, 0))


class TestBacktrace:
    def test_a_backtrace_frame_passes_a_sink_below_its_records(self, tmp_path: Path) -> None:
        """The file at INFO writes a backtrace's DEBUG records, routed at its trigger's level."""
        path = tmp_path / "hft.log"
        writer, _ = _writer(path, first_frame=0, resend_through=-1)
        writer.take(_frame(_backtrace(5)))
        writer.take(_frame([(9, 10**18, 10, _SOURCE, "m", {"i": 9})]))  # a plain DEBUG one
        assert _msgs(path) == list(range(6))

    def test_a_backtrace_frame_resent_in_part_keeps_its_routing(self, tmp_path: Path) -> None:
        """A killed writer wrote a backtrace frame's first records: the replacement writes the
        rest, DEBUG ones too, each once."""
        path = tmp_path / "hft.log"
        bundle = _backtrace(10)
        first = FileBackend(file_path=path, rotation="none")
        first.write([*_records(100, 105), *bundle[:4]])
        first.close()
        writer, _ = _writer(path, first_frame=0, resend_through=1)
        writer.take(_frame(_records(100, 105)))
        writer.take(_frame(bundle))
        assert _msgs(path) == [*range(100, 105), *range(11)]
        assert writer.skipped == 9


class TestResend:
    def test_resent_records_already_in_the_log_are_skipped(self, tmp_path: Path) -> None:
        """A replacement writer given frames 0-1 again, with the log ending inside frame 1,
        writes only what follows the last line, acknowledges both frames, and counts the
        skipped records as its file's (a writer killed before it acknowledged never said so)."""
        path = tmp_path / "hft.log"
        first = FileBackend(file_path=path, rotation="none")
        first.write(_records(0, 150))  # the killed writer got through frame 0 and half of 1
        first.close()
        writer, out = _writer(path, first_frame=0, resend_through=1)
        writer.take(_frame(_records(0, 100)))
        writer.take(_frame(_records(100, 200)))
        writer.take(_frame(_records(200, 250)))  # a frame the killed writer never saw
        writer.acknowledge()
        assert _msgs(path) == list(range(250))
        assert writer.skipped == 150
        replies = parse_replies(bytearray(out.getvalue()))
        assert [r for r in replies if r[0] == ACKED] == [(ACKED, (2, 250, 0, 0, 0))]
        (stats,) = [r[1] for r in replies if r[0] == STATS]  # the sink's counts, before the ack
        assert stats["file"]["written"] == stats["file"]["routed"] == 250
        assert replies[-1][0] == ACKED

    @pytest.mark.parametrize("schema", SCHEMAS)
    def test_the_log_is_read_back_in_any_schema(self, tmp_path: Path, schema: str) -> None:
        """The same skip in an ecs or otel log: its last line gives the seq (line_seq) and
        matches the resent record's bytes, so each record is in the file once."""
        path = tmp_path / "hft.log"
        first = FileBackend(file_path=path, rotation="none", schema=schema, pid=4242)  # type: ignore[arg-type]
        first.write(_records(0, 150))
        first.close()
        writer, _ = _writer(path, first_frame=0, resend_through=1, schema=schema, pid=4242)
        writer.take(_frame(_records(0, 100)))
        writer.take(_frame(_records(100, 200)))
        writer.take(_frame(_records(200, 250)))
        assert [line_seq(line) for line in path.read_bytes().splitlines()] == list(range(250))
        assert writer.skipped == 150

    def test_the_last_line_is_matched_by_its_bytes_not_only_its_seq(self, tmp_path: Path) -> None:
        """Internal warnings all carry seq -1: the skip stops at the warning whose line is the
        log's last one, not at another warning with the same seq."""
        path = tmp_path / "hft.log"
        warn_a: Record = (-1, 10**18 + 1, 30, _INTERNAL, "a", {})
        warn_b: Record = (-1, 10**18 + 2, 30, _INTERNAL, "b", {})
        resent = [*_records(0, 10), warn_a, *_records(10, 20), warn_b, *_records(20, 30)]
        first = FileBackend(file_path=path, rotation="none")
        first.write(resent[:11])  # up to and including warning "a"
        first.close()
        writer, _ = _writer(path, first_frame=0, resend_through=0)
        writer.take(_frame(resent))
        lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
        assert [line["msg"] for line in lines].count("a") == 1
        assert [line["fields"].get("i") for line in lines if line["msg"] == "m"] == list(range(30))
        assert writer.skipped == 11

    def test_a_log_ending_before_the_resent_frames_skips_nothing(self, tmp_path: Path) -> None:
        """When the log's last line is not among the resent records, all of them are written."""
        path = tmp_path / "hft.log"
        first = FileBackend(file_path=path, rotation="none")
        first.write(_records(0, 50))  # acknowledged long ago
        first.close()
        writer, _ = _writer(path, first_frame=3, resend_through=3)
        writer.take(_frame(_records(50, 80)))
        assert _msgs(path) == list(range(80))
        assert writer.skipped == 0


class TestOpenBackend:
    def test_the_writers_file_backend_yields_and_the_applications_does_not(
        self, tmp_path: Path
    ) -> None:
        """A writer process's file backend yields every YIELD_EVERY records; the app's never."""
        settings = {"file_path": str(tmp_path / "w.jsonl"), "rotation": "none"}
        backend = open_backend("file", backend_section("file", settings), 4096)
        try:
            assert isinstance(backend, FileBackend)
            assert backend.yield_every == YIELD_EVERY > 0
        finally:
            backend.close()
        in_app = FileBackend(file_path=tmp_path / "a.jsonl", rotation="none")
        try:
            assert in_app.yield_every == 0
        finally:
            in_app.close()

    def test_sinks_opened_in_the_logging_process_name_it_too(self, tmp_path: Path) -> None:
        """Sinks opened without a pid (no writer can be had: this process writes) name this
        process in an otel log, as a writer names its parent."""
        path = tmp_path / "o.jsonl"
        section = backend_section("file", {"file_path": str(path), "rotation": "none",
                                           "schema": "otel"})  # fmt: skip
        group = open_sinks(SinkSpec((("file", section),)), print)
        group.deliver(_records(0, 1))
        group.close(1.0)
        for backend in group.backends():
            backend.close()
        attributes = orjson.loads(path.read_bytes())["resourceLogs"][0]["resource"]["attributes"]
        assert attributes[1] == {"key": "process.pid", "value": {"intValue": str(os.getpid())}}


class TestSinkSpec:
    def test_the_writer_validates_each_sinks_section_once(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The spec a writer is started with (its JSON) is validated once, a section per sink,
        and reads back as the parent's sections; the sinks are opened from those models
        without validating them again."""
        sections = (
            ("file", backend_section("file", {"file_path": str(tmp_path / "w.jsonl")})),
            ("console", backend_section("console", {"level": "WARNING", "stream": "stdout"})),
        )
        sent = SinkSpec(sections, 1024, str(tmp_path / "spill"), 50)
        counts = count_validations(monkeypatch)
        read = SinkSpec.read(orjson.loads(orjson.dumps(sent.wire())))
        assert counts == {"section": 2}
        assert read == sent
        group = open_sinks(read, lambda msg, **fields: None)
        try:
            assert counts == {"section": 2}
            assert [type(s) for s in group.sinks] == [DirectSink, QueuedSink]
            assert [b.level for b in group.backends()] == [INFO, WARNING]
        finally:
            group.close(1.0)
            for backend in group.backends():
                backend.close()


class TestClosingFrame:
    def test_the_closing_frame_sets_the_deadline_and_writes_nothing(self, tmp_path: Path) -> None:
        """The parent's closing frame counts as a frame, carries the drain deadline to the
        writer, and puts no line in the file."""
        path = tmp_path / "hft.log"
        writer, _ = _writer(path, first_frame=0, resend_through=-1)
        writer.take(_frame(_records(0, 3)))
        writer.take(bytes(closing_frame(1234.5))[HEADER.size :])
        assert writer.deadline == 1234.5
        assert writer.frame == 1
        assert _msgs(path) == [0, 1, 2]
