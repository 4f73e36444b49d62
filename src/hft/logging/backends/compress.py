"""Compressed rotation: a rotated JSON file gzip- or zstd-compressed by a worker thread of its
:class:`~hft.logging.backends.file.FileBackend`, crash-safe (the names and the reading back of
rotated files are :mod:`hft.logging.backends.rotated`'s).

A rotated file ``<log>.<suffix>`` becomes ``<log>.<suffix>.gz`` (or ``.zst``), in this order:
compressed to ``<name>.gz.tmp``, which is fsynced (with the original's mtime copied onto it),
renamed to ``<name>.gz``, the folder fsynced, and only then the original deleted. A kill at any
step leaves the original whole, or a whole compressed file beside it; :meth:`Compressor.recover`
(a new backend on the same path) deletes a leftover ``.tmp``, settles an original that has a
compressed twin (the twin is checked to decompress to the original's length, off the caller's
way, on the worker), and queues the rest again.

The worker is a thread of the backend's own, started on first need and joined at close; it
runs at a lower priority (nice 10) and zlib and zstandard release the GIL while they compress,
so neither the caller nor the writer's loop waits for it.

A compression that fails (a full disk, EIO, a folder it may not write) leaves the original as it
is (read and counted by retention as any rotation) and no ``.tmp``; it is tried again after each
of ``RETRY_DELAYS_S`` (later files, while that lasts, once each), then given up until the next
rotation (or start). The counts (:meth:`Compressor.stats`) are the backend's ``stats()``; the
first failure of a run of them, and the first success after it, are said once each: queued by
the worker as reports, said by the backend on its own thread (:meth:`Compressor.take_reports`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import weakref
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import zstandard

from hft.logging.backends.rotated import (
    CHUNK,
    SUFFIXES,
    TEMP,
    UNREADABLE,
    Compression,
    decompressed_size,
    is_temp,
    original_of,
    rotated_groups,
    siblings,
    variants,
)

GZIP_LEVEL: Final = 6  #: gzip's own default
ZSTD_LEVEL: Final = 3  #: zstd's own default
NICE: Final = 10  #: the worker's niceness: the caller's and the writer's threads come first
#: Test only: ``point:flagfile`` stops the process at *point* (``partial``, ``synced``,
#: ``renamed``, ``pruning``) after creating *flagfile*, so a test can kill it there. Read once,
#: when a backend is made; nothing else looks at it.
PAUSE_ENV: Final = "HFT_TEST_COMPRESS_PAUSE"
#: A failed compression is tried again after each of these waits (seconds), then given up until
#: the next rotation or start. Read when a backend is made.
RETRY_DELAYS_S: Final = (1.0, 4.0)
FAILED: Final = "log file compression failed; the rotated file stays uncompressed"
RECOVERED: Final = "log file compression works again"
#: A warning for the backend to say (message, fields), made on the worker's thread.
Report = tuple[str, dict[str, Any]]


class Pause:
    """The test-only stop (``PAUSE_ENV``): a no-op unless the variable names a point."""

    def __init__(self, value: str) -> None:
        self.point, _, self._flag = value.partition(":")

    @classmethod
    def from_env(cls) -> Pause:
        """The stop the environment asks for, read now (once per backend)."""
        return cls(os.environ.get(PAUSE_ENV, ""))

    def at(self, point: str) -> None:
        """At *point*, when it is the one asked for: say so in the flag file, then wait to be
        killed (forever)."""
        if point != self.point:
            return
        Path(self._flag).touch()
        threading.Event().wait()


def _encoder(method: str) -> tuple[Callable[[bytes], bytes], Callable[[], bytes]]:
    """The compress and flush functions of *method* (no size promised in a zstd frame: a
    file that grows meanwhile is found by :meth:`Compressor._encode` and said so)."""
    if method == "gzip":
        gz = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return gz.compress, gz.flush
    zst = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True).compressobj()
    return zst.compress, zst.flush


def grew(size: int) -> OSError:
    """The error of a rotated file that is still written to (by another process on the same
    path, say): compressing it and deleting it would lose what comes after."""
    return OSError(
        errno.EBUSY,
        f"the rotated file grew past {size} bytes while it was compressed: something still"
        " writes to it (another process logging to the same file_path?)",
    )


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_folder(folder: Path) -> None:
    """Make the folder's entries (a rename) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


