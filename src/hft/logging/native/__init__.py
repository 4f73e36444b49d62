"""Whether to use the optional C fast paths (``src/hft/logging/native/*.c``) where they were built.

``HFT_PURE_PYTHON=1`` in the environment, read at import, makes every module take its
pure-Python path instead: the test suite runs the logging tests that way too, and it is a
way to rule the C code out when chasing a problem. :func:`native_paths` tells which paths the
modules actually took, so a benchmark or a bug report can say what it ran.
"""

from __future__ import annotations

import os

__all__ = ["native_paths", "require_native"]


def require_native() -> None:
    """Raise ImportError when ``HFT_PURE_PYTHON=1``, as if the extension were not built."""
    if os.environ.get("HFT_PURE_PYTHON", "") == "1":
        raise ImportError("HFT_PURE_PYTHON=1: the C fast paths are switched off")


def native_paths() -> dict[str, bool]:
    """Each C fast path by what it does, and whether this process loaded it (importing the
    modules that choose between C and Python, if they are not imported yet)."""
    from hft.logging.pipeline import callsites, prepare
    from hft.logging.render import lines

    chosen = {
        "callsite": vars(callsites)["Emitter"],  # native._caller: the logging call itself
        "scan": vars(prepare)["_c_scan"],  # native._caller.scan: the dispatcher's pass
        "render": vars(lines)["_speedups"],  # native._writer: JSON lines in the writer
    }  # each module binds its C name, or None when it took the Python path
    return {path: module is not None for path, module in chosen.items()}
