"""ConsoleBackend: structured key=value lines, colour only on terminals, escaped data."""

from __future__ import annotations

import io

from hft.logging import ConsoleBackend, HFTLogger, LoggingPipeline
from hft.logging.record import TRACE_FIELD


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _log(backend: ConsoleBackend, msg: str, **fields: object) -> None:
    pipeline = LoggingPipeline([backend]).start()
    HFTLogger(pipeline, "strategy.arb", ["arb"]).warning(msg, **fields)
    pipeline.close()


class TestConsole:
    def test_plain_when_not_a_terminal(self) -> None:
        """A pipe or file gets no colour codes, and fields as key=value."""
        stream = io.StringIO()
        _log(ConsoleBackend(stream=stream), "spread", symbol="BTCUSDT", bps=1.5, note="two words")
        line = stream.getvalue()
        assert "\x1b" not in line
        assert line.rstrip("\n").endswith(
            'WARNING  strategy.arb [arb] spread symbol=BTCUSDT bps=1.5 note="two words"'
        )

    def test_coloured_on_a_terminal(self) -> None:
        """A terminal gets the level coloured."""
        stream = _Terminal()
        _log(ConsoleBackend(stream=stream), "spread")
        assert "\x1b[33mWARNING" in stream.getvalue()

    def test_escapes_control_sequences_from_data(self) -> None:
        """ANSI escapes and newlines in messages or values are shown, not obeyed."""
        stream = _Terminal()
        _log(ConsoleBackend(stream=stream), "sym\x1b[2J", symbol="\x1b[31mEVIL\nFAKE")
        out = stream.getvalue()
        assert "\x1b[2J" not in out
        assert "\x1b[31mEVIL" not in out
        assert out.count("\n") == 1
        assert "\\x1b[2J" in out

    def test_unstructured_leaves_fields_out(self) -> None:
        """``structured=False`` prints the message only."""
        stream = io.StringIO()
        _log(ConsoleBackend(stream=stream, structured=False), "spread", symbol="BTCUSDT")
        assert "symbol" not in stream.getvalue()

    def test_escapes_number_subclasses_reprs(self) -> None:
        """An int subclass whose repr carries an escape sequence is shown escaped."""

        class Evil(int):
            def __repr__(self) -> str:
                return "\x1b[2J1"

        stream = _Terminal()
        _log(ConsoleBackend(stream=stream), "n", qty=Evil(1))
        assert "\x1b[2J" not in stream.getvalue()

    def test_a_span_shows_its_ids_last(self) -> None:
        """A record logged in a span ends with ``trace_id=… span_id=…``, never a hidden field."""
        ids = "4bf92f3577b34da6a3ce929d0e0e473600f067aa0ba902b701"
        stream = io.StringIO()
        _log(ConsoleBackend(stream=stream), "spread", bps=1.5, **{TRACE_FIELD: ids})
        assert (
            stream.getvalue()
            .rstrip("\n")
            .endswith(
                "spread bps=1.5 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7"
            )
        )
