"""Which file the audit backend may write: its own trail, never through a symlink.

- The trail is opened with ``O_NOFOLLOW``: a symlink at the last component of ``file_path``
  is refused, whatever it points to.
- An existing file is continued (and its torn tail set aside, its mode set) only when it is an
  audit trail: empty, or starting with a sealed record's first key (``{"alg":"sha256",`` or
  ``{"alg":"hmac-sha256",``). Anything else is refused untouched: not truncated, not moved,
  not chmodded.
- A forked child writes a chain of its own, ``<stem>.<pid><suffix>`` beside the parent's
  (``logs/audit.log`` -> ``logs/audit.4242.log``), sealed and checked like any other.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Final

FILE_PATH_KEY: Final = "logging.backends.audit.file_path"
_TRAIL_STARTS: Final = (b'{"alg":"sha256",', b'{"alg":"hmac-sha256",')
_PROBE: Final = max(map(len, _TRAIL_STARTS))


class AuditPathError(ValueError):
    """``logging.backends.audit.file_path`` names a file the audit backend must not write."""


def check_ours(path: Path) -> None:
    """Refuse *path* unless it is absent or an audit trail (see the module docstring)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise AuditPathError(_symlink(path))
    if not stat.S_ISREG(info.st_mode):
        raise AuditPathError(f"{FILE_PATH_KEY}: {path} is not a regular file; refusing it")
    if info.st_size and not _starts_as_trail(path):
        raise AuditPathError(
            f"{FILE_PATH_KEY}: {path} is not an audit trail written by hft (its first bytes"
            " are not a sealed record); refusing to truncate, move or chmod it: move it away"
            " or choose another path"
        )


def _starts_as_trail(path: Path) -> bool:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        head = os.read(fd, _PROBE)
    finally:
        os.close(fd)
    return starts_as_record(head)


def starts_as_record(data: bytes) -> bool:
    """True when *data* begins as a sealed record does (or is a prefix of that beginning):
    a trail's first bytes, or all a crash left of its first write."""
    return any(data.startswith(start) or start.startswith(data) for start in _TRAIL_STARTS)


def open_trail(path: Path, mode: int) -> int:
    """Open (or create, with *mode*) the trail for appending, refusing a symlink."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        return os.open(path, flags, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise AuditPathError(_symlink(path)) from exc
        raise


def _symlink(path: Path) -> str:
    return (
        f"{FILE_PATH_KEY}: {path} is a symbolic link; the audit trail is never written through"
        " one (point the setting at the real file)"
    )


def child_path(path: Path, pid: int) -> Path:
    """The trail of a forked child: ``audit.log`` -> ``audit.<pid>.log``."""
    return path.with_name(f"{path.stem}.{pid}{path.suffix}")
