"""Where a process's control socket lives: a per-user folder (mode 0700), one socket per pid.

The folder is ``logging.control.runtime_dir`` when the settings name one, else
``$XDG_RUNTIME_DIR/hft`` (the user's runtime folder, on a systemd host), else
``<tmp>/hft-<uid>``. The server and ``hft level`` compute it the same way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path


class ControlError(Exception):
    """The control channel cannot be used: no socket, an unsafe folder, a refusal."""


def runtime_folder(runtime_dir: str | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The folder holding this user's control sockets (see the module's docstring)."""
    if runtime_dir:
        return Path(runtime_dir)
    xdg = (os.environ if env is None else env).get("XDG_RUNTIME_DIR", "")
    if xdg and os.path.isabs(xdg) and os.path.isdir(xdg):
        return Path(xdg) / "hft"
    return Path(tempfile.gettempdir()) / f"hft-{os.getuid()}"


def socket_path(folder: Path, pid: int) -> Path:
    """The control socket of process *pid* in *folder*."""
    return folder / f"{pid}.sock"


def open_folder(folder: Path) -> Path:
    """*folder*, made with mode 0700 if missing; :class:`ControlError` unless it is a real
    folder (not a link) of this user that nobody else may enter."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.mkdir(mode=0o700, exist_ok=True)
    found = os.lstat(folder)
    if not stat.S_ISDIR(found.st_mode):
        raise ControlError(f"{folder}: not a folder (a link or a file); control socket not opened")
    if found.st_uid != os.getuid():
        raise ControlError(f"{folder}: belongs to uid {found.st_uid}, not {os.getuid()}")
    if found.st_mode & 0o077:
        mode = stat.S_IMODE(found.st_mode)
        raise ControlError(f"{folder}: mode {mode:#o} lets other users in (need 0700)")
    return folder


def remove_stale(folder: Path, *, most: int = 256) -> int:
    """Remove the sockets in *folder* that nobody listens on any more (a process killed with
    SIGKILL never removes its own); returns how many. A socket is stale when a connection to
    it is refused: judged by the socket itself, not by its pid, which another pid namespace
    (a container sharing the folder) may reuse. At most *most* sockets are tried."""
    removed = 0
    for path in sorted(folder.glob("*.sock"))[:most]:
        with contextlib.suppress(OSError):
            if not stat.S_ISSOCK(os.lstat(path).st_mode):
                continue
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.setblocking(False)
            try:
                refused = probe.connect_ex(str(path)) == errno.ECONNREFUSED
            finally:
                probe.close()
            if refused:
                path.unlink()
                removed += 1
    return removed


__all__ = ["ControlError", "open_folder", "remove_stale", "runtime_folder", "socket_path"]
