"""The writer's render cost per schema: records/s rendering one batch in hft, ecs and otel.

Run: ``python -m benchmarks.schemas [--records N] [--rounds R]``. One batch of N records
(100,000 by default: plain records of one logger, four fields each, one second apart every
1,000 records) is rendered by each schema's renderer as the writer process renders a frame
(``many``), the schemas interleaved per round; the best round of each is kept (the least
disturbed by other processes). hft takes its C path where it is built; ecs and otel are pure
Python. Prints records/s and ns/record per schema, and which hft render path ran.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from hft.logging.native import native_paths
from hft.logging.record import Record, Source
from hft.logging.render.schemas import SCHEMAS, line_renderer

_T0 = 1_796_612_400_000_000_000


def batch(records: int) -> list[Record]:
    """*records* plain records of one logger, as a writer gets them from a lane frame."""
    source = Source.create("exchange.mexc.orders", ("mexc", "spot"), {})
    return [
        (i, _T0 + i * 1_000_000, 20, source, "order placed",
         {"symbol": "BTCUSDT", "price": 64_123.5, "qty": 0.25, "i": i})
        for i in range(records)
    ]  # fmt: skip


def best_rates(records: Sequence[Record], rounds: int) -> dict[str, float]:
    """Records/s of the best of *rounds* renderings of *records*, per schema."""
    renderers = {schema: line_renderer(schema) for schema in SCHEMAS}
    best = dict.fromkeys(SCHEMAS, float("inf"))
    for turn in range(rounds):
        order = SCHEMAS[turn % 3 :] + SCHEMAS[: turn % 3]
        for schema in order:
            start = time.perf_counter()
            renderers[schema].many(records)
            best[schema] = min(best[schema], time.perf_counter() - start)
    return {schema: len(records) / seconds for schema, seconds in best.items()}


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Print one line per schema; return the rates."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.schemas")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    rates = best_rates(batch(args.records), args.rounds)
    path = "C" if native_paths().get("render") else "pure Python"
    print(f"{args.records} records a batch, best of {args.rounds}; hft's render path: {path}")
    for schema, rate in rates.items():
        print(f"{schema:5s} {rate:12,.0f} records/s {1e9 / rate:8.0f} ns/record")
    return rates


if __name__ == "__main__":
    main()
