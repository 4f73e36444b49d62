"""The writer's render cost per schema: records/s rendering one batch in hft, ecs and otel.

Run: ``python -m benchmarks.schemas [--records N] [--rounds R]``. One batch of N records
(100,000 by default: plain records of one logger, four fields each, one second apart every
1,000 records) is rendered by each schema's renderer as the writer process renders it
(``many``), the schemas interleaved per round; the best round of each is kept (the least
disturbed by other processes). Two forms of the batch: tuples (a pickled frame's records),
and, where the C call site is built, the lane frames the C call site makes of the same calls
(``LaneRecords``: hft renders them straight from the bytes, ecs and otel decode the tuples
first, and that decoding is counted). Prints records/s and ns/record per schema and form.
"""

from __future__ import annotations

import argparse
import itertools
import pickle
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from hft.logging.native import Emitter, Lane, native_paths
from hft.logging.record import LaneRecords, Record, Source
from hft.logging.render.schemas import SCHEMAS, line_renderer
from hft.logging.writer.wire import FrameEncoder

_T0 = 1_796_612_400_000_000_000
SOURCE = Source.create("exchange.mexc.orders", ("mexc", "spot"), {})
_FIELDS = ("symbol", "price", "qty", "i")


def batch(records: int) -> list[Record]:
    """*records* plain records of one logger, as a pickled frame brings them."""
    return [
        (i, _T0 + i * 1_000_000, 20, SOURCE, "order placed",
         {"symbol": "BTCUSDT", "price": 64_123.5, "qty": 0.25, "i": i})
        for i in range(records)
    ]  # fmt: skip


def lane_frames(records: int) -> list[bytes] | None:
    """The same calls as lane frames, made by the C call site (None where it is not built)."""
    if Lane is None or Emitter is None:
        return None
    lane = Lane(1 << 26, records + 1, "drop_newest", 0.001, set(_FIELDS), (), print, None, -1)
    source_id = lane.define(FrameEncoder(4096).pickle_source(SOURCE))
    ring: deque[Any] = deque()
    emit = Emitter(ring, itertools.count().__next__, 20, SOURCE, -1, None, lane=lane,
                   lane_source=source_id)  # fmt: skip
    for i in range(records):
        emit("order placed", symbol="BTCUSDT", price=64_123.5, qty=0.25, i=i)
    frames = []
    while (taken := lane.take(1 << 20)) is not None:
        frames.append(bytes(taken[0][8:]))
    return frames if not ring else None  # a record the lane refused: not a fair batch


def best_rates(render: Callable[[str], int], rounds: int) -> dict[str, float]:
    """Records/s of the best of *rounds* calls of *render* (schema -> records), per schema."""
    best = dict.fromkeys(SCHEMAS, float("inf"))
    count = 0
    for turn in range(rounds):
        order = SCHEMAS[turn % 3 :] + SCHEMAS[: turn % 3]
        for schema in order:
            start = time.perf_counter()
            count = render(schema)
            best[schema] = min(best[schema], time.perf_counter() - start)
    return {schema: count / seconds for schema, seconds in best.items()}


def tuple_rates(records: Sequence[Record], rounds: int) -> dict[str, float]:
    """Rendering *records* (tuples), per schema."""
    renderers = {schema: line_renderer(schema) for schema in SCHEMAS}

    def render(schema: str) -> int:
        renderers[schema].many(records)
        return len(records)

    return best_rates(render, rounds)


def frame_rates(frames: Sequence[bytes], rounds: int) -> dict[str, float]:
    """Rendering lane *frames* as the writer gets them (a fresh LaneRecords each), per schema."""
    renderers = {schema: line_renderer(schema) for schema in SCHEMAS}

    def render(schema: str) -> int:
        count = 0
        for payload in frames:
            records = LaneRecords(payload, pickle.loads)
            renderers[schema].many(records)
            count += len(records)
        return count

    return best_rates(render, rounds)


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Print one line per schema; return the rates."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.schemas")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    path = "C" if native_paths().get("render") else "pure Python"
    print(f"{args.records} records a batch, best of {args.rounds}; hft's render path: {path}")
    rates = {f"{s} tuples": r for s, r in tuple_rates(batch(args.records), args.rounds).items()}
    frames = lane_frames(args.records)
    if frames is not None:
        by_schema = frame_rates(frames, args.rounds).items()
        rates |= {f"{schema} lane frames": rate for schema, rate in by_schema}
    for name, rate in rates.items():
        print(f"{name:16s} {rate:12,.0f} records/s {1e9 / rate:8.0f} ns/record")
    return rates


if __name__ == "__main__":
    main()
