"""picologging with a JSON formatter, on a FileHandler directly or through its queue classes.

picologging ignores ``extra=``, so the fields travel as the record's mapping ``args`` (the stdlib
convention for one dict argument). Its stock ``QueueHandler.prepare`` formats the record and drops
``args`` at the call site, so in the queue variant the JSON formatter sits on the QueueHandler and
the listener's FileHandler writes the already-rendered message.
"""

from __future__ import annotations

import itertools
import queue
from pathlib import Path
from typing import Any

import orjson
import picologging
import picologging.handlers

from benchmarks.contenders import Contender

_ids = itertools.count()


class JsonFormatter(picologging.Formatter):
    """One orjson object per record: ts, level, msg and the record's mapping args."""

    def format(self, record: Any) -> str:
        fields = record.args if isinstance(record.args, dict) else {}
        line = {"ts": record.created, "level": record.levelname, "msg": record.getMessage()}
        return orjson.dumps({**line, **fields}).decode()


def _logger(handler: Any) -> Any:
    logger = picologging.getLogger(f"bench.picologging.{next(_ids)}")
    logger.propagate = False
    logger.setLevel(picologging.INFO)
    logger.addHandler(handler)
    return logger


def _contender(logger: Any, close: Any) -> Contender:
    info, debug = logger.info, logger.debug

    def log(msg: str, /, **kw: Any) -> None:
        info(msg, kw)

    def log_filtered(msg: str, /, **kw: Any) -> None:
        debug(msg, kw)

    return Contender(log=log, log_filtered=log_filtered, close=close)


def setup(path: Path) -> Contender:
    """A FileHandler on the logger: the call site formats and writes."""
    handler = picologging.FileHandler(str(path), encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    logger = _logger(handler)

    def close() -> None:
        logger.removeHandler(handler)
        handler.close()

    return _contender(logger, close)


def setup_queue(path: Path) -> Contender:
    """QueueHandler (renders JSON in ``prepare``) feeding a QueueListener's FileHandler."""
    records: queue.SimpleQueue[Any] = queue.SimpleQueue()
    file_handler = picologging.FileHandler(str(path), encoding="utf-8")
    file_handler.setFormatter(picologging.Formatter("%(message)s"))
    listener = picologging.handlers.QueueListener(records, file_handler)
    queue_handler = picologging.handlers.QueueHandler(records)
    queue_handler.setFormatter(JsonFormatter())
    logger = _logger(queue_handler)
    listener.start()

    def close() -> None:
        listener.stop()
        logger.removeHandler(queue_handler)
        file_handler.close()

    return _contender(logger, close)
