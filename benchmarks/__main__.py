"""``python -m benchmarks [suite|exit|memory|paced|stall]``: run, print the tables, write results.

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

from benchmarks import hostfacts, paced, paced_report, report, stall, suite
from benchmarks.child import child_main
from benchmarks.contenders import DEFAULT, REGISTRY
from benchmarks.harness import ALLOW_PURE_ENV, hft_build, probe_hft, refusal

QUICK = 20_000
MODES = ["suite", "exit", "memory", "paced", "stall"]
PACED_SECONDS = 5.0
EXIT_DEFAULT = (
    "baseline", "stdlib-queue", "loguru-enqueue", "picologging-queue", "hft", "hft-prod", "hft-dev",
)  # fmt: skip
MEMORY_DEFAULT = ("hft", "hft-prod", "hft-dev", "baseline")


def _names(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if unknown := [name for name in names if name not in REGISTRY]:
        raise argparse.ArgumentTypeError(f"unknown contenders {unknown}; known: {list(REGISTRY)}")
    return names


def _rates(value: str) -> list[int]:
    try:
        rates = [int(rate) for rate in value.split(",") if rate.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rates: integers, comma-separated: {value!r}") from None
    if not rates or min(rates) <= 0:
        raise argparse.ArgumentTypeError(f"--rates: positive calls per second: {value!r}")
    return rates


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("mode", nargs="?", default="suite", choices=MODES)
    parser.add_argument(
        "--calls", type=int, help="timed calls per round (suite default 200,000; paced: per rate)"
    )
    rates_help = "paced: comma-separated calls/s (default 20000,100000; stall: 10000)"
    parser.add_argument("--rates", type=_rates, default=[20_000, 100_000], help=rates_help)
    seconds_help = f"paced: seconds per rate, unless --calls (default {PACED_SECONDS})"
    parser.add_argument("--seconds", type=float, help=seconds_help)
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
    results = suite.run_memory(args.contenders or MEMORY_DEFAULT, args.records or 10_000_000)
    results["meta"]["host"] = args.host
    print(report.memory_table(results))
    report.write_json(results, args.out / "memory.json")


def _paced(args: argparse.Namespace) -> None:
    seconds = args.seconds or PACED_SECONDS
    calls = {rate: args.calls or paced.calls_for(seconds, rate) for rate in args.rates}
    results = paced.run_paced(args.contenders or list(paced.DEFAULT), calls, args.rounds or 3)
    results["meta"]["host"] = args.host
    print(paced_report.paced_table(results))
    report.write_json(results, args.out / "paced.json")
    print(f"\nwrote {args.out / 'paced.json'}")


def _stall(args: argparse.Namespace) -> None:
    rate = args.rates[0] if args.rates != [20_000, 100_000] else 10_000
    runs = stall.run_stall(rate, args.seconds or 8.0, args.rounds or 3)
    print(stall.table(runs))
    report.write_json({"meta": {"host": args.host}, "runs": runs}, args.out / "stall.json")
    print(f"\nwrote {args.out / 'stall.json'}")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse *argv* and run the chosen mode (``_child`` is the harness's internal entry point)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_child"]:
        kind, name, count, workdir, *extra = argv[1:]
        return child_main(kind, name, int(count), Path(workdir), *extra)
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
    modes = {"suite": _suite, "exit": _exit, "memory": _memory, "paced": _paced, "stall": _stall}
    modes[args.mode](args)
    return 0


def _runs_hft(args: argparse.Namespace) -> bool:
    defaults = {"suite": DEFAULT, "paced": paced.DEFAULT, "exit": EXIT_DEFAULT,
                "memory": MEMORY_DEFAULT, "stall": ("hft-dev",)}  # fmt: skip
    names = args.contenders or defaults[args.mode]
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
