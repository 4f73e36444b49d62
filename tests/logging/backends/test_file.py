"""FileBackend: JSON lines read back from disk, rotation, retention."""

from __future__ import annotations

import errno
import os
import re
import stat
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from hft.config import ConfigError
from hft.logging import FileBackend, HFTLogger, LoggingPipeline, create_backend_from_config
from hft.logging.record import Record, Source

_SOURCE = Source.create("orders", ("mexc",), {})
_ISO_NS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


def _log(backend: FileBackend, *messages: str, **fields: object) -> None:
    pipeline = LoggingPipeline([backend]).start()
    logger = HFTLogger(pipeline, "exchange.mexc.ws", ["mexc", "ws"])
    for message in messages:
        logger.info(message, **fields)
    pipeline.close()


class TestFormat:
    def test_one_json_object_per_line(self, tmp_path: Path) -> None:
        """Each record is a JSON object with ts, level, logger, tags, seq, msg and fields."""
        path = tmp_path / "deep" / "folder" / "hft.log"
        _log(FileBackend(file_path=path), "order placed", symbol="BTCUSDT", price=123.45)
        (line,) = path.read_bytes().splitlines()
        record = orjson.loads(line)
        assert _ISO_NS.match(record.pop("ts"))
        assert record == {
            "level": "INFO",
            "logger": "exchange.mexc.ws",
            "tags": ["mexc", "ws"],
            "seq": 0,
            "msg": "order placed",
            "fields": {"symbol": "BTCUSDT", "price": 123.45},
        }

    def test_timestamp_is_utc_with_nanoseconds(self, tmp_path: Path) -> None:
        """The timestamp is the call's ``time_ns`` rendered in UTC with all nine digits."""
        path = tmp_path / "hft.log"
        before = time.time_ns()
        _log(FileBackend(file_path=path), "m")
        ts = orjson.loads(path.read_bytes())["ts"]
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(before // 10**9))
        assert ts[:19] == seconds or int(ts[20:29]) < 10**9

    def test_newline_in_message_cannot_forge_a_line(self, tmp_path: Path) -> None:
        """A message with newlines and JSON inside stays one line."""
        path = tmp_path / "hft.log"
        _log(FileBackend(file_path=path), 'a\n{"level":"CRITICAL","msg":"forged"}')
        assert len(path.read_bytes().splitlines()) == 1

    def test_reserved_field_names_do_not_overwrite(self, tmp_path: Path) -> None:
        """Fields named ``level`` or ``msg`` live under ``fields`` and leave the record alone."""
        path = tmp_path / "hft.log"
        _log(FileBackend(file_path=path), "real", level="CRITICAL", ts="forged")
        record = orjson.loads(path.read_bytes())
        assert (record["level"], record["msg"]) == ("INFO", "real")
        assert record["fields"] == {"level": "CRITICAL", "ts": "forged"}

    def test_unserialisable_values_are_rendered(self, tmp_path: Path) -> None:
        """Objects, sets, bytes, NaN and cycles become text instead of failing the batch."""
        path = tmp_path / "hft.log"
        cyclic: list[object] = []
        cyclic.append(cyclic)
        _log(
            FileBackend(file_path=path),
            "odd",
            obj=object(),
            s={1},
            b=b"x",
            nan=float("nan"),
            c=cyclic,
        )
        fields = orjson.loads(path.read_bytes())["fields"]
        assert fields["obj"].startswith("<object object")
        assert fields["s"] == [1]
        assert fields["nan"] == "nan"
        assert fields["c"] == ["<cycle>"]

    def test_level_filter(self, tmp_path: Path) -> None:
        """Records below the backend's level are not written."""
        path = tmp_path / "hft.log"
        pipeline = LoggingPipeline([FileBackend(level="WARNING", file_path=path)]).start()
        logger = HFTLogger(pipeline, "x")
        logger.info("no")
        logger.warning("yes")
        pipeline.close()
        assert [orjson.loads(x)["msg"] for x in path.read_bytes().splitlines()] == ["yes"]


class TestRotation:
    def test_size_rotation_keeps_retention_files(self, tmp_path: Path) -> None:
        """Size rotation starts new files and keeps the newest ``retention`` rotated ones."""
        path = tmp_path / "hft.log"
        backend = FileBackend(file_path=path, rotation="size", max_bytes=600, retention=3)
        pipeline = LoggingPipeline([backend], batch_size=5).start()
        logger = HFTLogger(pipeline, "x")
        for i in range(40):
            logger.info("m", i=i)
            if i % 5 == 4:
                pipeline.flush()
        pipeline.close()
        rotated = sorted(tmp_path.glob("hft.log.*"))
        assert len(rotated) == 3
        kept = [
            orjson.loads(x)["fields"]["i"]
            for p in [*backend.rotated_files(), path]
            for x in p.read_bytes().splitlines()
        ]
        assert kept == sorted(kept)
        assert kept[-1] == 39

    def test_daily_rotation_at_utc_midnight(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A write on a new UTC day moves yesterday's file aside under its date."""
        path = tmp_path / "hft.log"
        backend = FileBackend(file_path=path, rotation="daily")
        _log_one = LoggingPipeline([backend])
        HFTLogger(_log_one, "x").info("day one")
        _log_one.flush()
        yesterday = time.strftime("%Y-%m-%d", time.gmtime())
        tomorrow = time.time() + 86_400
        monkeypatch.setattr(time, "time", lambda: tomorrow)
        HFTLogger(_log_one, "x").info("day two")
        _log_one.close()
        assert orjson.loads((tmp_path / f"hft.log.{yesterday}").read_bytes())["msg"] == "day one"
        assert orjson.loads(path.read_bytes())["msg"] == "day two"

    def test_appends_to_an_existing_file(self, tmp_path: Path) -> None:
        """A restart appends to the log it finds instead of truncating it."""
        path = tmp_path / "hft.log"
        _log(FileBackend(file_path=path), "first run")
        _log(FileBackend(file_path=path), "second run")
        assert len(path.read_bytes().splitlines()) == 2
        assert os.stat(path).st_size > 0


class TestFilesAreOurs:
    def test_a_symlinked_log_is_refused_and_its_target_untouched(self, tmp_path: Path) -> None:
        """A symlink at file_path is refused with an error naming the key; the file it points
        to keeps its content and mode."""
        target = tmp_path / "precious.txt"
        target.write_bytes(b"keep me\n")
        target.chmod(0o600)
        link = tmp_path / "hft.log"
        link.symlink_to(target)
        settings = {"file_path": str(link), "rotation": "none"}
        with pytest.raises(ConfigError, match=r"logging\.backends\.file\.file_path") as caught:
            create_backend_from_config("file", settings)
        assert "symbolic link" in str(caught.value)
        assert target.read_bytes() == b"keep me\n"
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert link.is_symlink()

    def test_rotation_never_writes_through_a_symlink(self, tmp_path: Path) -> None:
        """A symlink planted at the log's path is moved aside by rotation, never written
        through: the next file is a regular one and the link's target is untouched."""
        target = tmp_path / "precious.txt"
        target.write_bytes(b"keep me\n")
        path = tmp_path / "hft.log"
        backend = FileBackend(file_path=path, rotation="size", max_bytes=1)
        backend.write([(0, 10**18, 20, _SOURCE, "first", {})])
        path.unlink()
        path.symlink_to(target)
        backend.write([(1, 10**18, 20, _SOURCE, "second", {})])
        backend.close()
        assert target.read_bytes() == b"keep me\n"
        assert not path.is_symlink()
        assert [orjson.loads(line)["msg"] for line in path.read_bytes().splitlines()] == ["second"]

    def test_a_new_log_gets_file_mode_whatever_the_umask(self, tmp_path: Path) -> None:
        """A log hft creates gets file_mode (0o640 by default, or as set) whatever the umask;
        an existing log keeps its own mode."""
        old = os.umask(0o000)
        try:
            FileBackend(file_path=tmp_path / "default.log").close()
            FileBackend(file_path=tmp_path / "set.log", file_mode="0600").close()
            existing = tmp_path / "existing.log"
            existing.write_bytes(b"")
            existing.chmod(0o644)
            FileBackend(file_path=existing, file_mode=0o600).close()
        finally:
            os.umask(old)
        modes = [stat.S_IMODE((tmp_path / n).stat().st_mode) for n in ("default.log", "set.log")]
        assert modes == [0o640, 0o600]
        assert stat.S_IMODE(existing.stat().st_mode) == 0o644

    def test_a_mode_that_is_not_octal_names_the_key(self, tmp_path: Path) -> None:
        """file_mode 640 (decimal, likely meant as octal) is refused with the key's name."""
        with pytest.raises(ValueError, match=r"logging\.backends\.file\.file_mode"):
            FileBackend(file_path=tmp_path / "hft.log", file_mode=640)


class TestLastLine:
    def test_a_torn_tail_is_cut_and_the_last_whole_line_returned(self, tmp_path: Path) -> None:
        """last_line cuts a line without its newline off the file and returns the one before,
        byte for byte as write rendered it."""
        path = tmp_path / "hft.log"
        backend = FileBackend(file_path=path, rotation="none")
        records = [(i, 10**18 + i, 20, _SOURCE, "m", {"i": i}) for i in range(3)]
        backend.write(records)
        whole = path.read_bytes()
        with path.open("ab") as log:
            log.write(b'{"ts":"torn')
        assert backend.last_line() == backend.render(records[2:])
        assert path.read_bytes() == whole
        backend.close()

    def test_an_empty_log_after_rotation_reads_the_rotated_one(self, tmp_path: Path) -> None:
        """Just after a rotation the last line written is in the newest rotated file."""
        path = tmp_path / "hft.log"
        backend = FileBackend(file_path=path, rotation="size", max_bytes=1)
        record: Record = (7, 10**18, 20, _SOURCE, "m", {})
        backend.write([record])
        backend._rotate("x")
        assert path.stat().st_size == 0
        assert backend.last_line() == backend.render([record])
        backend.close()


class TestDoubleFault:
    def test_a_failed_cut_back_never_leaves_a_batch_twice(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A write fails half-way and the cut-back fails too: the retry of the batch first cuts
        the torn bytes off (or fails without appending), so every record is in the file once."""
        path = tmp_path / "hft.log"
        backend = FileBackend(file_path=path, rotation="none")
        backend.write([(0, 10**18, 20, _SOURCE, "first", {})])
        real_write, real_truncate = os.write, os.ftruncate
        faults = {"write": 1, "truncate": 2}

        def torn_write(fd: int, data: Any) -> int:
            if faults["write"]:
                faults["write"] -= 1
                real_write(fd, bytes(data)[: len(data) // 2])
                raise OSError(errno.EIO, "injected")
            return real_write(fd, data)

        def failing_truncate(fd: int, size: int) -> None:
            if faults["truncate"]:
                faults["truncate"] -= 1
                raise OSError(errno.EIO, "injected")
            real_truncate(fd, size)

        monkeypatch.setattr(os, "write", torn_write)
        monkeypatch.setattr(os, "ftruncate", failing_truncate)
        batch = [(i, 10**18 + i, 20, _SOURCE, "m", {"i": i}) for i in range(1, 50)]
        with pytest.raises(OSError, match="injected"):
            backend.write(batch)  # torn, and the cut-back fails
        with pytest.raises(OSError, match="injected"):
            backend.write(batch)  # the cut-back before appending fails again: nothing appended
        backend.write(batch)  # the cut-back works: the batch goes in once
        backend.close()
        lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
        assert [line["seq"] for line in lines] == list(range(50))
