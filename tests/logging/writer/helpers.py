"""What the writer-process tests share: a file backend in a writer process, and its lines."""

from __future__ import annotations

from pathlib import Path

import orjson

from hft.logging import create_backend_from_config
from hft.logging.record import Source
from hft.logging.writer.backend import ProcessBackend

SOURCE = Source.create("orders", ("mexc",), {})


def process_file(path: Path, **settings: object) -> ProcessBackend:
    """A file backend at *path* (no rotation) in a writer process, built as the config does."""
    backend = create_backend_from_config(
        "file", {"file_path": str(path), "rotation": "none", **settings}
    )
    assert isinstance(backend, ProcessBackend)
    return backend


def file_lines(path: Path) -> list[dict[str, object]]:
    """The JSON lines of *path*."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]
