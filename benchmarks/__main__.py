"""``python -m benchmarks [suite|exit|memory|paced]``: run, print the tables, write the results.

Every mode first measures and prints the host facts (:mod:`benchmarks.hostfacts`) and keeps
them in its JSON results under ``meta.host``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson

from benchmarks import hostfacts, report, suite
from benchmarks.contenders import DEFAULT, REGISTRY
from benchmarks.harness import ALLOW_PURE_ENV, child_main, hft_build, probe_hft, refusal

QUICK = 20_000
EXIT_DEFAULT = ("baseline", "stdlib-queue", "loguru-enqueue", "picologging-queue", "hft")


def _names(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if unknown := [name for name in names if name not in REGISTRY]:
        raise argparse.ArgumentTypeError(f"unknown contenders {unknown}; known: {list(REGISTRY)}")
    return names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("mode", nargs="?", default="suite", choices=["suite", "exit", "memory"])
    parser.add_argument("--calls", type=int, help="timed calls per round (default 200,000)")
    parser.add_argument("--records", type=int, help="records per throughput/exit/memory run")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (suite; default 3)")
    parser.add_argument("--contenders", type=_names, help="comma-separated; default per mode")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK:,} calls/records, 1 round")
    parser.add_argument("--out", type=Path, default=report.RESULTS_DIR, help="results directory")
    parser.add_argument(
        "--allow-pure-python",
        action="store_true",
        help="measure hft even where its C fast paths are not loaded (refused otherwise)",
    )
    return parser


def _suite(args: argparse.Namespace) -> None:
    names = args.contenders or list(DEFAULT)
    calls, records = args.calls or 200_000, args.records or 200_000
    results = suite.run_suite(names, calls, records, args.rounds or 3)
    results["meta"]["host"] = args.host
    print(report.suite_table(results))
    report.write_json(results, args.out / "latest.json")
    report.plot_latency(results, args.out / "latency.png")
    print(f"\nwrote {args.out / 'latest.json'} and {args.out / 'latency.png'}")


def _exit(args: argparse.Namespace) -> None:
    results = suite.run_exit(args.contenders or EXIT_DEFAULT, args.records or 1_000_000)
    results["meta"]["host"] = args.host
    print(report.exit_table(results))
    report.write_json(results, args.out / "exit.json")


def _memory(args: argparse.Namespace) -> None:
    results = suite.run_memory(args.contenders or ["hft", "baseline"], args.records or 10_000_000)
    results["meta"]["host"] = args.host
    print(report.memory_table(results))
    report.write_json(results, args.out / "memory.json")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse *argv* and run the chosen mode (``_child`` is the harness's internal entry point)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_child"]:
        kind, name, count, workdir = argv[1:]
        return child_main(kind, name, int(count), Path(workdir))
    if argv[:1] == ["_build"]:
        print(orjson.dumps(hft_build()).decode(), flush=True)
        return 0
    args = _parser().parse_args(argv)
    if args.quick:
        args.calls, args.records = args.calls or QUICK, args.records or QUICK
        args.rounds = args.rounds or 1
    if args.allow_pure_python:
        os.environ[ALLOW_PURE_ENV] = "1"  # read by every hft child
    if _runs_hft(args) and not _check_hft():
        return 2
    args.host = hostfacts.measure()
    print("\n".join(hostfacts.facts_lines(args.host)), flush=True)
    {"suite": _suite, "exit": _exit, "memory": _memory}[args.mode](args)
    return 0


def _runs_hft(args: argparse.Namespace) -> bool:
    names = args.contenders or (DEFAULT if args.mode == "suite" else EXIT_DEFAULT)
    return any(name.startswith("hft") for name in names)


def _check_hft() -> bool:
    """Say where the children's hft comes from and which C paths it loads; False to refuse."""
    build = probe_hft()
    if reason := refusal(build):
        print(f"python -m benchmarks: refused: {reason}", file=sys.stderr)
        return False
    print(report.build_line(build))
    return True


if __name__ == "__main__":
    sys.exit(main())
