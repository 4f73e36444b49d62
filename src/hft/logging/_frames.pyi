"""Types of the optional C fast path for writer frames (``src/hft/logging/_frames.c``)."""

from collections.abc import Callable
from typing import Any

def pack(records: list[Any], dumps: Callable[[Any], bytes], /) -> bytes | None:
    """An 8-byte little-endian size, then a compact frame of plain records; None when a
    record is not plain (pickle the batch then)."""

def unpack(data: bytes | memoryview, loads: Callable[[bytes], Any], /) -> list[Any]:
    """The records of a frame made by :func:`pack` (ValueError if it is damaged)."""
