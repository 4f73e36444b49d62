"""Round trips with the real writers: logs written by the pipeline's writer process under each
schema, size-rotated and compressed by its worker, read back by the real ``hft logs``: every
record logged comes out once, in order, filtered as asked, counted against what was logged."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from hft.logging import HFTLogger, LoggingPipeline, create_backend_from_config
from hft.logging.backends.rotated import SUFFIXES, Compression, rotated_groups
from hft.logging.levels import DEBUG, ERROR, INFO, WARNING
from tests.logging.backends.compressed import WAIT_S, checked_by_tools, no_temp
from tests.logging.reader.cli import hft_logs

COUNT = 400  #: records logged into each log
LOGGERS = ("exchange.mexc.orders", "exchange.binance", "strategy.mm")
LEVELS = (DEBUG, INFO, WARNING, ERROR)
LEVEL_NAMES = {DEBUG: "DEBUG", INFO: "INFO", WARNING: "WARNING", ERROR: "ERROR"}
VENUES = ("mexc", "binance")
CASES = [(s, c) for s in ("hft", "ecs", "otel") for c in ("gzip", "zstd")]


@dataclass(frozen=True)
class Logged:
    """One record as the test logged it."""

    i: int
    level: int
    logger: str
    venue: str


@dataclass(frozen=True)
class Written:
    """A log the writer process wrote: its live file, schema, and what was logged into it."""

    path: Path
    schema: str
    logged: tuple[Logged, ...]


def logged(i: int, loggers: Sequence[str] = LOGGERS) -> Logged:
    """Record number *i*: level, logger and venue cycling at different periods."""
    return Logged(i, LEVELS[i % 4], loggers[i % len(loggers)], VENUES[i // 3 % 2])


def write_logs(
    folder: Path, specs: Sequence[tuple[str, Compression]], loggers: Sequence[Sequence[str]]
) -> list[Written]:
    """One log per (schema, compression) in *specs*, each through its own pipeline and writer
    process, size-rotated every 8 KB; record *i* is logged into each log in turn (so their
    times interleave), and every rotated file is left compressed by the writer's worker."""
    pipelines, written, sinks = [], [], []
    for n, (schema, method) in enumerate(specs):
        path = folder / f"log{n}" / "hft.log"
        backend = create_backend_from_config("file", {
            "file_path": str(path), "level": "DEBUG", "schema": schema, "rotation": "size",
            "max_bytes": 8000, "retention": 10_000, "compression": method,
        })  # fmt: skip
        pipeline = LoggingPipeline([backend], batch_size=50).start()
        pipelines.append(pipeline)
        records = tuple(logged(i, loggers[n]) for i in range(COUNT))
        written.append(Written(path, schema, records))
        sinks.append({r.logger: HFTLogger(pipeline, r.logger) for r in records})
    for i in range(COUNT):
        for n, log in enumerate(written):
            record = log.logged[i]
            method = getattr(sinks[n][record.logger], LEVEL_NAMES[record.level].lower())
            method("filled", i=i, venue=record.venue)
        if i % 50 == 49:
            for pipeline in pipelines:
                pipeline.flush()  # a batch at a time: the writer rotates between batches
    for pipeline in pipelines:
        pipeline.flush()
    for log, (_, method) in zip(written, specs, strict=True):
        _wait_compressed(log.path, SUFFIXES[method])
    for pipeline in pipelines:
        pipeline.close()
    for log in written:
        assert len(checked_by_tools(log.path.parent)) == len(rotated_groups(log.path)) >= 3
        no_temp(log.path.parent)
    return written


