"""Whether to use the optional C fast paths (``src/hft/logging/*.c``) where they were built.

``HFT_PURE_PYTHON=1`` in the environment, read at import, makes every module take its
pure-Python path instead: the test suite runs the logging tests that way too, and it is a
way to rule the C code out when chasing a problem. :func:`native_paths` tells which paths the
modules actually took, so a benchmark or a bug report can say what it ran.
"""

from __future__ import annotations

import os

__all__ = ["require_native"]


def require_native() -> None:
    """Raise ImportError when ``HFT_PURE_PYTHON=1``, as if the extension were not built."""
    if os.environ.get("HFT_PURE_PYTHON", "") == "1":
        raise ImportError("HFT_PURE_PYTHON=1: the C fast paths are switched off")
