"""The dispatcher's handle on one writer process: its pipes, its replies, its end."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any, Final

import orjson

_PIPE_BYTES: Final = 1 << 20
_READ_BYTES: Final = 1 << 16  #: replies read at a time (an acknowledgement is 34 bytes)
_F_SETPIPE_SZ: Final = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux
CLOSE_TIMEOUT_S: Final = 60.0


class WriterChild:
    """One writer process, its pipes (non-blocking on our side) and what it reported."""

    @classmethod
    def start(cls, spec: Mapping[str, Any]) -> WriterChild:
        """Start ``python -m hft.logging.writer SPEC`` (not waiting for it).

        Its replies come on a pipe of their own (``reply_fd``): its standard output and error
        stay this process's, where a console sink writes."""
        replies, theirs = os.pipe()
        try:
            spec = {**spec, "reply_fd": theirs}
            argv = [sys.executable, "-m", "hft.logging.writer", orjson.dumps(spec).decode()]
            popen = subprocess.Popen(argv, stdin=subprocess.PIPE, pass_fds=(theirs,))
        except BaseException:
            os.close(replies)
            raise
        finally:
            os.close(theirs)
        return cls(popen, replies)

    def __init__(self, popen: subprocess.Popen[bytes], replies: int) -> None:
        assert popen.stdin is not None
        self.popen = popen
        self.stdin, self.stdout = popen.stdin.fileno(), replies
        for fd in (self.stdin, self.stdout):  # replies: ~40 bytes per unacknowledged frame
            with contextlib.suppress(OSError):  # a smaller pipe only makes us wait sooner
                fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_BYTES)
        os.set_blocking(self.stdin, False)
        os.set_blocking(self.stdout, False)
        self.ready = False
        self.totals = (0, 0, 0)  #: written, failed over, lost, as last acknowledged
        self.replies = bytearray()

    def read(self) -> bool:
        """Take what the writer sent into :attr:`replies`; True once its end is closed.

        A short read means the pipe is empty for now: no second read (each one hands the GIL
        back and forth with the caller's thread); its end is seen closed on a later call."""
        while True:
            try:
                chunk = os.read(self.stdout, _READ_BYTES)
            except BlockingIOError:
                return False
            if not chunk:
                return True
            self.replies += chunk
            if len(chunk) < _READ_BYTES:
                return False

    def end_input(self) -> None:
        """Close the writer's input: it writes what it holds, acknowledges, and exits."""
        if self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()

    def close(self) -> None:
        """Close our ends of the pipes (after a fork: only this process's copies)."""
        if self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
        if self.stdout >= 0:
            with contextlib.suppress(OSError):
                os.close(self.stdout)
            self.stdout = -1


def reap(popen: subprocess.Popen[bytes]) -> int | None:
    """Wait for a writer that is exiting; one that hangs is killed after a bound."""
    try:
        return popen.wait(CLOSE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        popen.kill()
        return popen.wait()