def _wait_compressed(path: Path, suffix: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not all(p.name.endswith(suffix) for p in rotated_groups(path)):
        assert time.monotonic() < deadline, f"the writer's worker left {rotated_groups(path)}"
        time.sleep(0.02)


def decoded(line: bytes) -> tuple[int, str, str]:
    """Record number, level name and logger of a line of any schema, read key by key as the
    contract lays them out (not through the reader under test)."""
    obj = orjson.loads(line)
    if "resourceLogs" in obj:
        (scope,) = obj["resourceLogs"][0]["scopeLogs"]
        (record,) = scope["logRecords"]
        attributes = {a["key"]: a["value"] for a in record["attributes"]}
        fields = {f["key"]: f["value"] for f in attributes["hft.fields"]["kvlistValue"]["values"]}
        return int(fields["i"]["intValue"]), record["severityText"], scope["scope"]["name"]
    if "@timestamp" in obj:
        return obj["fields"]["i"], obj["log.level"].upper(), obj["log"]["logger"]
    return obj["fields"]["i"], obj["level"], obj["logger"]


def stamp(line: bytes) -> str:
    """The line's time as ISO 8601 with nanoseconds (what ``--since`` takes)."""
    obj = orjson.loads(line)
    if "resourceLogs" in obj:
        ns = int(obj["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["timeUnixNano"])
        second = datetime.fromtimestamp(ns // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{second}.{ns % 1_000_000_000:09d}Z"
    return str(obj["@timestamp"] if "@timestamp" in obj else obj["ts"])


def expected(
    log: Written, keep: Callable[[Logged], bool] = lambda _r: True
) -> list[tuple[int, str, str]]:
    """What reading *log* back must give, in order: (number, level name, logger)."""
    return [(r.i, LEVEL_NAMES[r.level], r.logger) for r in log.logged if keep(r)]


def cat_json(*args: str | Path) -> list[bytes]:
    """The lines ``hft logs cat --format json ARGS`` prints (it must succeed quietly)."""
    run = hft_logs("cat", "--format", "json", *args)
    assert (run.returncode, run.stderr) == (0, b"")
    return run.stdout.splitlines(keepends=True)


@pytest.fixture(scope="module", params=CASES, ids=[f"{s}-{c}" for s, c in CASES])
def written(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Written:
    """A log of one schema and compression, written by the real writer process."""
    schema, method = request.param
    folder = tmp_path_factory.mktemp(f"{schema}-{method}")
    (log,) = write_logs(folder, [(schema, method)], [LOGGERS])
    return log


class TestOneLog:
    def test_cat_json_every_record_once_in_order(self, written: Written) -> None:
        """cat --format json: every record logged, once, in order, in the log's own schema."""
        lines = cat_json(written.path)
        assert [decoded(line) for line in lines] == expected(written)
        start = {"hft": b'{"ts":', "ecs": b'{"@timestamp":', "otel": b'{"resourceLogs":'}
        assert all(line.startswith(start[written.schema]) for line in lines)

    def test_cat_pretty_every_record_once_in_order(self, written: Written) -> None:
        """cat --format pretty: one console line per record, in order, with its time, level,
        logger, message and fields."""
        run = hft_logs("cat", "--format", "pretty", "--color", "never", written.path)
        assert (run.returncode, run.stderr) == (0, b"")
        shape = re.compile(r"\S+Z (DEBUG|INFO|WARNING|ERROR) +(\S+) filled i=(\d+) venue=(\w+)")
        found = []
        for line in run.stdout.decode().splitlines():
            matched = shape.fullmatch(line)
            assert matched is not None, line
            level, logger, number, venue = matched.groups()
            assert venue == written.logged[int(number)].venue
            found.append((int(number), level, logger))
        assert found == expected(written)

    @pytest.mark.parametrize(
        ("option", "keep"),
        [
            (("--level", "WARNING"), lambda r: r.level >= WARNING),
            (("--logger", "exchange"), lambda r: r.logger.startswith("exchange.")),
            (("--logger", "exchange.mexc"), lambda r: r.logger == "exchange.mexc.orders"),
            (("--field", "venue=binance"), lambda r: r.venue == "binance"),
            (("--level", "ERROR", "--field", "venue=mexc"),
             lambda r: r.level == ERROR and r.venue == "mexc"),
        ],
        ids=["level", "logger", "logger-deeper", "field", "level-and-field"],
    )  # fmt: skip
    def test_filters_choose_exactly_what_they_name(
        self, written: Written, option: tuple[str, ...], keep: Callable[[Logged], bool]
    ) -> None:
        """Each filter prints the records it names, every one once, in order."""
        assert [decoded(line) for line in cat_json(*option, written.path)] == expected(
            written, keep
        )

    def test_since_starts_at_a_records_time(self, written: Written) -> None:
        """--since the time of record 250 (read back, never a clock time): records 250 on."""
        lines = cat_json(written.path)
        since = stamp(lines[250])
        assert since > stamp(lines[249])  # the writer's times are distinct, in call order
        chosen = cat_json("--since", since, written.path)
        assert [decoded(line) for line in chosen] == expected(written)[250:]

    def test_tail_reaches_into_the_newest_compressed_rotation(self, written: Written) -> None:
        """tail -n: more lines than the live file holds, so the newest rotated file, compressed,
        gives the rest; the last n records, in order."""
        live = len(written.path.read_bytes().splitlines())
        newest = rotated_groups(written.path)[-1]
        assert newest.suffix in (".gz", ".zst")
        want = live + 5
        run = hft_logs("tail", "-n", str(want), "--format", "json", written.path)
        assert (run.returncode, run.stderr) == (0, b"")
        found = [decoded(line) for line in run.stdout.splitlines()]
        assert found == expected(written)[-want:]


def test_merge_of_two_schemas_interleaves_every_record_once(tmp_path: Path) -> None:
    """Two logs written at once, ECS and gzip, OTel and zstd: cat --merge (json, and with a
    filter) gives every record of both once, in the order they were logged."""
    ecs, otel = write_logs(
        tmp_path,
        [("ecs", "gzip"), ("otel", "zstd")],
        [("exchange.mexc.orders", "strategy.mm"), ("exchange.binance",)],
    )
    both = [x for pair in zip(expected(ecs), expected(otel), strict=True) for x in pair]
    merged = cat_json("--merge", ecs.path, otel.path)
    assert [decoded(line) for line in merged] == both
    assert [line.startswith(b'{"@timestamp":') for line in merged] == [True, False] * COUNT
    warned = cat_json("--merge", "--level", "WARNING", "--logger", "exchange", ecs.path, otel.path)
    assert [decoded(line) for line in warned] == [
        x for x in both if x[1] in ("WARNING", "ERROR") and x[2].startswith("exchange.")
    ]
