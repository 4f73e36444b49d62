"""The C fast paths, chosen here once: every other module takes its C names from this one.

Two extensions, cut by the process that runs them (``src/hft/logging/native/*.c``):

- ``_caller``, the process that logs: the call site (``Emitter``, ``nop``), the pipeline's
  ``Sequence`` and ``Counter``, the rate limits (``Limiter``, ``LimitSites``), the byte
  ``Lane`` and its mover thread, and the dispatcher's ``scan``;
- ``_writer``, the side that reads frames and writes lines (the writer process, mostly): a lane
  frame checked (``lane_count``) and decoded (``unpack_lane``), and JSON lines rendered from
  records (``render_lines``) or straight from a lane frame (``render_lane``).

Each name below is the C one, or None where this process takes the pure-Python path: because
``HFT_PURE_PYTHON=1`` was in the environment when hft was imported (the test suite runs the
logging tests that way too, and it is a way to rule the C code out when chasing a problem), or
because the extension was not built (no compiler). The modules that use them hold the pure-Python
twins, which the tests hold to the same bytes: where a name is None they take their own path
(``nop``, ``scan``, the renderers, the call-site closures; no ``Lane``: every record takes the
classic path). ``unpack_lane`` and ``lane_count`` are the exception: a lane frame has no Python
reader, and only the C ``Lane`` makes one, so they are loaded wherever built, whatever
``HFT_PURE_PYTHON`` says. :func:`native_paths` tells which paths this process took, so a
benchmark or a bug report can say what it ran.
"""

from __future__ import annotations

import os

__all__ = [
    "Counter",
    "Emitter",
    "Lane",
    "LimitSites",
    "Limiter",
    "Sequence",
    "lane_count",
    "native_paths",
    "nop",
    "render_lane",
    "render_lines",
    "require_native",
    "scan",
    "unpack_lane",
]


def require_native() -> None:
    """Raise ImportError when ``HFT_PURE_PYTHON=1``, as if the extensions were not built."""
    if os.environ.get("HFT_PURE_PYTHON", "") == "1":
        raise ImportError("HFT_PURE_PYTHON=1: the C fast paths are switched off")


# A name left None is typed as the C one (as a module-level fallback would be): its users test
# it for None once, where they choose their path.
try:  # the process that logs (caller.c)
    require_native()
    from hft.logging.native._caller import (
        Counter,
        Emitter,
        Lane,
        Limiter,
        LimitSites,
        Sequence,
        nop,
        scan,
    )
except ImportError:  # pragma: no cover - depends on how hft was installed
    Counter = Emitter = Lane = Sequence = None  # type: ignore[assignment,misc]
    Limiter = LimitSites = None  # type: ignore[assignment,misc]
    nop = scan = None  # type: ignore[assignment]

try:  # the writer side's renderers (writer.c)
    require_native()
    from hft.logging.native._writer import render_lane, render_lines
except ImportError:  # pragma: no cover - depends on how hft was installed
    render_lane = render_lines = None  # type: ignore[assignment]

try:  # a lane frame's only reader: wherever built (only the C Lane makes lane frames)
    from hft.logging.native._writer import lane_count, unpack_lane
except ImportError:  # pragma: no cover - depends on how hft was installed
    lane_count = unpack_lane = None  # type: ignore[assignment]


def native_paths() -> dict[str, bool]:
    """Each C fast path by what it does, and whether this process took it."""
    return {
        "callsite": Emitter is not None,  # _caller: the logging call itself (and its limits)
        "scan": scan is not None,  # _caller.scan: the dispatcher's pass
        "render": render_lines is not None,  # _writer: JSON lines in the writer
    }
