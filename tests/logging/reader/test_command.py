"""``hft logs cat|tail`` end to end: the real command over real files."""

from __future__ import annotations

import os
import pty
import subprocess
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest

from hft.logging.backends.console import ConsoleBackend, colours
from hft.logging.levels import parse_level
from hft.logging.reader import files
from hft.logging.reader.command import Chooser, cat
from hft.logging.reader.files import find_logs
from hft.logging.reader.filters import Query
from hft.logging.reader.output import Output
from hft.logging.record import Source
from tests.logging.reader.cli import command, env, hft_logs
from tests.logging.reader.logfiles import SCHEMAS, SPAN, T0, TRACE, hft_line, numbered, write

S = 1_000_000_000


def _rotated_log(folder: Path, schema: str = "hft") -> tuple[Path, list[bytes]]:
    """hft.log with a gzip, a zstd and a plain rotated file: 400 lines in all, in order."""
    lines = numbered(400, schema=schema)
    write(folder / "hft.log.2026-12-04.gz", lines[:100], mtime_ns=1 * S)
    write(folder / "hft.log.2026-12-05.zst", lines[100:200], mtime_ns=2 * S)
    write(folder / "hft.log.2026-12-06", lines[200:300], mtime_ns=3 * S)
    return write(folder / "hft.log", lines[300:]), lines


