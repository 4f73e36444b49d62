"""loguru with a ``serialize=True`` file sink, called directly or through ``enqueue=True``.

``logger.info(msg, **kw)`` puts the keyword arguments in ``record["extra"]``, which the
serialized line carries (with loguru's full record, its own JSON encoder, and no orjson option).
"""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from benchmarks.contenders import Contender


def _setup(path: Path, *, enqueue: bool) -> Contender:
    logger.remove()
    sink = logger.add(str(path), serialize=True, enqueue=enqueue, level="INFO", catch=False)

    def close() -> None:
        logger.complete()
        logger.remove(sink)

    return Contender(log=logger.info, log_filtered=logger.debug, close=close)


def setup(path: Path) -> Contender:
    """A synchronous file sink: the call site formats and writes."""
    return _setup(path, enqueue=False)


def setup_enqueue(path: Path) -> Contender:
    """A file sink behind loguru's queue and writer thread."""
    return _setup(path, enqueue=True)
