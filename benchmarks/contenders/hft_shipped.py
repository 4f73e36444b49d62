"""hft on the settings it ships: ``hft-prod`` (base + prod.yaml) and ``hft-dev`` (base + dev.yaml).

Each loads ``settings/`` with :class:`hft.config.LoggingConfigManager`, as a user's program does,
with the loader's last layer, ``HFT_*`` variables, pointing every path into the benchmark's work
folder: the file backend writes the benchmark's file (so a throughput row counts records on disk),
and the audit trail, spill and spool go to a folder beside it (fresh each run). The pipeline is
built with ``create_pipeline_from_config``, which picks the enabled backends itself.

``hft-prod`` differs from prod.yaml in two values. The file is at INFO (prod ships WARNING, which
would filter the benchmark's ``log.info``). Prometheus is on as shipped, but with
``push_gateway_url: ""`` (and scraping off, as shipped: no network at all): it still counts every
record on the dispatcher thread as in prod; what is left out is one push at start, one every 10 s
and one at close, on the pusher's own thread. A closed loopback port instead would measure an
outage: the first push fails at once, the backend turns unhealthy, and its warning lands in the
file as one line more than the records logged. The audit trail is on; only ``log.info`` is called.

``hft-dev`` is dev.yaml as shipped: the console at DEBUG on stderr, the file at INFO. ``sys.stderr``
is a pipe that a ``wc -l`` process drains, as under a supervisor that collects stderr: the
console's formatting and writes are counted, a terminal's drawing is not.

In both, ``debug`` is not filtered (Prometheus counts records from DEBUG up; the console prints
them), so the ``dbg`` columns are what ``log.debug`` costs there, not a filtered call.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from benchmarks.contenders import Contender

SETTINGS_DIR = Path(__file__).resolve().parents[2] / "settings"
PROD_VARIABLES = {
    "HFT_LOGGING__BACKENDS__FILE__LEVEL": "INFO",
    "HFT_LOGGING__BACKENDS__PROMETHEUS__PUSH_GATEWAY_URL": "",
}


def path_variables(path: Path) -> dict[str, str]:
    """``HFT_*`` variables putting the file at *path* and every other path in a fresh folder."""
    folder = path.parent / f"{path.stem}-paths"
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "HFT_LOGGING__BACKENDS__FILE__FILE_PATH": str(path),
        "HFT_LOGGING__BACKENDS__AUDIT__FILE_PATH": str(folder / "audit.log"),
        "HFT_LOGGING__HFT_SETTINGS__SPILL_DIR": str(folder / "spill"),
        "HFT_LOGGING__BACKENDS__SYSLOG__SPOOL_DIR": str(folder / "spool"),
    }


def build_shipped_logger(
    environment: str, path: Path, variables: Mapping[str, str]
) -> tuple[Any, Callable[[], None]]:
    """A logger on *environment*'s settings (paths into the work folder, then *variables*),
    and the function that drains and closes its pipeline."""
    from hft.config import LoggingConfigManager
    from hft.logging import HFTLogger, create_pipeline_from_config

    env = {**path_variables(path), **variables}
    settings = LoggingConfigManager(environment, SETTINGS_DIR, env).settings
    pipeline = create_pipeline_from_config(settings).start()
    return HFTLogger(pipeline, "exchange.mexc.orders", ["mexc", "orders"]), pipeline.close


class StderrPipe:
    """Standard error (file descriptor 2) on a pipe that a ``wc -l`` process drains; ``lines``
    once closed.

    The console is a sink of hft's writer process, which writes to the descriptor it inherits:
    the pipe is put under descriptor 2 itself (this benchmark child's, so the writer started
    after it inherits it), not only under ``sys.stderr``.
    """

    def __init__(self) -> None:
        self._drain = subprocess.Popen(["wc", "-l"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._drain.stdin is not None
        sys.stderr.flush()
        self._saved = os.dup(2)
        os.dup2(self._drain.stdin.fileno(), 2)
        self._drain.stdin.close()  # descriptor 2 (and the writer's copy) hold the pipe now
        self._drain.stdin = None
        self.lines: int | None = None

    def close(self) -> None:
        """Give descriptor 2 back, let the drain see the end, and keep the lines it counted."""
        if self.lines is not None:
            return
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self.lines = int(self._drain.communicate()[0])


def setup_prod(path: Path) -> Contender:
    """prod.yaml: file (at INFO), audit trail and Prometheus (no push) on, no console."""
    logger, close = build_shipped_logger("prod", path, PROD_VARIABLES)
    return Contender(log=logger.info, log_filtered=logger.debug, close=close)


def build_dev(path: Path) -> tuple[Contender, StderrPipe]:
    """dev.yaml's contender and the pipe its console writes to (``lines`` after ``close``)."""
    console = StderrPipe()
    try:
        logger, close_pipeline = build_shipped_logger("dev", path, {})
    except BaseException:
        console.close()
        raise

    def close() -> None:
        close_pipeline()
        console.close()

    return Contender(log=logger.info, log_filtered=logger.debug, close=close), console


def setup_dev(path: Path) -> Contender:
    """dev.yaml: the console at DEBUG into a drained pipe, the file at INFO."""
    return build_dev(path)[0]


def _setup_prod_schema(path: Path, schema: str) -> Contender:
    variables = {**PROD_VARIABLES, "HFT_LOGGING__BACKENDS__FILE__SCHEMA": schema}
    logger, close = build_shipped_logger("prod", path, variables)
    return Contender(log=logger.info, log_filtered=logger.debug, close=close)


def setup_prod_ecs(path: Path) -> Contender:
    """prod.yaml with the file's lines in Elastic Common Schema (``schema: ecs``)."""
    return _setup_prod_schema(path, "ecs")


def setup_prod_otel(path: Path) -> Contender:
    """prod.yaml with the file's lines as OTLP/JSON (``schema: otel``)."""
    return _setup_prod_schema(path, "otel")