class TestCat:
    @pytest.mark.parametrize("schema", sorted(SCHEMAS))
    def test_json_is_the_lines_on_disk_in_order(self, tmp_path: Path, schema: str) -> None:
        """Rotated (gzip, zstd, plain) then live: every line byte for byte, oldest first."""
        live, lines = _rotated_log(tmp_path, schema)
        done = hft_logs("cat", "--format", "json", live)
        assert done.returncode == 0, done.stderr
        assert done.stdout == b"".join(lines)
        assert done.stderr == b""

    def test_folder_gives_each_log(self, tmp_path: Path) -> None:
        """A folder: each log with its rotated files, logs by name."""
        _rotated_log(tmp_path / "logs")
        write(tmp_path / "logs" / "a.log", [hft_line(msg="a")])
        done = hft_logs("cat", "--format", "json", tmp_path / "logs")
        lines = done.stdout.splitlines(keepends=True)
        assert lines[0] == hft_line(msg="a")
        assert len(lines) == 401

    @pytest.mark.parametrize("schema", sorted(SCHEMAS))
    def test_filters_keep_lines_byte_identical(self, tmp_path: Path, schema: str) -> None:
        """A filtered json cat prints exactly the lines that pass, as on disk."""
        make = SCHEMAS[schema]
        lines = [make(T0 + i, level=("INFO", "WARNING", "ERROR")[i % 3], seq=i) for i in range(30)]
        path = write(tmp_path / "hft.log", lines)
        done = hft_logs("cat", "--format", "json", "--level", "warning", path)
        assert done.stdout == b"".join(line for i, line in enumerate(lines) if i % 3)

    def test_every_filter_from_the_command_line(self, tmp_path: Path) -> None:
        """--logger, --since/--until, --grep and repeated --field, together, as options."""
        lines = [
            hft_line(T0 + i * S, logger=("exchange.mexc", "exchanges")[i % 2], msg=f"m{i}", seq=i)
            for i in range(20)
        ]
        lines.append(hft_line(T0 + 4 * S, logger="exchange", msg="m4", side="buy", book={"px": 1}))
        path = write(tmp_path / "hft.log", lines)
        args = ["--logger", "exchange", "--since", "2026-12-07T03:00:02Z"]
        args += ["--until", "2026-12-07T03:00:09Z", "--grep", "^m[4-8]$"]
        done = hft_logs("cat", "--format", "json", *args, path)
        messages = [orjson.loads(line)["msg"] for line in done.stdout.splitlines()]
        assert messages == ["m4", "m6", "m8", "m4"]  # file order: no --merge
        more = ["--field", "side=buy", "--field", "book.px=1"]
        done = hft_logs("cat", "--format", "json", *args, *more, path)
        assert done.stdout == lines[-1]

    def test_pretty_is_the_consoles_line_for_every_schema(self, tmp_path: Path) -> None:
        """--format pretty prints what the console backend prints for the record, whichever
        schema it was written in."""
        fields: dict[str, Any] = {"qty": 1, "side": "buy sell"}
        source = Source("exchange.mexc", ("mexc",))
        record = (3, T0 + 1500, parse_level("ERROR"), source, "filled", fields)
        expected = ConsoleBackend().format(record, colours(False)) + "\n"
        for schema, make in SCHEMAS.items():
            path = write(tmp_path / f"{schema}.log", [make(T0 + 1500, "ERROR", seq=3, **fields)])
            done = hft_logs("cat", path)
            assert done.stdout.decode() == expected, schema

    def test_colour_only_when_asked_or_on_a_terminal(self, tmp_path: Path) -> None:
        """Into a pipe: no colour; --color always: the console's colours."""
        path = write(tmp_path / "hft.log", [hft_line(level="WARNING")])
        assert b"\x1b[" not in hft_logs("cat", path).stdout
        coloured = hft_logs("cat", "--color", "always", path).stdout
        assert b"\x1b[33mWARNING" in coloured

    def test_colour_on_a_terminal_unless_never(self, tmp_path: Path) -> None:
        """--color auto colours on a terminal (a pseudo-terminal here); never does not."""
        path = write(tmp_path / "hft.log", [hft_line(level="WARNING")])
        for option, coloured in (("auto", True), ("never", False)):
            main, secondary = pty.openpty()
            try:
                done = subprocess.run(
                    command("cat", "--color", option, path),
                    env=env(),
                    stdout=secondary,
                    timeout=120,
                    check=False,
                )
                assert done.returncode == 0
                shown = os.read(main, 65536)
            finally:
                os.close(main)
                os.close(secondary)
            assert (b"\x1b[33mWARNING" in shown) is coloured, option

    def test_pretty_shows_the_span(self, tmp_path: Path) -> None:
        """A record's trace and span ids reach the pretty line, whichever schema."""
        for schema, make in SCHEMAS.items():
            path = write(tmp_path / f"{schema}.log", [make(traced=True, qty=1)])
            shown = hft_logs("cat", path).stdout
            assert TRACE.encode() in shown, schema
            assert SPAN.encode() in shown, schema
            assert b"qty=1" in shown

    def test_lines_of_no_schema_are_skipped_and_counted(self, tmp_path: Path) -> None:
        """Not JSON, or JSON of another shape: left out, counted on stderr at the end."""
        lines = [hft_line(seq=0), b"garbage\n", b'{"x":1}\n', hft_line(seq=1)]
        path = write(tmp_path / "hft.log", lines)
        for args in (["--format", "json"], ["--level", "debug"], []):
            done = hft_logs("cat", *args, path)
            assert done.returncode == 0
            assert len(done.stdout.splitlines()) == 2
            assert b"skipped 2 line(s)" in done.stderr, args

    @pytest.mark.parametrize(
        ("args", "says"),
        [
            (["--since", "yesterday"], b"not a time"),
            (["--level", "loud"], b"unknown level"),
            (["--field", "qty"], b"KEY=VALUE"),
            (["--grep", "("], b"missing"),
        ],
    )
    def test_bad_options_exit_2_with_one_line(
        self, tmp_path: Path, args: list[str], says: bytes
    ) -> None:
        """A wrong option value: exit 2, one line on stderr, no traceback."""
        path = write(tmp_path / "hft.log", [hft_line()])
        done = hft_logs("cat", *args, path)
        assert done.returncode == 2
        assert says in done.stderr
        assert b"Traceback" not in done.stderr

    def test_missing_path_exits_2(self, tmp_path: Path) -> None:
        """A path naming no log: exit 2, saying which."""
        done = hft_logs("cat", tmp_path / "nope.log")
        assert done.returncode == 2
        assert b"no such log" in done.stderr

    def test_closed_pipe_exits_quietly(self, tmp_path: Path) -> None:
        """`hft logs cat big.log | head -1`: exit 0, nothing on stderr."""
        path = write(tmp_path / "hft.log", numbered(200_000))
        child = subprocess.Popen(
            command("cat", "--format", "json", path),
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert child.stdout is not None
        assert child.stderr is not None
        assert child.stdout.readline() == numbered(1)[0]
        child.stdout.close()
        assert child.wait(timeout=60) == 0
        assert child.stderr.read() == b""
        child.stderr.close()


class TestTail:
    def test_last_lines_of_the_live_file(self, tmp_path: Path) -> None:
        """-n 3: the live file's last three lines."""
        live, lines = _rotated_log(tmp_path)
        done = hft_logs("tail", "-n", "3", "--format", "json", live)
        assert done.stdout == b"".join(lines[-3:])

    def test_default_is_ten(self, tmp_path: Path) -> None:
        """Without -n: ten lines."""
        live, lines = _rotated_log(tmp_path)
        assert hft_logs("tail", "--format", "json", live).stdout == b"".join(lines[-10:])

    def test_into_rotated_and_compressed_files(self, tmp_path: Path) -> None:
        """More lines than the live file holds come from the rotated files, newest first."""
        live, lines = _rotated_log(tmp_path)
        done = hft_logs("tail", "-n", "350", "--format", "json", live)
        assert done.stdout == b"".join(lines[-350:])

    def test_filters_choose_which_lines_count(self, tmp_path: Path) -> None:
        """-n 2 --field i=… : the last two lines that pass."""
        live, lines = _rotated_log(tmp_path)
        done = hft_logs("tail", "-n", "2", "--format", "json", "--grep", "fill", live)
        assert done.stdout == b"".join(lines[-2:])
        done = hft_logs("tail", "-n", "5", "--format", "json", "--field", "i=7", live)
        assert done.stdout == lines[7]

    def test_merged_tail(self, tmp_path: Path) -> None:
        """--merge: the last N of the logs interleaved by time."""
        a = write(tmp_path / "a.log", [hft_line(T0 + i * 2, seq=i) for i in range(10)])
        b = write(tmp_path / "b.log", [hft_line(T0 + i * 2 + 1, seq=i) for i in range(10)])
        done = hft_logs("tail", "-n", "3", "--merge", "--format", "json", a, b)
        stamps = [orjson.loads(line)["ts"][-4:-1] for line in done.stdout.splitlines()]
        assert stamps == ["017", "018", "019"]


class TestMemory:
    @pytest.mark.parametrize(
        "options",
        [
            {"merged": False, "pretty": False, "query": Query()},
            {"merged": False, "pretty": True, "query": Query(level=30)},
            {"merged": True, "pretty": False, "query": Query(fields=(("i", "7"),))},
        ],
        ids=["raw", "pretty-filtered", "merged"],
    )
    def test_cat_stays_flat(
        self, tmp_path: Path, options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """cat over four times the lines (rotated, compressed) peaks within a small constant of
        the smaller run, plain, pretty and filtered, or merged: what it holds is a batch per
        log (64 KB here, so that both runs' files are many batches long), never a file."""
        monkeypatch.setattr(files, "BATCH_BYTES", 64 * 1024)
        peaks = [_cat_peak(tmp_path / str(count), count, options) for count in (10_000, 40_000)]
        assert peaks[1] < peaks[0] + 512 * 1024, peaks


def _cat_peak(folder: Path, count: int, options: dict[str, Any]) -> int:
    lines = numbered(count)
    quarter = count // 4
    write(folder / "a.log.2026-12-05.gz", lines[:quarter], mtime_ns=S)
    write(folder / "a.log.2026-12-06.zst", lines[quarter : 2 * quarter], mtime_ns=2 * S)
    write(folder / "a.log", lines[2 * quarter : 3 * quarter])
    write(folder / "b.log", lines[3 * quarter :])
    logs = find_logs([str(folder)])
    with open(os.devnull, "wb") as sink:
        output = Output(sink, pretty=options["pretty"], colour=False)
        chooser = Chooser(options["query"], output, parse_all=options["merged"])
        tracemalloc.start()
        try:
            cat(logs, chooser, merged=options["merged"])
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
