"""What the schema tests share: real files written under a schema through the real pipeline."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hft.logging import HFTLogger, LoggingPipeline
from hft.logging.record import TRACE_FIELD
from tests.logging.writer.helpers import process_file

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
#: A span as TRACE puts it in a record's fields (built by hand here).
TRACED: dict[str, Any] = {TRACE_FIELD: TRACE_ID + SPAN_ID + "01"}
LOGGER, TAGS = "exchange.mexc", ["mexc", "spot"]
#: Names a user may give a field that are the schemas' own keys: they must stay in the fields.
SCHEMA_KEY_NAMES = ("message", "@timestamp", "severityText", "hft.seq", "traceId", "ts", "seq")


class BadRepr:
    """An object whose ``__repr__`` raises."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def odd_fields() -> dict[str, Any]:
    """Field values no renderer may choke on."""
    cycle: list[Any] = [1]
    cycle.append(cycle)
    return {
        "bad": BadRepr(),
        "cycle": cycle,
        "huge": 10**40,
        "nan": math.nan,
        "inf": -math.inf,
        "raw": b"\x00\xff",
        "lone": "a\ud800b",
        "nested": {"k": [1, 2.5, None, True, {"deep": "x"}], 7: "int key"},
    }


def every_kind(log: HFTLogger) -> None:
    """One record of each level, plain and odd, with and without a span (hand-made)."""
    log.debug("d", i=1)
    log.info("filled", qty=1, px=1.5, side="buy", ok=True, none=None)
    log.warning("warned", **dict.fromkeys(SCHEMA_KEY_NAMES, "user"))
    log.error("odd", **odd_fields())
    log.critical("traced", **TRACED, qty=2)
    log.info("nested", book={"bids": [[1.5, 2]], "asks": []}, ids=(1, 2), big=2**63)
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed", order=9)


def written(tmp_path: Path, schema: str, calls: Callable[[HFTLogger], None]) -> list[bytes]:
    """The lines a writer process wrote under *schema* for what *calls* logged."""
    path = tmp_path / f"{schema}.log"
    pipeline = LoggingPipeline([process_file(path, schema=schema, level="DEBUG")]).start()
    calls(HFTLogger(pipeline, LOGGER, TAGS))
    pipeline.close()
    return path.read_bytes().splitlines()
