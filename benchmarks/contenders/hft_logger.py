"""The hft contender: an adapter around ``hft.logging`` (written in parallel; fill in below).

Everything the harness needs from hft is in :func:`build_hft_logger`. Until it is filled in, or
while ``hft.logging`` is not importable, the harness skips this contender with a printed note.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.contenders import Contender


def build_hft_logger(path: Path) -> tuple[Any, Callable[[], None]]:
    """TO FILL IN: the hft logger writing JSON lines to *path*, and a function that drains it.

    Return ``(logger, close)`` where
      - ``logger.info(msg, **fields)`` / ``logger.debug(msg, **fields)`` are the call sites, with
        the threshold at INFO so ``debug`` is filtered;
      - the file backend writes one JSON object per line to *path*, and nothing else is on
        (no console, no Prometheus, no audit), so the figures are the pipeline's own;
      - ``close()`` flushes, drains every queued record to the file, closes it and returns only
        when the file is complete (the harness counts its lines right after).
    Sketch, with the keys of settings/base.yaml::

        from hft.logging import create_hft_logger_from_config
        config = {"hft_settings": {...defaults...},
                  "backends": {"console": {"enabled": False},
                               "file": {"enabled": True, "level": "INFO", "format": "json",
                                        "file_path": str(path), "rotation": "none"}}}
        logger = create_hft_logger_from_config(config)
        def close() -> None:
            logger.flush()
            logger.shutdown()   # or whatever the API's shutdown is
        return logger, close
    """
    raise NotImplementedError("benchmarks/contenders/hft_logger.py: fill in build_hft_logger")


def setup(path: Path) -> Contender:
    """Wrap the hft logger in the harness protocol; its bound methods are the call sites."""
    logger, close = build_hft_logger(path)
    return Contender(log=logger.info, log_filtered=logger.debug, close=close)
