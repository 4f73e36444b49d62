"""The pusher: a small daemon thread that pushes a registry to a Pushgateway on an interval.

It owns all network I/O, so neither call sites nor the dispatcher ever wait for the gateway.
It never logs: it records what happened (failures, the last error) and the backend reports it
from the dispatcher thread, once per outage.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Mapping
from typing import Final

from prometheus_client import CollectorRegistry, delete_from_gateway, pushadd_to_gateway

#: A delete at shutdown is tried this many times (each bounded by ``push_timeout``), 0.1 s apart.
DELETE_ATTEMPTS: Final = 2
DELETE_BACKOFF_S: Final = 0.1


def grouping_key(configured: Mapping[str, str]) -> dict[str, str]:
    """The labels that name this process's group: host and pid unless configured.

    Configured values may say ``{host}`` and ``{pid}``; a stable key (no pid) makes a
    restarted process replace its old group instead of leaving it behind.
    """
    host, pid = socket.gethostname(), str(os.getpid())
    if not configured:
        return {"instance": host, "pid": pid}
    return {k: v.replace("{host}", host).replace("{pid}", pid) for k, v in configured.items()}


class Pusher:
    """Pushes (``pushadd``: add, never wipe other groups) at start, then every *interval*
    seconds."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        url: str,
        job: str,
        key: Mapping[str, str],
        interval: float,
        timeout: float,
    ) -> None:
        self.url, self.job, self.key = url, job, dict(key)
        self._registry = registry
        self._interval, self._timeout = interval, timeout
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one push at a time (the loop and the final push)
        self._thread: threading.Thread | None = None
        self.pushes = self.failures = self.consecutive_failures = 0
        self.last_error = ""
        self.in_flight = False

    @property
    def running(self) -> bool:
        """True while the pusher thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hft-prometheus", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        """Push at once (a wrong gateway shows within a second, not one interval later), then
        every interval."""
        self.push()
        while not self._stop.wait(self._interval):
            self.push()

    def push(self) -> bool:
        """Push once; on failure count it and keep the error for the backend to report."""
        with self._lock:
            self.in_flight = True
            try:
                pushadd_to_gateway(
                    self.url,
                    job=self.job,
                    registry=self._registry,
                    grouping_key=self.key,
                    timeout=self._timeout,
                )
            except Exception as exc:  # noqa: BLE001 - any failure waits for the next interval
                self.failures += 1
                self.consecutive_failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                return False
            finally:
                self.in_flight = False
            self.pushes += 1
            self.consecutive_failures = 0
            return True

    def stop(self, *, final_push: bool = True, delete: bool = False) -> None:
        """Stop the thread, push what changed since the last push, delete the group if asked."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if final_push:
            self.push()
        if delete:
            self.delete()

    def delete(self, attempts: int = DELETE_ATTEMPTS) -> bool:
        """Remove this process's group from the gateway (clean shutdown), trying again after
        a failure (a slow or restarting gateway): a group left behind keeps its last values
        on the gateway for good."""
        for attempt in range(attempts):
            if attempt:
                time.sleep(DELETE_BACKOFF_S * attempt)
            try:
                delete_from_gateway(
                    self.url, job=self.job, grouping_key=self.key, timeout=self._timeout
                )
            except Exception as exc:  # noqa: BLE001 - shutting down: count, don't raise
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
            else:
                return True
        return False
