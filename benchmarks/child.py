"""The child interpreter's side: ``python -m benchmarks _child KIND NAME N DIR [EXTRA]``.

It runs one measurement of one contender (:mod:`benchmarks.harness` explains why each gets a
fresh interpreter) and prints its JSON as the last stdout line. It sits apart from the harness,
which times, counts and starts the children, so that the paced measurement
(:mod:`benchmarks.paced`, built on the harness) can be one of its kinds without the harness
importing it back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from benchmarks.contenders import Setup, load
from benchmarks.harness import (
    REFUSED_STATUS,
    SKIP_STATUS,
    hft_build,
    log_then_exit,
    measure_latency,
    measure_memory,
    measure_throughput,
    refusal,
)
from benchmarks.paced import measure_paced

__all__ = ["KINDS", "child_main"]


KINDS: dict[str, Callable[[Setup, Path, int], dict[str, Any]]] = {
    "latency": measure_latency,
    "throughput": measure_throughput,
    "exit": log_then_exit,
    "memory": measure_memory,
}  #: every kind but ``paced``, which takes its rate too


def child_main(kind: str, name: str, count: int, workdir: Path, *extra: str) -> int:
    """Entry point of a child: run one measurement and print its JSON as the last line.

    An hft contender's result carries ``hft``: where the package came from and which C paths
    were loaded; without them the child refuses (:data:`REFUSED_STATUS`) unless allowed.
    The ``paced`` kind takes its rate (calls per second) as the one *extra* argument.
    """
    try:
        setup = load(name)
        build = hft_build() if name.startswith("hft") else None
        if build and (reason := refusal(build)):
            print(orjson.dumps({"error": reason}).decode(), flush=True)
            return REFUSED_STATUS
        path = workdir / f"{name}-{kind}.jsonl"
        if kind == "paced":
            result = measure_paced(setup, path, count, int(extra[0]))
        else:
            result = KINDS[kind](setup, path, count)
    except (ImportError, NotImplementedError) as error:
        print(orjson.dumps({"skip": f"{type(error).__name__}: {error}"}).decode(), flush=True)
        return SKIP_STATUS
    if build:
        result["hft"] = build
    print(orjson.dumps(result).decode(), flush=True)
    return 0
