"""Deep merge of settings layers."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hft.config._merge import deep_merge, iter_leaves

_keys = st.sampled_from(["a", "b", "c", "d"])
_scalars = st.one_of(st.integers(), st.sampled_from(["x", "y"]), st.booleans(), st.none())
_values = st.recursive(
    _scalars | st.lists(_scalars, max_size=3),
    lambda inner: st.dictionaries(_keys, inner, max_size=4),
    max_leaves=8,
)
_trees = st.dictionaries(_keys, _values, max_size=4)


def _walk(data: Any, parts: list[str]) -> tuple[bool, Any]:
    """``(True, value)`` where ``parts`` leads in ``data``, else ``(False, first non-dict)``."""
    for part in parts:
        if not isinstance(data, Mapping) or part not in data:
            return False, data
        data = data[part]
    return True, data


class TestDeepMerge:
    @given(_trees, _trees)
    def test_override_leaves_win(self, base: dict[str, Any], override: dict[str, Any]) -> None:
        """Every non-dict value of the later layer is in the result at its path."""
        merged = deep_merge(base, override)
        for path, value in iter_leaves(override):
            if value != {}:
                assert _walk(merged, path.split(".")) == (True, value)

    @given(_trees, _trees)
    def test_untouched_base_leaves_stay(
        self, base: dict[str, Any], override: dict[str, Any]
    ) -> None:
        """A base leaf the later layer does not replace (directly or via a parent) survives."""
        merged = deep_merge(base, override)
        for path, value in iter_leaves(base):
            parts = path.split(".")
            found, blocker = _walk(override, parts)
            if not found and isinstance(blocker, Mapping):
                assert _walk(merged, parts) == (True, value)

    @given(_trees, _trees)
    def test_dict_keys_union(self, base: dict[str, Any], override: dict[str, Any]) -> None:
        """Keys of dicts present in both layers are the union of both."""
        merged = deep_merge(base, override)
        assert set(merged) == set(base) | set(override)
        for key in set(base) & set(override):
            if isinstance(base[key], dict) and isinstance(override[key], dict):
                assert set(merged[key]) >= set(base[key]) | set(override[key])

    @given(_trees, _trees)
    def test_inputs_untouched(self, base: dict[str, Any], override: dict[str, Any]) -> None:
        """Merging copies: neither input is modified, and later edits do not reach them."""
        base_before, override_before = copy.deepcopy(base), copy.deepcopy(override)
        merged = deep_merge(base, override)
        for value in merged.values():
            if isinstance(value, dict):
                value["zz"] = 1
        assert (base, override) == (base_before, override_before)

    def test_lists_replaced(self) -> None:
        """A list in a later layer replaces the earlier list, it is not appended to."""
        assert deep_merge({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}


class TestIterLeaves:
    def test_paths_and_empty_dicts(self) -> None:
        """Leaves are dotted paths to non-dict values and to empty dicts."""
        data = {"a": {"b": 1, "c": {}}, "d": [1]}
        assert list(iter_leaves(data)) == [("a.b", 1), ("a.c", {}), ("d", [1])]
