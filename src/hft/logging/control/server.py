"""The control socket of one process, served by a small daemon thread (never the dispatcher).

One request per connection: a JSON line in, a JSON line out. A peer of another uid is
refused (``SO_PEERCRED``), with a reply saying so, before anything it sent is read. The
thread also wakes on a byte written to its pipe: ``H`` (SIGHUP: reload) or ``Q`` (quit), so
a signal handler only writes one byte and the work happens here.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, NamedTuple

import orjson

#: Longest request line read, and longest a peer may take to send it.
MAX_REQUEST: Final = 65536
PEER_TIMEOUT_S: Final = 1.0
_CRED: Final = struct.Struct("3i")  # struct ucred: pid, uid, gid


class Peer(NamedTuple):
    """Who is on the other end of a connection (the kernel says so, not the peer)."""

    pid: int
    uid: int
    gid: int

    def __str__(self) -> str:
        return f"socket uid={self.uid} pid={self.pid}"


Handler = Callable[[dict[str, Any], Peer], dict[str, Any]]


def peer_of(conn: socket.socket) -> Peer:
    """The credentials of *conn*'s peer, as the kernel recorded them at ``connect``."""
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size)
    return Peer(*_CRED.unpack(raw))


class ControlServer:
    """A listening Unix socket at *path* (mode 0600) and the thread that answers it."""

    def __init__(self, path: Path, handle: Handler, on_reload: Callable[[], None]) -> None:
        self.path, self._handle, self._on_reload = path, handle, on_reload
        self._sock: socket.socket | None = None
        self._wake_r, self._wake_w = -1, -1
        self._inode = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind (replacing a stale socket left at *path*), listen and start the thread."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # named by our pid: whoever made it is gone
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(self.path))
            os.chmod(self.path, 0o600)  # the folder is 0700: nobody else got in meanwhile
            sock.listen(8)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self._sock, self._inode = sock, os.stat(self.path).st_ino
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._thread = threading.Thread(target=self._serve, name="hft-control", daemon=True)
        self._thread.start()

    def wake(self, reason: bytes) -> None:
        """Wake the thread: ``b"H"`` reloads, ``b"Q"`` stops it (safe in a signal handler)."""
        with contextlib.suppress(OSError):
            os.write(self._wake_w, reason)

    def close(self) -> None:
        """Stop the thread, close the socket and remove its file (if it is still ours)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            self.wake(b"Q")
            thread.join(5.0)
        self._release(unlink=True)

    def forget(self) -> None:
        """In a forked child: drop the inherited socket and pipe; the file is the parent's."""
        self._release(unlink=False)

    def _release(self, *, unlink: bool) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if unlink:
            with contextlib.suppress(OSError):
                if os.stat(self.path).st_ino == self._inode:
                    self.path.unlink()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1

    def _serve(self) -> None:
        sock, wake = self._sock, self._wake_r
        assert sock is not None
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is not wake:
                        self._accept(sock)
                    elif not self._woken(wake):
                        return

    def _woken(self, wake: int) -> bool:
        """Act on the bytes in the pipe; False when told to quit."""
        try:
            reasons = os.read(wake, 256)
        except BlockingIOError:
            return True
        if b"Q" in reasons:
            return False
        if b"H" in reasons:
            self._on_reload()
        return True

    def _accept(self, sock: socket.socket) -> None:
        try:
            conn, _ = sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        with conn:
            conn.setblocking(True)
            conn.settimeout(PEER_TIMEOUT_S)
            with contextlib.suppress(OSError):  # a peer gone or too slow: its loss
                conn.sendall(orjson.dumps(self._answer(conn)) + b"\n")

    def _answer(self, conn: socket.socket) -> dict[str, Any]:
        peer = peer_of(conn)
        if peer.uid != os.getuid():
            return {"ok": False, "error": f"refused: uid {peer.uid} is not this process's owner"}
        line = _read_line(conn)
        try:
            request = orjson.loads(line)
        except orjson.JSONDecodeError:
            return {"ok": False, "error": "not a JSON request line"}
        if not isinstance(request, dict):
            return {"ok": False, "error": "a request is a JSON object"}
        try:
            return self._handle(request, peer)
        except Exception as exc:  # noqa: BLE001 - one bad request must not stop the channel
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def _read_line(conn: socket.socket) -> bytes:
    """One line from *conn* (without its newline), at most :data:`MAX_REQUEST` bytes."""
    data = b""
    while b"\n" not in data and len(data) < MAX_REQUEST:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.partition(b"\n")[0]


__all__ = ["MAX_REQUEST", "ControlServer", "Peer", "peer_of"]
