"""The syslog backend: RFC 5424 (``_rfc5424``) over TCP, TLS (``_tls``) or RELP (``_relp``),
sent by a thread of its own (``_sender``, ``_transport``), spooled on disk (``_spool``) while
the collector is unreachable."""

from hft.logging.backends.syslog.backend import SyslogBackend

__all__ = ["SyslogBackend"]