class Compressor:
    """The worker that compresses one log's rotated files, one at a time, oldest first."""

    def __init__(self, log: Path, method: Compression) -> None:
        if method != "none" and method not in SUFFIXES:
            raise ValueError(
                f"logging.backends.file.compression: unknown method {method!r} (none, gzip or zstd)"
            )
        self._log = log
        self.method = method
        self.pause = Pause.from_env()
        self._queue: deque[Path] = deque()
        self._busy: Path | None = None
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S
        self.compressed = 0  #: rotated files compressed (or a kill's leftover settled)
        self.failures = 0  #: files given up after every attempt failed (the original stays)
        self.retries = 0  #: attempts made again after a failure
        self._gave_up: list[Path] = []  #: tried again at the next rotation
        self._reports: list[Report] = []  #: for the backend to say (take_reports)
        self._failing = 0  #: files given up since compression last worked (0: it works)
        _LIVE.add(self)

    def _after_fork_in_child(self) -> None:
        """A forked child has no worker (nor the parent's lock state): it starts afresh and
        leaves the parent's queue to the parent."""
        self._cv = threading.Condition()
        self._queue.clear()
        self._gave_up.clear()
        self._reports.clear()
        self._busy, self._thread = None, None

    def recover(self) -> None:
        """After a kill: leftover ``.tmp`` files deleted; every rotated original queued (one with
        a compressed twin is only settled by the worker: the original deleted once the twin is
        checked, else the twin)."""
        for path in siblings(self._log):
            if is_temp(path):
                _remove(path)
        for path in rotated_groups(self._log):
            original = original_of(path)
            if path == original and self.method == "none":
                continue  # nothing to compress, and no twin to settle
            if original.exists():
                self.submit(original)

    def submit(self, original: Path) -> None:
        """Queue *original* (a rotated file, never the live one), after the files given up
        since the last rotation (tried again now); starts the worker if needed."""
        if original == self._log:  # pragma: no cover - a bug in the caller, not a state
            raise ValueError("the live log is never compressed")
        with self._cv:
            if self._stop.is_set():
                return
            again, self._gave_up = self._gave_up, []
            for path in (*again, original):
                if path not in self._queue and path != self._busy:
                    self._queue.append(path)
            self._cv.notify()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="hft-file-compress", daemon=True
                )
                self._thread.start()

    @contextlib.contextmanager
    def held(self) -> Iterator[Path | None]:
        """While held the worker starts or ends no file; yields the one it is compressing."""
        with self._cv:
            yield self._busy

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no rotated file waits to be compressed; False at *timeout*."""
        with self._cv:
            return self._cv.wait_for(lambda: not self._queue and self._busy is None, timeout)

    def close(self) -> None:
        """Stop the worker (a file in flight is abandoned: its ``.tmp`` deleted, the original
        kept and queued again by the next backend on this path) and join it."""
        with self._cv:
            self._stop.set()
            self._queue.clear()
            self._cv.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    def take_reports(self) -> list[Report]:
        """The warnings queued since the last call (said by the backend, on its own thread)."""
        if not self._reports:  # the common case, on every write: no lock taken
            return []
        with self._cv:
            reports, self._reports = self._reports, []
        return reports

    def stats(self) -> dict[str, float]:
        """The counts, for the backend's ``stats()``."""
        return {
            "compressed": self.compressed,
            "compress_failures": self.failures,
            "compress_retries": self.retries,
        }

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # not allowed to: it runs at the process's nice
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        while (original := self._next()) is not None:
            try:
                self._attempts(original)
            except Exception as exc:  # noqa: BLE001 - a bug must not end the worker: counted,
                bug = OSError(errno.EIO, f"{type(exc).__name__}: {exc}")  # said, and it goes on
                self._given_up(original, bug)
            finally:
                with self._cv:
                    self._busy = None
                    self._cv.notify_all()

    def _attempts(self, original: Path) -> None:
        """Settle *original*, trying again after each of ``retry_delays_s`` while it fails (a
        full disk, say: the original stays, readable and counted); then give it up until the
        next rotation. While compression is failing (a file given up since the last success),
        a file gets one attempt: the backoff is the first one's. A close meanwhile abandons it
        (the next start tries it again)."""
        error: OSError | None = None
        delays = () if self._failing else self.retry_delays_s
        for attempt, delay in enumerate((0.0, *delays)):
            if attempt:
                if self._stop.wait(delay):
                    return
                self.retries += 1
            try:
                done = self._settle(original)
            except OSError as exc:
                error = exc
                continue
            except (zlib.error, zstandard.ZstdError) as exc:  # the codec's own: an attempt too
                error = OSError(errno.EIO, f"{type(exc).__name__}: {exc}")
                continue
            if done:
                self._succeeded()
            return
        assert error is not None
        self._given_up(original, error)

    def _given_up(self, original: Path, error: OSError) -> None:
        with self._cv:
            self.failures += 1
            self._gave_up.append(original)
            self._failing += 1
            if self._failing > 1:
                return  # said already: the counts tell the rest
            code = error.errno or 0
            self._reports.append((FAILED, {
                "path": str(original), "errno": code, "code": errno.errorcode.get(code, ""),
                "error": error.strerror or str(error),
                "attempts": 1 + len(self.retry_delays_s), "method": self.method,
            }))  # fmt: skip

    def _succeeded(self) -> None:
        with self._cv:
            self.compressed += 1
            if self._failing:
                self._reports.append((RECOVERED, {"left_uncompressed": self._failing}))
                self._failing = 0

    def _next(self) -> Path | None:
        with self._cv:
            self._cv.wait_for(lambda: self._queue or self._stop.is_set())
            if self._stop.is_set():
                return None
            self._busy = self._queue.popleft()
            return self._busy

    def _settle(self, original: Path) -> bool:
        """Compress *original*, or settle it with the compressed twin a kill left beside it;
        True when it is compressed now (False: nothing to do, or abandoned)."""
        twins = [p for p in variants(original)[1:] if p.exists()]
        for twin in twins:
            if _same_length(original, twin):
                _remove(original)  # the twin is whole: the kill came before this unlink
                return True
            _remove(twin)  # not what it claims to be: the original is the record
        if self.method != "none" and original.exists():
            return self._compress(original, SUFFIXES[self.method])
        return False

    def _compress(self, original: Path, suffix: str) -> bool:
        final = original.with_name(original.name + suffix)
        temp = final.with_name(final.name + TEMP)
        try:
            src = os.open(original, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:  # pruned, or settled by another backend on this path
            return False
        try:
            stat = os.fstat(src)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                dst = os.open(temp, flags, stat.st_mode & 0o777)
            except FileExistsError:  # another backend on this path has it in flight
                return False
            try:
                done = self._to_temp(src, dst, stat)
            except BaseException:
                _remove(temp)
                raise
            finally:
                os.close(dst)
        finally:
            os.close(src)
        if done:
            self._finish(original, temp, final, stat.st_size)
        else:
            _remove(temp)
        return done

    def _to_temp(self, src: int, dst: int, stat: os.stat_result) -> bool:
        """*src* compressed into *dst*, fsynced with *src*'s mode and mtime (False: abandoned)."""
        if not self._encode(src, dst, stat.st_size):
            return False
        os.fchmod(dst, stat.st_mode & 0o777)  # whatever the umask, as the original
        os.utime(dst, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # rotated_groups' order holds
        os.fsync(dst)
        return True

    def _encode(self, src: int, dst: int, size: int) -> bool:
        """Compress *src* (*size* bytes when opened) into *dst*; False when the backend closed
        meanwhile (abandoned). A file that grew meanwhile raises :func:`grew` (kept whole)."""
        compress, flush = _encoder(self.method)
        read = 0
        while chunk := os.read(src, CHUNK):
            if self._stop.is_set():
                return False
            read += len(chunk)
            _write_all(dst, compress(chunk))
            self.pause.at("partial")
        _write_all(dst, flush())
        if read != size or os.fstat(src).st_size != size:
            raise grew(size)
        return True

    def _finish(self, original: Path, temp: Path, final: Path, size: int) -> None:
        self.pause.at("synced")
        try:
            os.rename(temp, final)
        except OSError:
            _remove(temp)  # never a .tmp left behind: the original is the record
            raise
        fsync_folder(final.parent)
        self.pause.at("renamed")
        if os.stat(original, follow_symlinks=False).st_size != size:  # written to since
            _remove(final)  # the original is the record; the next attempt starts afresh
            raise grew(size)
        _remove(original)


_LIVE: weakref.WeakSet[Compressor] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for compressor in list(_LIVE):
        compressor._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _same_length(original: Path, twin: Path) -> bool:
    """True when *twin* decompresses whole to as many bytes as *original* holds."""
    try:
        return decompressed_size(twin) == original.stat().st_size
    except FileNotFoundError:
        return not original.exists()  # pruned meanwhile, or settled by another backend
    except UNREADABLE:
        return False
