"""The stdlib bridge: third-party ``logging`` records reach the hft pipeline intact."""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator

import pytest

from hft.logging import HFTBridgeHandler, LoggingPipeline, install_stdlib_bridge
from hft.logging.testing import CapturedRecord, CapturingBackend


@pytest.fixture
def bridged() -> Iterator[tuple[logging.Logger, CapturingBackend, LoggingPipeline]]:
    """A stdlib logger ``thirdparty`` bridged into a capturing pipeline, at DEBUG."""
    capture = CapturingBackend()
    pipeline = LoggingPipeline([capture]).start()
    resource = bridge(pipeline, "thirdparty", logging.DEBUG)
    next(resource)
    yield logging.getLogger("thirdparty"), capture, pipeline
    resource.close()
    pipeline.close()


def bridge(
    pipeline: LoggingPipeline, name: str, level: int | str
) -> Generator[HFTBridgeHandler, None, None]:
    """The bridge Resource's generator, to step through by hand."""
    resource = install_stdlib_bridge(pipeline, name, level)
    assert isinstance(resource, Generator)
    return resource


def only(capture: CapturingBackend) -> CapturedRecord:
    """The single record captured."""
    [record] = capture.logs()
    return record


class TestBridge:
    def test_level_name_message_and_extra_are_kept(
        self, bridged: tuple[logging.Logger, CapturingBackend, LoggingPipeline]
    ) -> None:
        """Level, logger name, the formatted message and ``extra`` fields all arrive."""
        _stdlib, capture, pipeline = bridged
        logging.getLogger("thirdparty.http").warning("retry %d of %d", 2, 3, extra={"host": "x"})
        pipeline.flush()
        record = only(capture)
        assert (record.level, record.logger, record.msg) == (
            "WARNING",
            "thirdparty.http",
            "retry 2 of 3",
        )
        assert record.tags == ("stdlib",)
        assert record.fields == {"host": "x"}

    def test_exception_info_is_structured(
        self, bridged: tuple[logging.Logger, CapturingBackend, LoggingPipeline]
    ) -> None:
        """``logger.exception`` arrives with the exception's type, message and frames."""
        stdlib, capture, pipeline = bridged
        try:
            raise KeyError("missing")
        except KeyError:
            stdlib.exception("lookup failed")
        pipeline.flush()
        record = only(capture)
        assert record.level == "ERROR"
        assert record.fields["exc_info"]["type"] == "KeyError"

    def test_custom_level_keeps_its_name(
        self, bridged: tuple[logging.Logger, CapturingBackend, LoggingPipeline]
    ) -> None:
        """A level between the standard ones goes out at the one below, named in a field."""
        stdlib, capture, pipeline = bridged
        logging.addLevelName(25, "NOTICE")
        stdlib.log(25, "notice me")
        pipeline.flush()
        record = only(capture)
        assert record.level == "INFO"
        assert record.fields["stdlib_level"] == "NOTICE"

    def test_debug_arrives_at_debug(
        self, bridged: tuple[logging.Logger, CapturingBackend, LoggingPipeline]
    ) -> None:
        """A DEBUG record stays DEBUG."""
        stdlib, capture, pipeline = bridged
        stdlib.debug("detail")
        pipeline.flush()
        assert only(capture).level == "DEBUG"


class TestResource:
    def test_handler_is_removed_and_level_restored(self) -> None:
        """At shutdown the handler leaves the logger and its level is what it was."""
        target = logging.getLogger("thirdparty.resource")
        target.setLevel(logging.ERROR)
        pipeline = LoggingPipeline([CapturingBackend()])
        resource = bridge(pipeline, "thirdparty.resource", "INFO")
        handler = next(resource)
        assert handler in target.handlers
        assert target.level == logging.INFO
        resource.close()
        assert handler not in target.handlers
        assert target.level == logging.ERROR
        assert isinstance(handler, HFTBridgeHandler)
        pipeline.close()
