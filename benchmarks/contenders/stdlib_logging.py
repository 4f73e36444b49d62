"""stdlib ``logging``: QueueHandler at the call site, QueueListener writing orjson lines to a file.

The fields travel as ``extra={"fields": kw}`` (stdlib's way to attach data to a record), so the
call goes through one small wrapper. The stock ``QueueHandler.prepare`` (copy the record, merge
the message) runs at the call site; the JSON rendering runs on the listener thread.
"""

from __future__ import annotations

import itertools
import logging
import logging.handlers
import queue
from pathlib import Path
from typing import Any

import orjson

from benchmarks.contenders import Contender

_ids = itertools.count()


class JsonFormatter(logging.Formatter):
    """One orjson object per record: ts, level, msg and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {})
        line = {"ts": record.created, "level": record.levelname, "msg": record.getMessage()}
        return orjson.dumps({**line, **fields}).decode()


def setup(path: Path) -> Contender:
    """A private logger at INFO whose QueueHandler feeds a listener-owned FileHandler."""
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(JsonFormatter())
    listener = logging.handlers.QueueListener(records, file_handler)
    logger = logging.getLogger(f"bench.stdlib.{next(_ids)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    queue_handler = logging.handlers.QueueHandler(records)
    logger.addHandler(queue_handler)
    listener.start()
    info, debug = logger.info, logger.debug

    def log(msg: str, /, **kw: Any) -> None:
        info(msg, extra={"fields": kw})

    def log_filtered(msg: str, /, **kw: Any) -> None:
        debug(msg, extra={"fields": kw})

    def close() -> None:
        listener.stop()
        logger.removeHandler(queue_handler)
        file_handler.close()

    return Contender(log=log, log_filtered=log_filtered, close=close)
