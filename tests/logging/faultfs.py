"""Real file-system faults for tests: a tiny tmpfs (ENOSPC), an ext4 image that goes read-only on
demand (``errors=remount-ro`` plus ext4's ``trigger_fs_error``) and a bind mount to remount
read-only. Root only.

Every mount lives in this process's own folder, ``$TMPDIR/hft-faultfs-<pid>-<start time>``,
never under pytest's temp folders: a run killed inside a mount leaves it behind, and pytest's
cleanup of its old temp folders would then fail on it in every later run. Each session starts by
unmounting what a process no longer alive left there (:func:`unmount_stale`, called from
``tests/conftest.py``) and ends by removing its own folder (:func:`release`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import orjson

from tests.needs import cannot

PREFIX = "hft-faultfs-"
_OWNED = re.compile(rf"{PREFIX}(\d+)-(\d+)$")  #: a run folder's name: its owner's pid, start time
_names = itertools.count()


def _start_time(pid: int) -> str | None:
    """When process *pid* started (clock ticks since boot), or None if there is no such process:
    with the pid, it tells the process that made a folder from a later one given the same pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]  # field 22; the command name may hold spaces


def run_folder() -> Path:
    """This process's folder for mount points and images (made on first use)."""
    folder = Path(tempfile.gettempdir()) / f"{PREFIX}{os.getpid()}-{_start_time(os.getpid())}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _alive(folder_name: str) -> bool:
    """Whether the process that made the run folder *folder_name* is still running."""
    owner = _OWNED.match(folder_name)
    return owner is None or _start_time(int(owner[1])) == owner[2]


def _unescape(field: str) -> str:
    """A path as /proc/self/mounts writes it (space, tab, newline, backslash in octal)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def our_mounts() -> list[Path]:
    """The mount points in run folders (this process's or another's), deepest first."""
    lines = Path("/proc/self/mounts").read_text().splitlines()
    points = [Path(_unescape(line.split()[1])) for line in lines]
    ours = [p for p in points if any(_OWNED.match(part) for part in p.parts)]
    return sorted(set(ours), key=lambda p: len(p.parts), reverse=True)


def _owner_folder(mount_point: Path) -> Path:
    return next(p for p in (mount_point, *mount_point.parents) if _OWNED.match(p.name))


def unmount_stale() -> list[Path]:
    """Unmount what processes no longer running left in their run folders, remove those
    folders, and return the mount points let go. A live process's mounts are left alone."""
    stale = [p for p in our_mounts() if not _alive(_owner_folder(p).name)]
    for mount_point in stale:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, capture_output=True)
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        if not _alive(folder.name) and not any(p.is_relative_to(folder) for p in our_mounts()):
            shutil.rmtree(folder, ignore_errors=True)
    return stale


def release() -> None:
    """Unmount anything still mounted in this process's run folder, then remove the folder."""
    folder = Path(tempfile.gettempdir()) / f"{PREFIX}{os.getpid()}-{_start_time(os.getpid())}"
    for mount_point in our_mounts():
        if mount_point.is_relative_to(folder):
            subprocess.run(["umount", "-l", str(mount_point)], check=False, capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


def need_root() -> None:
    """Without root: skip on a developer's machine, fail in CI (which runs as root), so the
    real full-disk and read-only tests are never silently left out."""
    if os.geteuid() != 0:
        cannot("mounting a file system for fault injection needs root")


def _mount(*argv: str) -> None:
    """``mount`` with *argv*; a failure (no mount rights, say) skips as :func:`need_root` does."""
    done = subprocess.run(["mount", *argv], check=False, capture_output=True, text=True)
    if done.returncode:
        cannot(f"cannot mount here (needs root with mount rights): {done.stderr.strip()}")


@contextlib.contextmanager
def _mounted(kind: str) -> Iterator[Path]:
    """A fresh empty folder in the run folder, unmounted lazily and removed after the block."""
    need_root()
    mount_point = run_folder() / f"{kind}-{next(_names)}"
    mount_point.mkdir()
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, capture_output=True)
        shutil.rmtree(mount_point, ignore_errors=True)


@contextlib.contextmanager
def tmpfs(size: str = "256k") -> Iterator[Path]:
    """A tmpfs of *size*, mounted for the duration of the block."""
    with _mounted("tmpfs") as mount_point:
        _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mount_point))
        yield mount_point


@contextlib.contextmanager
def ext4(size_mb: int = 8) -> Iterator[Path]:
    """An ext4 file system on a loop device that :func:`make_read_only` turns read-only."""
    with _mounted("ext4") as mount_point:
        image = mount_point.with_name(f"{mount_point.name}.img")
        try:
            with image.open("wb") as file:
                file.truncate(size_mb << 20)
            subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
            _mount("-o", "loop,errors=remount-ro", str(image), str(mount_point))
            yield mount_point
        finally:
            image.unlink(missing_ok=True)  # the loop device holds it until the unmount ends


@contextlib.contextmanager
def bind() -> Iterator[Path]:
    """A folder bind-mounted on itself, so that it can be remounted read-only and back."""
    with _mounted("bind") as mount_point:
        _mount("--bind", str(mount_point), str(mount_point))
        yield mount_point


def make_read_only(mount_point: Path) -> None:
    """Report an ext4 error: the kernel remounts the file system read-only at once."""
    source = subprocess.run(
        ["findmnt", "-no", "SOURCE", str(mount_point)], check=True, capture_output=True, text=True
    ).stdout.strip()
    Path(f"/sys/fs/ext4/{Path(source).name}/trigger_fs_error").write_text("test\n")


def fill(path: Path, size: int) -> None:
    """Write *size* bytes to *path* (ballast that takes room on a small file system)."""
    with path.open("wb") as file:
        file.write(b"\0" * size)


def fill_up(folder: Path) -> Path:
    """A file written in *folder* until its file system is full (delete it to make room)."""
    ballast = folder / "ballast"
    with ballast.open("wb", buffering=0) as file, contextlib.suppress(OSError):
        while True:
            file.write(b"\0" * 1024)
    return ballast


def trail_records(path: Path) -> list[dict[str, object]]:
    """The records in the audit trail at *path* (every complete line)."""
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]


def field_values(records: list[dict[str, object]], key: str = "i") -> list[int]:
    """``fields[key]`` of each audit record (gap records left out)."""
    return [r["fields"][key] for r in records if r["event"] != "audit.gap"]  # type: ignore[index]
