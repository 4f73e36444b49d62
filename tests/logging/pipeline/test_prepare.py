"""Preparer: odd values rendered once per record, for every backend alike."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import io
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from hft.logging import (
    ConsoleBackend,
    FileBackend,
    HFTLogger,
    LoggingPipeline,
    create_backend_from_config,
)
from hft.logging.backends.base import LoggingBackend
from hft.logging.levels import INFO
from hft.logging.pipeline.prepare import Preparer
from hft.logging.record import Record, Source
from hft.logging.testing import CapturingBackend, capture_logs


class SlowRepr:
    """A value whose ``repr`` sleeps, counting its calls (from any thread)."""

    def __init__(self, label: str, delay_s: float = 0.05) -> None:
        self.label, self.delay_s = label, delay_s
        self.calls = 0
        self.entered = threading.Event()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        with self._lock:
            self.calls += 1
        self.entered.set()
        time.sleep(self.delay_s)
        return f"<slow {self.label}>"


class _Side(enum.Enum):
    BUY = "buy"


@dataclasses.dataclass
class _Fill:
    qty: float
    at: datetime.date


def _json_lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _file(path: Path, writer: str) -> LoggingBackend:
    """The file backend in this process (the class, as a user may add it), or the settings'
    one: a sink of the writer process."""
    if writer == "in-process":
        return FileBackend(file_path=path, rotation="none", level="DEBUG")
    settings = {"file_path": str(path), "rotation": "none", "level": "DEBUG"}
    return create_backend_from_config("file", settings)


class TestSlowValues:
    @pytest.mark.parametrize("writer", ["in-process", "process"])
    def test_a_slow_repr_runs_once_per_record_whatever_the_backends(
        self, tmp_path: Path, writer: str
    ) -> None:
        """Console, file (in-process or writer process) and capture: one ``repr`` per record,
        and every backend shows the same text."""
        console, capture, path = io.StringIO(), CapturingBackend(), tmp_path / "hft.log"
        backends = [ConsoleBackend(stream=console, level="DEBUG"), _file(path, writer), capture]
        pipeline = LoggingPipeline(backends).start()
        logger = HFTLogger(pipeline, "slow")
        values = [SlowRepr(str(i)) for i in range(4)]
        for value in values:
            logger.info("quote", value=value, qty=1)
        pipeline.close()
        assert [v.calls for v in values] == [1, 1, 1, 1]
        expected = [f"<slow {i}>" for i in range(4)]
        assert [r.fields["value"] for r in capture.logs()] == expected
        assert [line["fields"]["value"] for line in _json_lines(path)] == expected
        shown = [
            line.split("value=")[1].split(" qty=")[0] for line in console.getvalue().splitlines()
        ]
        assert shown == [f'"{text}"' for text in expected]

    def test_values_keep_their_json_forms(self) -> None:
        """Enums, dataclasses, dates, UUIDs, decimals, sets and bytes reach every backend as
        the JSON line shows them; a dict/list/tuple of plain values passes as it is."""
        ident = uuid.UUID(int=7)
        plain = {"px": [1.5, 2], "legs": ("a", "b"), "meta": {"k": None}}
        with capture_logs() as (logger, captured):
            logger.info(
                "odd",
                side=_Side.BUY,
                fill=_Fill(0.5, datetime.date(2024, 1, 2)),
                ident=ident,
                price=decimal.Decimal("1.25"),
                tags={3},
                raw=b"x",
            )
            logger.info("plain", **plain)
        odd, clean = captured.logs()
        assert odd.fields == {
            "side": "buy",
            "fill": {"qty": 0.5, "at": "2024-01-02"},
            "ident": str(ident),
            "price": "Decimal('1.25')",
            "tags": [3],
            "raw": "b'x'",
        }
        assert clean.fields == plain
        assert all(clean.fields[k] is v for k, v in plain.items())

    def test_a_slow_value_holds_up_only_its_own_slice_and_counts_stay_exact(
        self, tmp_path: Path
    ) -> None:
        """While the dispatcher renders a slow value, block-policy callers wait their bounded
        time and drop; afterwards the file plus the drop count equals what was logged."""
        path = tmp_path / "hft.log"
        pipeline = LoggingPipeline(
            [FileBackend(file_path=path)], ring_buffer_size=32, block_timeout_ms=2
        ).start()
        logger = HFTLogger(pipeline, "x")
        slow = SlowRepr("stall", delay_s=0.3)
        logger.info("stall", value=slow)
        assert slow.entered.wait(10)
        for i in range(300):
            logger.info("m", i=i)
        assert pipeline.flush(timeout=30)
        dropped = pipeline.metrics().dropped
        on_disk = [line for line in _json_lines(path) if line["logger"] == "x"]
        pipeline.close()
        assert slow.calls == 1
        assert dropped > 0
        assert len(on_disk) + dropped == 301


class TestScan:
    def test_clean_records_stay_plain_with_settings_secrets(self) -> None:
        """Known secrets do not push a clean slice off the fast path."""
        source = Source.create("x", (), {})
        batch = [(i, 0, INFO, source, "order placed", {"symbol": "BTCUSDT"}) for i in range(50)]
        preparer = Preparer(("api_key",), 4096, secrets=["sk-live-0123456789"])
        preparer.sort(batch[:1], hit=False)  # learns that "symbol" is harmless
        assert preparer.scan(batch) == (49, INFO, INFO, True, False)


class TestContext:
    @pytest.mark.parametrize(
        "context",
        [
            {"order_id": "o-1", "px": 1.5},
            {"api_key": "k1", "token": None, "legs": [1, {"a": None}]},
            {"note": "sk-live-0123456789 here", "n": 1, "nan": float("nan")},
        ],
    )
    def test_a_context_is_prepared_as_the_dispatcher_finishes_a_record(
        self, context: dict[str, Any]
    ) -> None:
        """Prepared once, a context is what finishing a record of that logger gives its fields."""
        preparer = Preparer(("api_key",), 4096, secrets=["sk-live-0123456789"])
        record: Record = (0, 0, INFO, Source.create("x", (), context), "m", {})
        (finished,), _, _ = preparer.sort([record], hit=True)
        assert orjson.dumps(preparer.context(context)) == orjson.dumps(finished[5])

    @pytest.mark.parametrize(
        "context",
        [
            {"api_key": "k-123456"},
            {"exc_info": True},
            {1: "x"},
            {"side": _Side.BUY},
            {"fill": _Fill(1.5, datetime.date(2026, 1, 2))},
            {"legs": [Path("/x")]},
        ],
    )
    def test_a_context_that_needs_each_record_is_not_prepared(self, context: Any) -> None:
        """A redacted value long enough to be searched for in each message, an exception, a
        name that is not a ``str``, a value that is not plain (the dispatcher then renders
        the call's fields too): None (the logger keeps the classic path)."""
        assert Preparer(("api_key",), 4096).context(context) is None
