"""Running ``hft logs`` as a user does: a separate process on the tree under test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import hft as hft_package

#: The tree under test, so a child runs this code, not whatever ``hft`` is installed.
SRC = str(Path(hft_package.__file__).resolve().parents[1])


def env() -> dict[str, str]:
    """This environment without HFT_* settings, importing hft from the tree under test."""
    variables = {k: v for k, v in os.environ.items() if not k.startswith("HFT_")}
    return variables | {"PYTHONPATH": SRC}


def command(*args: str | Path) -> list[str]:
    """The argv of ``hft logs ARGS``."""
    return [sys.executable, "-m", "hft.cli", "logs", *map(str, args)]


def hft_logs(*args: str | Path, **options: Any) -> subprocess.CompletedProcess[bytes]:
    """Run ``hft logs ARGS`` to its end; its output as bytes."""
    return subprocess.run(
        command(*args), env=env(), capture_output=True, timeout=120, check=False, **options
    )
