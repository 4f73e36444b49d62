"""A RELP client (the Reliable Event Logging Protocol of librelp and rsyslog's imrelp).

Every frame is ``TXNR SP COMMAND SP DATALEN [SP DATA] LF``. The client opens a session
(``open`` with its version, software and the ``syslog`` command), sends one ``syslog`` frame
per message and the server answers each with ``rsp`` carrying ``200 OK`` once it has taken
the message. Up to ``window`` frames may wait for their answer; a message counts as delivered
only when answered, so after a broken session the unanswered ones are sent again.
"""

from __future__ import annotations

import select
import socket
import ssl
from collections import deque
from typing import Final

from hft.logging.backends.syslog._transport import open_socket

_MAX_TXNR: Final = 999_999_999
_OFFERS: Final = b"relp_version=0\nrelp_software=hft,0.1.0,https://github.com/hft\ncommands=syslog"
_READ: Final = 256 * 1024


class RelpError(ConnectionError):
    """The server refused a frame or spoke something else than RELP."""


class RelpTransport:
    """One RELP session at a time, with a window of unanswered ``syslog`` frames."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        context: ssl.SSLContext | None = None,
        timeout: float = 5.0,
        window: int = 1024,
    ) -> None:
        self.host, self.port = host, port
        self._context = context
        self._timeout = timeout
        self.window = window
        self._sock: socket.socket | None = None
        self._txnr = 0
        self._waiting: deque[int] = deque()  # txnrs sent and not answered, oldest first
        self._answered: set[int] = set()
        self._buffer = b""
        self._confirmed = 0

    # -- session ----------------------------------------------------------------------------

    def connect(self) -> None:
        """Open a socket and a RELP session on it."""
        self._sock = open_socket(self.host, self.port, self._context, self._timeout)
        self._txnr = 0
        self._waiting.clear()
        self._answered.clear()
        self._buffer = b""
        self._confirmed = 0
        txnr = self._next_txnr()
        self._sock.sendall(b"%d open %d %s\n" % (txnr, len(_OFFERS), _OFFERS))
        while True:
            for answer, data in self._read_frames(self._timeout):
                if answer == txnr:
                    self._check(data, "open")
                    return

    def _next_txnr(self) -> int:
        self._txnr = self._txnr % _MAX_TXNR + 1
        return self._txnr

    def close(self, timeout: float = 1.0) -> int:
        """Wait up to *timeout* for answers, close the session; returns messages confirmed."""
        if self._sock is None:
            return 0
        try:
            if self._waiting:
                self.poll(timeout)
            self._sock.sendall(b"%d close 0\n" % self._next_txnr())
            self._read_frames(min(timeout, 0.2))
        except OSError:
            pass
        finally:
            self._sock.close()
            self._sock = None
        confirmed, self._confirmed = self._confirmed, 0
        return confirmed

    # -- frames -----------------------------------------------------------------------------

    def send(self, messages: list[bytes]) -> None:
        """Send *messages*, waiting for answers whenever the window is full."""
        sock = self._connected()
        start = 0
        while start < len(messages):
            room = self.window - len(self._waiting)
            if room <= 0:
                self._await_room()
                continue
            part = messages[start : start + room]
            sock.sendall(b"".join([self._frame(m) for m in part]))
            start += len(part)

    def _frame(self, message: bytes) -> bytes:
        txnr = self._next_txnr()
        self._waiting.append(txnr)
        return b"%d syslog %d %s\n" % (txnr, len(message), message)

    def _await_room(self) -> None:
        if not self._read_answers(self._timeout):
            raise TimeoutError(f"no RELP answer within {self._timeout} s")

    def poll(self, timeout: float = 0.0) -> int:
        """Read the answers that arrived (waiting up to *timeout* for one when none has)."""
        if self._sock is not None and self._waiting:
            self._read_answers(timeout)
        confirmed, self._confirmed = self._confirmed, 0
        return confirmed

    @property
    def unconfirmed(self) -> int:
        """Frames sent and not yet answered."""
        return len(self._waiting)

    def take_tail(self) -> list[bytes]:
        """Nothing: unanswered messages are the sender's to send again, answered ones arrived."""
        return []

    def _read_answers(self, timeout: float) -> int:
        """Count ``200`` answers in order; returns how many arrived."""
        before = self._confirmed
        waiting, answered = self._waiting, self._answered
        for txnr, data in self._read_frames(timeout):
            self._check(data, "syslog")
            answered.add(txnr)
            while waiting and waiting[0] in answered:
                answered.discard(waiting.popleft())
                self._confirmed += 1
        return self._confirmed - before

    def _read_frames(self, timeout: float) -> list[tuple[int, bytes]]:
        """The ``rsp`` frames readable within *timeout* (at most one wait)."""
        sock = self._connected()
        pending = isinstance(sock, ssl.SSLSocket) and sock.pending()
        if not pending and not select.select([sock], [], [], timeout)[0]:
            return []
        chunk = sock.recv(_READ)
        if not chunk:
            raise ConnectionResetError("RELP server closed the connection")
        self._buffer += chunk
        return self._parse()

    def _parse(self) -> list[tuple[int, bytes]]:
        frames: list[tuple[int, bytes]] = []
        buffer, pos = self._buffer, 0
        while True:
            end = _frame_end(buffer, pos)
            if end < 0:
                break
            txnr, command, data = _split(buffer[pos:end])
            if command == b"serverclose":
                raise ConnectionResetError("RELP server closed the session")
            if command != b"rsp":
                raise RelpError(f"unexpected RELP command {command!r}")
            frames.append((txnr, data))
            pos = end + 1
        self._buffer = buffer[pos:]
        return frames

    @staticmethod
    def _check(data: bytes, what: str) -> None:
        if not data.startswith(b"200"):
            raise RelpError(f"RELP {what} refused: {data[:200]!r}")

    def _connected(self) -> socket.socket:
        if self._sock is None:
            raise ConnectionError("not connected")
        return self._sock


def _frame_end(buffer: bytes, pos: int) -> int:
    """Index of the LF ending the frame at *pos*, or -1 while it is incomplete."""
    first = buffer.find(b" ", pos)
    second = buffer.find(b" ", first + 1) if first >= 0 else -1
    if second < 0:
        return -1
    digits_end = second + 1
    while digits_end < len(buffer) and buffer[digits_end : digits_end + 1].isdigit():
        digits_end += 1
    if digits_end >= len(buffer):
        return -1
    length = int(buffer[second + 1 : digits_end])
    end = digits_end + (1 + length if length else 0)
    return end if end < len(buffer) else -1


def _split(frame: bytes) -> tuple[int, bytes, bytes]:
    """``(txnr, command, data)`` of one frame without its LF."""
    txnr, command, rest = frame.split(b" ", 2)
    _, _, data = rest.partition(b" ")
    return int(txnr), command, data
