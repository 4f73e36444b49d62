"""A small application for subprocess tests: log N records through syslog (and Prometheus).

Run as ``python syslog_app.py CONFIG_JSON``; prints the syslog backend's stats as JSON at exit.
With ``"wait": true`` it prints ``logged`` and waits for a line on stdin before exiting.
"""

from __future__ import annotations

import json
import sys

from hft.logging import HFTLogger, LoggingPipeline, PrometheusBackend, SyslogBackend
from hft.logging.backends.base import LoggingBackend


def main() -> None:
    """Build the pipeline from the JSON argument, log, exit cleanly."""
    config = json.loads(sys.argv[1])
    syslog = SyslogBackend(**config["syslog"])
    backends: list[LoggingBackend] = [syslog]
    if "prometheus" in config:
        backends.append(PrometheusBackend(**config["prometheus"]))
    pipeline = LoggingPipeline(backends, block_timeout_ms=60_000).start()
    logger = HFTLogger(pipeline, "bot", ["fleet"])
    for i in range(config["count"]):
        logger.info("tick", i=i)
    pipeline.flush()
    if config.get("wait"):
        print("logged", flush=True)
        sys.stdin.readline()
    pipeline.close()
    print(json.dumps(dict(syslog.stats())), flush=True)


if __name__ == "__main__":
    main()
