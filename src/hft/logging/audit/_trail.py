"""The audit trail's open file: one ``write`` per batch, synced by policy, cut back on failure.

:class:`TrailFile` never leaves part of a batch in the file: a write that fails (or lands in
a file deleted meanwhile) is cut back to the last good size, so a retry cannot duplicate; when
that cut fails too, nothing more is appended until a later cut works. The file is opened
``O_APPEND | O_NOFOLLOW`` (:func:`~hft.logging.audit._files.open_trail`); a rotation renames
it to ``<file>.<UTC stamp>`` and opens a new one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from typing import TYPE_CHECKING

from hft.logging.audit._chain import free_name, fsync_dir
from hft.logging.audit._files import check_ours, open_trail
from hft.logging.render.clock import utc_day, utc_stamp

if TYPE_CHECKING:
    from pathlib import Path

_sync = getattr(os, "fdatasync", os.fsync)


class TrailFile:
    """The trail at :attr:`path`: its descriptor, size and day, and what is not synced yet.

    *every_batch*: each append is synced before it returns; else at most *interval_s* later.
    """

    def __init__(self, path: Path, mode: int, *, every_batch: bool, interval_s: float) -> None:
        self.path = path
        self._mode = mode
        self._every_batch = every_batch
        self._interval_s = interval_s
        self.fd, self.size, self.day = -1, 0, ""
        self.dirty, self.synced_at = False, time.monotonic()
        #: Set when a failed write could not be cut back: the file holds bytes past the chain.
        self.cut_pending = False
        self.deleted = False  #: the file was deleted under us: it is created again first

    def open(self) -> None:
        """Open (or create) the file at :attr:`path`, with the trail's mode."""
        created = not os.path.lexists(self.path)
        self.fd = open_trail(self.path, self._mode)
        stat = os.fstat(self.fd)
        if stat.st_mode & 0o777 != self._mode:  # our own trail (checked before it is opened)
            os.fchmod(self.fd, self._mode)
        if created:
            fsync_dir(self.path.parent)
        self.size = stat.st_size
        self.day = utc_day(stat.st_mtime if stat.st_size else time.time())

    def reopen(self) -> None:
        """The file was deleted: create it again (never its deleted folder)."""
        if not self.path.parent.is_dir():  # a deleted folder is not created behind anyone
            raise FileNotFoundError(errno.ENOENT, "audit trail folder deleted", str(self.path))
        check_ours(self.path)
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.open()
        self.deleted, self.cut_pending = False, False

    # -- appending ------------------------------------------------------------------------

    def append(self, data: bytes) -> None:
        """Append *data* with one write (and sync as the policy says); the file must still be
        linked afterwards, or the records are in no trail (``FileNotFoundError``)."""
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        self.dirty = True
        if self._every_batch or time.monotonic() - self.synced_at >= self._interval_s:
            self.sync()
        if os.fstat(self.fd).st_nlink == 0:
            self.deleted = True
            raise FileNotFoundError(errno.ENOENT, "audit trail deleted", str(self.path))
        self.size += len(data)

    def undo(self) -> bool:
        """Cut the file back to its last good size; False when the cut fails too (then the
        next write cuts first, or fails: the batch is never appended a second time)."""
        try:
            os.ftruncate(self.fd, self.size)
        except OSError:  # the write error is what the caller needs to see
            self.cut_pending = True
            return False
        return True

    def cut_back(self) -> None:
        """Finish a cut-back that failed: the file ends where the chain does, durably, before
        anything else is appended (an ``OSError`` here fails the write that asked)."""
        if os.fstat(self.fd).st_size != self.size:
            os.ftruncate(self.fd, self.size)
            _sync(self.fd)
        self.cut_pending = False

    # -- syncing and closing --------------------------------------------------------------

    def sync(self) -> None:
        """Sync what was appended (``fdatasync``)."""
        _sync(self.fd)
        self.dirty, self.synced_at = False, time.monotonic()

    def sync_if_due(self) -> None:
        """Sync once the interval has passed since the last sync (``interval_ms``)."""
        if self.dirty and time.monotonic() - self.synced_at >= self._interval_s:
            self.sync()

    def sync_if_dirty(self) -> None:
        """Sync whatever was appended and not synced yet (while the file is open)."""
        if self.dirty and self.fd >= 0:
            self.sync()

    def close(self) -> None:
        """Sync what is pending and close the file."""
        if self.dirty:
            self.sync()
        os.close(self.fd)
        self.fd = -1

    def forget(self) -> None:
        """A forked child leaves the file to its parent: closed, nothing of it to sync."""
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd, self.dirty = -1, False

    # -- rotation -------------------------------------------------------------------------

    def rotation_due(self, rotation: str, max_bytes: int) -> bool:
        """True when *rotation* (``size`` past *max_bytes*, ``daily`` past UTC midnight) says so."""
        return (rotation == "size" and self.size >= max_bytes) or (
            rotation == "daily" and utc_day(time.time()) != self.day
        )

    def rename_away(self) -> Path:
        """Rename the (closed) file to ``<file>.<UTC stamp>`` and open a new one; the old name."""
        target = free_name(self.path, utc_stamp())
        os.rename(self.path, target)
        fsync_dir(self.path.parent)
        self.open()
        return target
