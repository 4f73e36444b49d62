"""Fail loudly when an ``@inject`` function is called without its container wired."""

from __future__ import annotations


def ensure_wired(function: str, **arguments: object) -> None:
    """Raise ``RuntimeError`` if any argument is still an un-wired ``Provide`` marker.

    dependency-injector passes the marker through silently when the module was not wired;
    the call would then fail far away with a puzzling error.
    """
    markers = sorted(name for name, value in arguments.items() if is_marker(value))
    if markers:
        raise RuntimeError(
            f"{function}() was called without wiring: {', '.join(markers)} "
            "still hold Provide markers; call application.wire(modules=[...]) first"
        )


def is_marker(value: object) -> bool:
    """True for dependency-injector's ``Provide[...]``, ``Provider[...]``, ``Closing[...]``."""
    return getattr(type(value), "__IS_MARKER__", False) is True
