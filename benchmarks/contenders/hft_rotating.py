"""``hft-prod`` with size rotation every few megabytes and each compression method:
``hft-rotating-none``, ``hft-rotating-gzip``, ``hft-rotating-zstd`` (never in the default set).

They measure the caller's paced tail while the writer process rotates and its worker compresses
(``python -m benchmarks paced --contenders floor,hft-rotating-none,hft-rotating-gzip,
hft-rotating-zstd``). At close, once the pipeline is drained, the rotated files (decompressed)
and the live one are joined into the benchmark's file, so its line count is every record's.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.contenders import Contender
from benchmarks.contenders.hft_shipped import PROD_VARIABLES, build_shipped_logger

#: Rotate every 4 MiB: at 100,000 calls/s (about 19 MB/s of lines), every ~0.2 s.
MAX_BYTES = 4 << 20


def _setup(path: Path, compression: str) -> Contender:
    variables = {
        **PROD_VARIABLES,
        "HFT_LOGGING__BACKENDS__FILE__ROTATION": "size",
        "HFT_LOGGING__BACKENDS__FILE__MAX_BYTES": str(MAX_BYTES),
        "HFT_LOGGING__BACKENDS__FILE__RETENTION": "100000",
        "HFT_LOGGING__BACKENDS__FILE__COMPRESSION": compression,
    }
    logger, close_pipeline = build_shipped_logger("prod", path, variables)

    def close() -> None:
        close_pipeline()
        join_rotated(path)

    return Contender(log=logger.info, log_filtered=logger.debug, close=close)


def join_rotated(path: Path) -> None:
    """Replace *path* by its rotated files, decompressed, oldest first, then itself."""
    from hft.logging.backends.rotated import read_rotated, rotated_groups

    joined = path.with_name(path.name + "-joined")
    with joined.open("wb") as out:
        for rotated in [*rotated_groups(path), path]:
            for chunk in read_rotated(rotated):
                out.write(chunk)
            if rotated != path:
                rotated.unlink()
    os.replace(joined, path)


def setup_none(path: Path) -> Contender:
    """Size rotation, no compression."""
    return _setup(path, "none")


def setup_gzip(path: Path) -> Contender:
    """Size rotation, gzip."""
    return _setup(path, "gzip")


def setup_zstd(path: Path) -> Contender:
    """Size rotation, zstd."""
    return _setup(path, "zstd")
