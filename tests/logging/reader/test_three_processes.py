"""The issue's check: three processes' rotated files merged by ``hft logs cat --merge``, the
same lines in the same order as a ``jq``/``sort`` pipeline over the same files."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.logging.reader.cli import env, hft_logs
from tests.needs import cannot

REPO = Path(__file__).resolve().parents[3]
COUNT = 1500
#: Every file of each log, decompressed, as jq lines ``ts<TAB>log<TAB>seq<TAB>record``, sorted
#: by time, then log, then seq: what a merge must give, worked out without hft.
JQ_PIPELINE = r"""
set -eu -o pipefail
i=0
for log in "$@"; do
  for f in "$log"*; do
    case "$f" in
      *.gz) gzip -dc "$f" ;;
      *.zst) zstd -dcq "$f" ;;
      *) cat "$f" ;;
    esac
  done | jq -r --arg i "$i" '"\(.ts)\t\($i)\t\(.seq)\t\(tojson)"'
  i=$((i + 1))
done | LC_ALL=C sort -s -t "$(printf '\t')" -k1,1 -k2,2n -k3,3n | cut -f4-
"""


def _three_logs(folder: Path) -> list[Path]:
    """Three real processes logging at once, each into its own rotated file."""
    paths = [folder / name / "hft.log" for name in ("a", "b", "c")]
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.logging.reader.writer_child", str(p), str(COUNT), name],
            cwd=REPO,
            env=env() | {"PYTHONPATH": f"{env()['PYTHONPATH']}:{REPO}"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for p, name in zip(paths, "abc", strict=True)
    ]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
    for child in children:
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        child.stdin.close()
    assert [child.wait(timeout=120) for child in children] == [0, 0, 0]
    for child in children:
        assert child.stdout is not None
        child.stdout.close()
    return paths


def _compress_some(paths: list[Path]) -> None:
    """Rotated files as compression leaves them: a's oldest gzip'd, b's zstd'd (mtimes kept)."""
    oldest = [min(p.parent.glob("hft.log.*")) for p in paths]
    subprocess.run(["gzip", str(oldest[0])], check=True)
    subprocess.run(["zstd", "-q", "--rm", str(oldest[1])], check=True)


class TestThreeProcesses:
    def test_merge_matches_jq_and_sort(self, tmp_path: Path) -> None:
        """`hft logs cat --merge --format json a b c` gives the lines the jq/sort pipeline gives,
        in the same order, each byte for byte as on disk."""
        for tool in ("jq", "gzip", "zstd"):
            if shutil.which(tool) is None:
                cannot(f"{tool} is not on PATH: apt-get install {tool}")
        paths = _three_logs(tmp_path)
        assert all(len(list(p.parent.glob("hft.log.*"))) >= 3 for p in paths)
        _compress_some(paths)
        done = hft_logs("cat", "--merge", "--format", "json", *paths)
        assert done.returncode == 0, done.stderr
        assert done.stderr == b""
        expected = subprocess.run(
            ["bash", "-c", JQ_PIPELINE, "jq-merge", *map(str, paths)],
            capture_output=True,
            check=True,
            timeout=120,
        ).stdout
        normalised = subprocess.run(
            ["jq", "-c", "."], input=done.stdout, capture_output=True, check=True, timeout=120
        ).stdout
        assert normalised.count(b"\n") == 3 * COUNT
        assert normalised == expected
        records = [orjson.loads(line) for line in done.stdout.splitlines()]
        order = [r["fields"]["process"] for r in records]
        switches = sum(a != b for a, b in itertools.pairwise(order))
        assert switches >= 20, f"the processes' records hardly interleave: {switches} switches"

    def test_filtered_merge_keeps_order(self, tmp_path: Path) -> None:
        """--merge with --level and --logger: the pipeline's lines that pass, in its order."""
        if shutil.which("jq") is None:
            cannot("jq is not on PATH: apt-get install jq")
        paths = _three_logs(tmp_path)
        args = ["--merge", "--format", "json", "--level", "WARNING", "--logger", "exchange"]
        done = hft_logs("cat", *args, *paths)
        records = [orjson.loads(line) for line in done.stdout.splitlines()]
        assert len(records) == 3 * COUNT // 2
        assert {r["level"] for r in records} == {"WARNING", "ERROR"}
        keys = [(r["ts"], "abc".index(r["fields"]["process"]), r["seq"]) for r in records]
        assert keys == sorted(keys)


@pytest.fixture(autouse=True)
def _repo_on_path() -> None:
    """The child module is imported from the checkout (tests/ is no installed package)."""
    assert (REPO / "tests" / "logging" / "reader" / "writer_child.py").is_file()
