"""The program the crash sweep runs (and kills): one writer of the audit trail, the syslog
spool or the JSON file, driven by a JSON spec given as its only argument.

Run as a script (``python tests/crash/workload.py SPEC``): it imports only ``hft``, so it runs
against the checkout or an installed wheel alike. What each call did goes to the spec's
``results`` file (outside the swept folder), one line a call, written before the next call::

    fired 2          the shim's fault had acted before call 2
    ack 3            the call returned (audit: acknowledged; spool, file: written)
    raised 4 0       the call raised (the last field: AuditWriteError.in_doubt)
    state unhealthy  the audit slot's state after the calls (before close)
    counts r w x l p routed, written, raised, lost, pending after close
    warn MESSAGE     a warning the pipeline gave
    replayed 7       (spool, restart) a message read back from the spool
    corrupt TEXT     (spool, restart) a message read back that no call wrote
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import orjson

PAD = "x" * 200


class Results:
    """Lines appended to the results file, each with one write (kept across a kill)."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._fired = os.environ.get("FAULT_FIRED")

    def __call__(self, *fields: object) -> None:
        os.write(self._fd, " ".join(map(str, fields)).encode() + b"\n")

    def before(self, i: int) -> None:
        """Say once that the shim's fault has acted before call *i* (``fired i``)."""
        if self._fired and os.path.exists(self._fired):
            self("fired", i)
            self._fired = None


def audit(spec: dict[str, Any], out: Results) -> None:
    """Audit calls through a real pipeline; the slot's state and counts at the end."""
    from hft.logging import AuditBackend, AuditWriteError, HFTLogger, LoggingPipeline
    from hft.logging.testing import CapturingBackend

    try:
        backend = AuditBackend(file_path=Path(spec["dir"]) / "audit.log", **spec["settings"])
    except (OSError, ValueError, RuntimeError) as exc:
        out("start_failed", type(exc).__name__)
        return
    capture = CapturingBackend(level="WARNING")
    pipeline = LoggingPipeline(
        [backend, capture], ring_buffer_size=64, spill_dir=Path(spec["results"]).parent / "spill"
    ).start()
    log = HFTLogger(pipeline, "sweep")
    for i in range(spec["n"]):
        out.before(i)
        try:
            log.audit("sweep.order", i=i, phase=spec["phase"], pad=PAD)
        except AuditWriteError as exc:
            out("raised", i, int(getattr(exc, "in_doubt", False)))
        else:
            out("ack", i)
    pipeline.flush(0.5)
    guard = pipeline.audit_guard
    assert guard is not None
    out("state", guard.stats().state)
    pipeline.close()
    stats = guard.stats()
    out("counts", stats.routed, stats.written, stats.extra["raised"], stats.lost, stats.pending)
    for record in capture.logs():
        if record.msg.startswith("audit"):
            out("warn", record.msg.replace(" ", "_"))


def _message(i: int) -> bytes:
    return b"<14>1 - sweep - - - - %d %s" % (i, PAD.encode())


def spool(spec: dict[str, Any], out: Results) -> None:
    """Frames appended to the spool, some read and confirmed as a sender does; at restart,
    everything left is read back."""
    from hft.logging.backends.syslog._spool import Spool

    try:
        queue = Spool(Path(spec["dir"]) / "spool", 1 << 20, segment_bytes=spec["segment_bytes"])
    except OSError as exc:
        out("start_failed", type(exc).__name__)
        return
    if spec["phase"] == "restart":
        _drain(queue, out)
    else:
        _fill(queue, spec["n"], out)
    try:
        queue.close()
    except OSError as exc:
        out("close_failed", type(exc).__name__)


def _fill(queue: Any, n: int, out: Results) -> None:
    for i in range(n):
        out.before(i)
        try:
            taken = queue.append([_message(i)])
        except OSError:
            out("raised", i, 0)
        else:
            out("ack" if taken else "refused", i)
        if i % 4 == 3:
            _send_one(queue, out)


def _send_one(queue: Any, out: Results) -> None:
    """One chunk read, sent (the collector took it), then confirmed to the spool."""
    try:
        chunk = queue.read(700)
        if chunk is not None:
            for message in chunk.messages:
                out("sent", _number(message))
            queue.confirm(chunk)
    except OSError as exc:
        out("send_failed", type(exc).__name__)


def _drain(queue: Any, out: Results) -> None:
    while (chunk := queue.read()) is not None:
        for message in chunk.messages:
            out("replayed", _number(message))
        queue.confirm(chunk)


def _number(message: bytes) -> int | str:
    head, _, rest = message.partition(b"- sweep - - - - ")
    number, _, pad = rest.partition(b" ")
    if head == b"<14>1 " and number.isdigit() and pad == PAD.encode():
        return int(number)
    return "corrupt:" + message[:60].hex()


def jsonfile(spec: dict[str, Any], out: Results) -> None:
    """Records written to the JSON file backend with size rotation, one batch a call (and,
    with compression, the worker's compressions waited for before the close)."""
    from hft.logging.backends.file import FileBackend
    from hft.logging.levels import INFO
    from hft.logging.record import Source

    try:
        backend = FileBackend(file_path=Path(spec["dir"]) / "app.log", **spec["settings"])
    except OSError as exc:
        out("start_failed", type(exc).__name__)
        return
    source = Source.create("sweep", (), {})
    for i in range(spec["n"]):
        record = (i, time.time_ns(), INFO, source, "sweep.line", {"i": i, "phase": spec["phase"]})
        out.before(i)
        try:
            backend.write([record])
        except OSError:
            out("raised", i, 0)
        else:
            out("ack", i)
    if spec["settings"].get("compression", "none") != "none":
        backend.wait_compressed(30)  # the worker's calls are points too
    backend.close()


def main() -> None:
    """Run the workload the spec names."""
    spec = orjson.loads(sys.argv[1])
    out = Results(spec["results"])
    {"audit": audit, "spool": spool, "file": jsonfile}[spec["kind"]](spec, out)
    out("done")


if __name__ == "__main__":
    main()
