"""Every record to a central collector: RFC 5424 syslog over TCP, TLS or RELP.

On the dispatcher thread the backend only renders records (:mod:`._rfc5424`) and hands them
to its sender thread (:mod:`._syslog_sender`), which owns the connection: a slow or dead
collector never slows a call site or the dispatcher. While the collector is unreachable the
records go to an on-disk spool (:mod:`._spool`), replayed in order on reconnect and by the next
start if the process exits first. Each record carries the hostname, this process's instance id
and its sequence number, so a collector can drop the duplicates a replay may bring.

No frame is larger than ``max_message_bytes``; a larger record is truncated and marked
(:mod:`._rfc5424`), so one record can never break the collector's framing of the next ones.

The sender cannot log; the backend reports an outage (once, saying why a refused certificate
was refused and which setting to fix) and the recovery (once) from the dispatcher thread. Its
health follows the connection: while the collector is unreachable or refuses the handshake
the backend is ``unhealthy`` (records are spooled meanwhile), and healthy again once
connected. It exports its counts through :meth:`stats`, which the pipeline's metrics carry as
``BackendStats.extra`` and the Prometheus backend exports as ``hft_syslog_*``.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from hft.logging.backends.base import BackendContext, BaseBackend, Say
from hft.logging.backends.syslog._relp import RelpTransport
from hft.logging.backends.syslog._rfc5424 import (
    FACILITIES,
    IDENTITY_CHARS,
    MIN_MESSAGE_BYTES,
    Rfc5424Formatter,
)
from hft.logging.backends.syslog._sender import Sender
from hft.logging.backends.syslog._spool import Spool
from hft.logging.backends.syslog._tls import client_context, explain_refusal, settings_error
from hft.logging.backends.syslog._transport import StreamTransport, Transport
from hft.logging.levels import parse_level
from hft.logging.record import Record
from hft.logging.render.schemas import Schema

SyslogTransport = Literal["tcp", "tls", "relp"]
OUTAGE = "syslog collector unreachable; spooling records"
CERTIFICATE_REFUSED = "syslog collector's TLS certificate refused; spooling records"


def _drop(msg: str, **fields: Any) -> None:
    """A warning before the backend joins a pipeline: there is no one to tell yet."""
    del msg, fields


class SyslogBackend(BaseBackend):
    """Ships records to a syslog collector (rsyslog's imtcp or imrelp, or any RFC 5424 one)."""

    name = "syslog"
    extra_settings = ("max_field_chars", "pid")

    def __init__(
        self,
        *,
        level: int | str = "INFO",
        host: str = "127.0.0.1",
        port: int = 514,
        transport: SyslogTransport = "tcp",
        app_name: str = "hft",
        facility: str = "local0",
        hostname: str | None = None,
        sd_id: str = "hft@32473",
        instance_id: str | None = None,
        include_fields_json: bool = False,
        schema: Schema = "hft",
        tls_ca_file: str | None = None,
        tls_cert_file: str | None = None,
        tls_key_file: str | None = None,
        tls_verify: bool = True,
        relp_window: int = 1024,
        spool_dir: str | os.PathLike[str] = "logs/spool",
        spool_max_mb: int = 256,
        spool_file_mode: int = 0o600,
        max_message_bytes: int = 65536,
        max_field_chars: int = 4096,
        pid: int | None = None,
    ) -> None:
        _check(transport, facility, instance_id, max_message_bytes, spool_file_mode)
        self.level = parse_level(level)
        self.hostname = hostname or socket.gethostname()
        self.instance_id = instance_id or uuid.uuid4().hex[:16]
        context = client_context(
            transport, tls_ca_file, tls_cert_file, tls_key_file, verify=tls_verify
        )
        self._render = Rfc5424Formatter(
            app_name=app_name,
            facility=facility,
            hostname=self.hostname,
            sd_id=sd_id,
            instance_id=self.instance_id,
            include_fields_json=include_fields_json,
            schema=schema,
            pid=pid,
            max_field_chars=max_field_chars,
            max_message_bytes=max_message_bytes,
        )
        self.sender = Sender(
            _transport(transport, host, port, context, relp_window),
            Spool(spool_dir, spool_max_mb * 1024 * 1024, file_mode=spool_file_mode),
        )
        self._say: Say = _drop  # until attached: nobody to tell
        self._outage_reported = False
        self._dropped_reported = 0
        self._overflow_reported = False
        self._closed = False
        self.sender.start()

    def attach(self, context: BackendContext) -> None:
        """Report outages as the pipeline's own warnings (*context*)."""
        self._say = context.warn

    def write(self, records: Sequence[Record]) -> None:
        """Render *records* and hand them to the sender (no network I/O here)."""
        if self._closed:
            raise RuntimeError("syslog backend is closed")
        self.sender.submit(self._render.many(records))

    @property
    def healthy(self) -> bool:
        """False while the collector is unreachable or refuses the handshake (the pipeline
        reports the backend ``unhealthy`` then, although its records are safe in the spool)."""
        return not self.sender.down

    def flush(self) -> None:
        """Report an outage, a recovery or spool overflow once (the sender cannot log)."""
        sender = self.sender
        if sender.down and not self._outage_reported:
            self._outage_reported = True
            self._report_outage()
        elif sender.connected and self._outage_reported:
            self._outage_reported = self._overflow_reported = False
            self._warn("syslog collector reachable again; replaying the spool")
        if sender.dropped > self._dropped_reported and not self._overflow_reported:
            self._overflow_reported = True
            self._warn("syslog spool full; records dropped", dropped=sender.dropped)
            self._dropped_reported = sender.dropped

    def drain(self, idle_s: float = 2.0) -> bool:
        """Wait until every record written so far was confirmed by the collector, while it
        keeps making progress; False if it stopped doing so for *idle_s* seconds."""
        return self.sender.drain(idle_s)

    def close(self) -> None:
        """Deliver what the collector still takes, spool the rest, stop the sender."""
        if self._closed:
            return
        self._closed = True
        self.sender.drain()
        self.sender.stop()

    def stats(self) -> Mapping[str, float]:
        """Connection state and counts, for ``BackendStats.extra`` and Prometheus."""
        s = self.sender
        return {
            "connected": 1.0 if s.connected else 0.0,
            "sent": s.sent,
            "acknowledged": s.acknowledged,
            "queued": s.queued,
            "spooled": s.spooled,
            "spool_bytes": s.spool.size,
            "replayed": s.replayed,
            "resent": s.resent,
            "dropped": s.dropped,
            "connects": s.connects,
            "disconnects": s.disconnects,
            "connect_failures": s.failures,
        }

    def _report_outage(self) -> None:
        refused = explain_refusal(self.sender.last_exception)
        if refused is None:
            self._warn(OUTAGE, error=self.sender.last_error)
        else:
            self._warn(CERTIFICATE_REFUSED, **refused)

    def _warn(self, msg: str, **fields: Any) -> None:
        self._say(msg, backend=self.name, **fields)


def _check(
    transport: str, facility: str, instance_id: str | None, max_bytes: int, mode: int
) -> None:
    """Settings the backend cannot work with, each a clear error naming its key."""
    if transport not in ("tcp", "tls", "relp"):
        raise settings_error("transport", f"unknown transport {transport!r} (tcp, tls or relp)")
    if facility not in FACILITIES:
        raise settings_error("facility", f"unknown facility {facility!r}")
    if instance_id is not None and len(instance_id) > IDENTITY_CHARS:
        raise settings_error("instance_id", f"longer than {IDENTITY_CHARS} characters")
    if max_bytes < MIN_MESSAGE_BYTES:
        raise settings_error(
            "max_message_bytes", f"{max_bytes} is below {MIN_MESSAGE_BYTES} (RFC 5424's minimum)"
        )
    if not 0 <= mode <= 0o777 or mode & 0o600 != 0o600:
        raise settings_error(
            "spool_file_mode", f"{mode:#o} must be a file mode the owner can read and write"
        )


def _transport(kind: str, host: str, port: int, context: Any, relp_window: int) -> Transport:
    if kind == "relp":
        return RelpTransport(host, port, context=context, window=relp_window)
    return StreamTransport(host, port, context=context)
