"""Which C fast paths this process loaded: for benchmarks and bug reports."""

from __future__ import annotations

__all__ = ["native_paths"]


def native_paths() -> dict[str, bool]:
    """Each C fast path by what it does, and whether this process loaded it (importing the
    modules that choose between C and Python, if they are not imported yet)."""
    from hft.logging import _emit, _prepare, _render

    chosen = {
        "callsite": vars(_emit)["Emitter"],  # hft.logging._callsite: the logging call itself
        "scan": vars(_prepare)["_c_scan"],  # hft.logging._speedups.scan: the dispatcher's pass
        "render": vars(_render)["_speedups"],  # hft.logging._speedups: JSON lines in the writer
    }  # each module binds its C name, or None when it took the Python path
    return {path: module is not None for path, module in chosen.items()}
