"""Real file-system faults for tests: a tiny tmpfs (ENOSPC) and an ext4 image that goes
read-only on demand (``errors=remount-ro`` plus ext4's ``trigger_fs_error``). Root only."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


def _need_root() -> None:
    """Without root: skip on a developer's machine, fail in CI (which runs as root), so the
    real full-disk and read-only tests are never silently left out."""
    if os.geteuid() != 0:
        message = "mounting a file system for fault injection needs root"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@contextlib.contextmanager
def tmpfs(mount_point: Path, size: str = "256k") -> Iterator[Path]:
    """A tmpfs of *size* mounted at *mount_point* for the duration of the block."""
    _need_root()
    mount_point.mkdir(parents=True, exist_ok=True)
    _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mount_point))
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, capture_output=True)


@contextlib.contextmanager
def ext4(work: Path, size_mb: int = 8) -> Iterator[Path]:
    """An ext4 file system on a loop device that :func:`make_read_only` turns read-only."""
    _need_root()
    image, mount_point = work / "fs.img", work / "ext4"
    mount_point.mkdir(parents=True, exist_ok=True)
    with image.open("wb") as file:
        file.truncate(size_mb << 20)
    _run("mkfs.ext4", "-q", "-F", str(image))
    _run("mount", "-o", "loop,errors=remount-ro", str(image), str(mount_point))
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, capture_output=True)


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


def trail_records(path: Path) -> list[dict[str, object]]:
    """The records in the audit trail at *path* (every complete line)."""
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]


def field_values(records: list[dict[str, object]], key: str = "i") -> list[int]:
    """``fields[key]`` of each audit record (gap records left out)."""
    return [r["fields"][key] for r in records if r["event"] != "audit.gap"]  # type: ignore[index]
