"""structlog configured as its performance page advises, rendering with orjson to a file.

``make_filtering_bound_logger`` makes ``debug`` a no-op at INFO, ``BytesLoggerFactory`` writes
bytes straight to the file (with a flush per line, as ``BytesLogger`` does), and the logger is
cached on first use. The call needs no wrapper: ``log.info(event, **kw)`` is structlog's API.
"""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import structlog

from benchmarks.contenders import Contender


def setup(path: Path) -> Contender:
    """Configure structlog globally for *path*; ``close`` closes the file and resets structlog."""
    file = path.open("wb")
    structlog.configure(
        cache_logger_on_first_use=True,
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(),
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        logger_factory=structlog.BytesLoggerFactory(file),
    )
    logger = structlog.get_logger().bind()

    def close() -> None:
        file.close()
        structlog.reset_defaults()

    return Contender(log=logger.info, log_filtered=logger.debug, close=close)
