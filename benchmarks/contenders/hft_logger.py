"""The hft contenders: the pipeline with only the JSON file backend on, under two policies.

``hft`` uses the shipped defaults (``settings/base.yaml``): the ``block`` overflow policy, so a
caller that outruns the dispatcher waits and nothing is lost. ``hft-drop`` is the latency-first
configuration, ``drop_oldest``: a call never waits, and what the ring cannot hold is dropped
(and counted) — the harness reports that loss as LOST in the throughput columns.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.contenders import Contender


def build_hft_logger(path: Path, **hft_settings: Any) -> tuple[Any, Callable[[], None]]:
    """An hft logger writing JSON lines to *path* (level INFO), and the function that drains it.

    The settings are the defaults of ``settings/base.yaml`` (through the model, whose defaults a
    test holds equal to that file), with only the file backend enabled.
    """
    from hft.config import LoggingSettings
    from hft.logging import HFTLogger, create_pipeline_from_config

    config = LoggingSettings().model_dump()
    config["hft_settings"].update(hft_settings)
    for section in config["backends"].values():
        section["enabled"] = False
    config["backends"]["file"].update(
        enabled=True, level="INFO", file_path=str(path), rotation="none"
    )
    pipeline = create_pipeline_from_config(config).start()
    return HFTLogger(pipeline, "exchange.mexc.orders", ["mexc", "orders"]), pipeline.close


def _contender(path: Path, **hft_settings: Any) -> Contender:
    logger, close = build_hft_logger(path, **hft_settings)
    return Contender(log=logger.info, log_filtered=logger.debug, close=close)


def setup(path: Path) -> Contender:
    """The shipped defaults: block policy, lossless."""
    return _contender(path)


def setup_drop(path: Path) -> Contender:
    """Latency first: ``drop_oldest``, the call never waits."""
    return _contender(path, overflow_policy="drop_oldest")
