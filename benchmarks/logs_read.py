"""How fast ``hft logs`` reads a file, in lines per second, beside Debian's ``jq -c``.

Not a test. Writes one hft JSON-lines file of N records (default 1,000,000; one in ten a
WARNING) with the file backend's renderer, then times each command over it, its output
into /dev/null, ROUNDS times (default 3), round-robin with a rotating start. Prints the host
facts, then per command the range of its rates (lines of the file per second of wall time) and
the median. Results: ``benchmarks/results/logs_read.json``.
Run: ``.venv/bin/python -m benchmarks.logs_read [N] [ROUNDS]``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

import orjson

from benchmarks import hostfacts
from hft.logging.levels import INFO, WARNING
from hft.logging.record import Record, Source
from hft.logging.render.lines import JsonLineRenderer

RESULTS: Final = Path(__file__).parent / "results" / "logs_read.json"
_SOURCE: Final = Source.create("exchange.mexc.orders", ("mexc",), {})
_T0: Final = 1_796_612_400_000_000_000


def commands(path: Path) -> dict[str, list[str]]:
    """What is timed, by name: hft logs (json, filtered, pretty) and jq doing the same."""
    hft = [sys.executable, "-m", "hft.cli", "logs", "cat"]
    return {
        "hft logs cat --format json": [*hft, "--format", "json", str(path)],
        "hft logs cat --format json --level WARNING": [
            *hft, "--format", "json", "--level", "WARNING", str(path),
        ],
        "hft logs cat --format pretty": [*hft, "--format", "pretty", str(path)],
        "jq -c .": ["jq", "-c", ".", str(path)],
        'jq -c \'select(.level=="WARNING")\'': [
            "jq", "-c", 'select(.level=="WARNING")', str(path),
        ],
    }  # fmt: skip


def write_file(path: Path, count: int) -> None:
    """*count* records as the file backend writes them, a microsecond apart."""
    renderer = JsonLineRenderer()
    with path.open("wb") as out:
        for start in range(0, count, 10_000):
            records: list[Record] = [
                (i, _T0 + i * 1000, WARNING if i % 10 == 0 else INFO, _SOURCE, "order filled",
                 {"order_id": f"o-{i}", "px": 101.25 + i % 100, "qty": i % 7, "side": "buy"})
                for i in range(start, min(count, start + 10_000))
            ]  # fmt: skip
            out.write(renderer.many(records))


def time_once(argv: list[str]) -> float:
    """Seconds of wall time for *argv*, its output into /dev/null."""
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def run(count: int, rounds: int) -> dict[str, list[float]]:
    """Each command's rates (lines/s) over *rounds* rounds."""
    rates: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hft.log"
        write_file(path, count)
        timed = commands(path)
        names = list(timed)
        for round_ in range(rounds):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                rates.setdefault(name, []).append(count / time_once(timed[name]))
    return rates


def main() -> int:
    """Measure, print, save."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    if shutil.which("jq") is None:
        print("jq is not on PATH: apt-get install jq", file=sys.stderr)
        return 2
    facts = hostfacts.measure()
    facts["cpu_model"] = cpu_model()
    for line in hostfacts.facts_lines(facts):
        print(line)
    print(f"Host: CPU {facts['cpu_model']}; {count:,} lines, {rounds} rounds")
    rates = run(count, rounds)
    for name, values in rates.items():
        low, high, mid = min(values), max(values), statistics.median(values)
        rate = f"{low / 1e3:,.0f}-{high / 1e3:,.0f} k lines/s (median {mid / 1e3:,.0f} k)"
        print(f"{name:<45} {rate}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_bytes(orjson.dumps({"meta": {"host": facts, "lines": count}, "rates": rates}))
    return 0


def cpu_model() -> str:
    """The CPU's model name, from /proc/cpuinfo (Linux), else the platform's word."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return os.uname().machine


if __name__ == "__main__":
    sys.exit(main())
