"""What the trace correlation tests share: counting span ids, a traced pipeline, its lines."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import orjson
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator

from hft.logging import (
    LoggingPipeline,
    create_backend_from_config,
)

TS = re.compile(rb'"ts":"[^"]*",')


class CountingIds(IdGenerator):
    """Ids that count up from a seed: the same spans in two processes, and no random bit."""

    def __init__(self, seed: int = 1) -> None:
        self._next = itertools.count(seed)

    def generate_span_id(self) -> int:
        return 0x1000 + next(self._next)

    def generate_trace_id(self) -> int:
        return 0xABC0_0000_0000_0000_0000 + next(self._next)


def make_tracer(**options: Any) -> trace.Tracer:
    """A tracer of its own provider (the global one is left alone), counting ids."""
    options.setdefault("id_generator", CountingIds())
    return TracerProvider(**options).get_tracer("hft.tests")


def traced_pipeline(path: Path, *, lane: bool = True, **settings: Any) -> LoggingPipeline:
    """A running pipeline with trace_context on, writing *path* through the writer process."""
    backend = create_backend_from_config("file", {"file_path": str(path), "rotation": "none"})
    settings.setdefault("trace_context", True)
    return LoggingPipeline([backend], lane=lane, **settings).start()


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def span_ids(span: trace.Span) -> tuple[str, str, str]:
    ctx = span.get_span_context()
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}", f"{int(ctx.trace_flags):02x}"


def span_keys(line: dict[str, Any]) -> tuple[str, str, str] | None:
    """A line's span keys (None: it has none, and no key of them at all)."""
    keys = ("trace_id", "span_id", "trace_flags")
    if not any(key in line for key in keys):
        return None
    return line["trace_id"], line["span_id"], line["trace_flags"]
