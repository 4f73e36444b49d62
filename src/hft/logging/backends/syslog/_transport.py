"""Connections to a syslog collector: octet-counted TCP (RFC 6587) and TLS (RFC 5425).

Only the backend's sender thread uses a transport. ``send`` hands messages over (many frames
per ``sendall``); ``poll`` says how many of the oldest unconfirmed messages are now confirmed.
Over plain TCP or TLS a message counts as confirmed once the kernel took it, but nothing tells
the sender whether the collector read it: when a connection breaks, what was sent within the
last :attr:`StreamTransport.tail_bytes` (our send buffer plus the peer's receive window, the
most that can be in flight) is handed back by :meth:`take_tail` to be sent again, so a loss in
flight is bounded and counted; a collector drops the duplicates by (hostname, instance, seq).
"""

from __future__ import annotations

import select
import socket
import ssl
from collections import deque
from pathlib import Path
from typing import Final, Protocol

from hft.logging.backends.syslog._rfc5424 import octet_frame

_SNDBUF: Final = 256 * 1024  # fixed, so the kernel cannot grow what may be in flight unseen
_MARGIN: Final = 1 << 20  # a read the collector took but had not written when it died


class Transport(Protocol):
    """What the sender needs from a connection."""

    def connect(self) -> None:
        """Open the connection (raises OSError when the collector is unreachable)."""

    def send(self, messages: list[bytes]) -> None:
        """Send *messages* in order; may wait for acknowledgements (a window)."""

    def poll(self, timeout: float = 0.0) -> int:
        """How many more of the oldest sent messages are confirmed (wait up to *timeout*)."""

    @property
    def unconfirmed(self) -> int:
        """Messages sent and not yet confirmed."""

    def take_tail(self) -> list[bytes]:
        """After a break: confirmed messages that may still have been lost, to send again."""

    def close(self, timeout: float = 1.0) -> int:
        """Close politely; returns how many more messages were confirmed while closing."""


def open_socket(
    host: str, port: int, context: ssl.SSLContext | None, timeout: float
) -> socket.socket:
    """A connected TCP (and, with *context*, TLS) socket with a fixed send buffer."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SNDBUF)
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
            sock.do_handshake()  # after wrapping, so a refused handshake closes the TLS socket
    except BaseException:
        sock.close()
        raise
    return sock


def _peer_window() -> int:
    """The most a peer's kernel may hold for it unread (Linux: ``tcp_rmem``'s maximum)."""
    try:
        return int(Path("/proc/sys/net/ipv4/tcp_rmem").read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return 6 << 20


class StreamTransport:
    """Octet-counted frames over TCP, or TLS when given a context."""

    def __init__(
        self, host: str, port: int, *, context: ssl.SSLContext | None = None, timeout: float = 5.0
    ) -> None:
        self.host, self.port = host, port
        self._context = context
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._tail: deque[list[bytes]] = deque()
        self._tail_sizes: deque[int] = deque()
        self._tail_total = 0
        self._sent = 0
        self.tail_bytes = 0

    def connect(self) -> None:
        """Connect; the tail of the previous connection is forgotten."""
        self._sock = open_socket(self.host, self.port, self._context, self._timeout)
        sndbuf = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        self.tail_bytes = sndbuf + _peer_window() + _MARGIN
        self._tail.clear()
        self._tail_sizes.clear()
        self._tail_total = 0

    def send(self, messages: list[bytes]) -> None:
        """Send *messages* as one ``sendall``; fails fast if the collector hung up."""
        sock = self._connected()
        self._check_open(sock)
        data = b"".join([octet_frame(m) for m in messages])
        sock.sendall(data)
        self._sent += len(messages)
        self._remember(messages, len(data))

    def _connected(self) -> socket.socket:
        if self._sock is None:
            raise ConnectionError("not connected")
        return self._sock

    def _check_open(self, sock: socket.socket) -> None:
        """A syslog collector never writes: readable means it closed (or reset) the stream.

        TLS 1.3 servers do send (session tickets), so the socket is read without waiting.
        """
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return
        sock.settimeout(0)
        try:
            if not sock.recv(4096):
                raise ConnectionResetError("collector closed the connection")
        except (ssl.SSLWantReadError, BlockingIOError):
            pass
        finally:
            sock.settimeout(self._timeout)

    def _remember(self, messages: list[bytes], size: int) -> None:
        self._tail.append(messages)
        self._tail_sizes.append(size)
        self._tail_total += size
        while self._tail_total - self._tail_sizes[0] >= self.tail_bytes:
            self._tail_total -= self._tail_sizes.popleft()
            self._tail.popleft()

    def poll(self, timeout: float = 0.0) -> int:
        """Everything handed to the kernel counts as confirmed."""
        sent, self._sent = self._sent, 0
        return sent

    @property
    def unconfirmed(self) -> int:
        """Nothing waits for an acknowledgement over plain TCP or TLS."""
        return 0

    def take_tail(self) -> list[bytes]:
        """The messages sent within :attr:`tail_bytes` before the break."""
        tail = [m for batch in self._tail for m in batch]
        self._tail.clear()
        self._tail_sizes.clear()
        self._tail_total = 0
        return tail

    def close(self, timeout: float = 1.0) -> int:
        """Close the stream (the kernel still delivers what it holds)."""
        if self._sock is not None:
            sock, self._sock = self._sock, None
            try:
                sock.settimeout(timeout)
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            finally:
                sock.close()
        return self.poll()
