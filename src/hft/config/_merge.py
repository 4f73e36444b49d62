"""Deep merge and flattening of plain settings dicts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated by ``override``: dicts merge recursively, anything else is replaced.

    Neither argument is modified; the result shares no dicts with them.
    """
    merged = {key: _copy(value) for key, value in base.items()}
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = _copy(value)
    return merged


def _copy(value: Any) -> Any:
    return deep_merge({}, value) if isinstance(value, Mapping) else value


def iter_leaves(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted.path, value)`` for every leaf: a non-dict value or an empty dict."""
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from iter_leaves(value, f"{path}.")
        else:
            yield path, value
