"""The C renderers and scan (``native._writer``, ``native._caller``) give what Python's give."""

from __future__ import annotations

import importlib
import os
import threading
import time
import tracemalloc
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hft.logging.levels import AUDIT, DEBUG, INFO, MARKER, METRIC, WARNING
from hft.logging.pipeline.prepare import scan_py
from hft.logging.record import TRACE_FIELD, Record, Source
from hft.logging.render.lines import JsonLineRenderer
from tests.native import native_module

_NS = 1_000_000_000
SOURCE = Source.create("bench", ("a", "b"), {"k": 1})
BENCH_FIELDS = {"symbol": "BTCUSDT", "price": 123.45, "qty": 0.5}


def bench_records(count: int, ts: int = 1_700_000_000 * _NS) -> list[Record]:
    """The benchmark's records: one logger, one message, three fields, 1 µs apart."""
    return [
        (i, ts + i * 1000, 20, SOURCE, "order placed", dict(BENCH_FIELDS)) for i in range(count)
    ]


def both(records: list[Any], max_field_chars: int = 4096) -> tuple[bytes, bytes]:
    """The C path's output (Python's when the extension is not built) and the Python path's."""
    fast = JsonLineRenderer(max_field_chars).many(records)
    slow = JsonLineRenderer(max_field_chars, use_speedups=False).many(records)
    return fast, slow


class TestBuilt:
    def test_extension_is_built_when_required(self) -> None:
        """With HFT_REQUIRE_SPEEDUPS=1 the C extension must import (unset: nothing to check)."""
        if os.environ.get("HFT_REQUIRE_SPEEDUPS") == "1":
            importlib.import_module("hft.logging.native._writer")
            pure = os.environ.get("HFT_PURE_PYTHON") == "1"
            assert JsonLineRenderer()._use_speedups is not pure

    def test_use_speedups_false_forces_python(self) -> None:
        """``use_speedups=False`` never takes the C path."""
        assert not JsonLineRenderer(use_speedups=False)._use_speedups


class TestIdentity:
    def test_benchmark_records(self) -> None:
        """The benchmark's records render byte for byte as the Python path renders them."""
        fast, slow = both(bench_records(2048))
        assert fast == slow
        assert fast.count(b"\n") == 2048

    def test_second_boundaries_and_before_1970(self) -> None:
        """Timestamps across second boundaries, at the epoch and before it, render the same."""
        stamps = [
            -1,
            0,
            -_NS,
            -_NS - 1,
            _NS - 1,
            _NS,
            -(2**63),
            -(2**63) + _NS,
            2**63 - 1,
            -86_400 * 365 * 100 * _NS + 123,
            1_700_000_000 * _NS + 999_999_999,
            1_700_000_001 * _NS,
            1_700_000_000 * _NS,
        ]
        records: list[Record] = [(i, ts, 20, SOURCE, "m", {}) for i, ts in enumerate(stamps)]
        fast, slow = both(records)
        assert fast == slow

    @pytest.mark.parametrize("ts", [-2 * _NS, -_NS - 1, -1, 0, 1_700_000_000 * _NS])
    def test_first_record_of_a_fresh_renderer(self, ts: int) -> None:
        """The very first record gets its full timestamp on both paths (the Python path once
        mistook 1969-12-31T23:59:58 for its empty starting cache)."""
        fast, slow = both([(0, ts, 20, SOURCE, "m", {})])
        assert fast == slow
        assert fast.startswith((b'{"ts":"19', b'{"ts":"20'))

    def test_same_renderer_across_calls(self) -> None:
        """One renderer over many calls (caches carried over) matches a fresh Python renderer."""
        fast_r, slow_r = JsonLineRenderer(), JsonLineRenderer(use_speedups=False)
        for start in (0, 5 * _NS, 4 * _NS, -3 * _NS, 5 * _NS + 7):
            batch = bench_records(50, start)
            assert fast_r.many(batch) == slow_r.many(batch)

    def test_odd_records_take_the_python_path(self) -> None:
        """Non-tuples, big ints, bools, odd prefixes, levels and messages: rendered the same."""
        odd_source = SOURCE._replace(json_prefix=bytearray(b'"logger":"x",'))  # type: ignore[arg-type]
        records: list[Any] = [
            [1, 2, 20, SOURCE, "list record", {}],
            (2**64, 3, 20, SOURCE, "big seq", {}),
            (True, 4, 20, SOURCE, "bool seq", {}),
            (5, True, 20, SOURCE, "bool ts", {}),
            (6, 6, 20, odd_source, "bytearray prefix", {}),
            (7, 7, 99, SOURCE, "unknown level", {}),
            (9, 9, 20, SOURCE, 12345, {}),
            (10, 10, 20, SOURCE, "bad \ud800 surrogate", {}),
            (11, 11, 20, SOURCE, "bad field", {"x": object()}),
            (12, 12, 20, SOURCE, "long", {"x": "y" * 10_000}),
            (13, 13, 20, SOURCE, "y" * 10_000, {}),
            (14, 14, 20, SOURCE, "non-str key", {1: 2}),
            (15, 15, 20, SOURCE, "fine", {"a": [1, 2.5, None, True]}),
            (-(2**63), 16, 20, SOURCE, "min seq", {}),
            (2**63 - 1, 17, 20, SOURCE, "max seq", {}),
        ]
        fast, slow = both(records)
        assert fast == slow
        assert fast.count(b"\n") == len(records)

    def test_traced_records(self) -> None:
        """A span's ids under TRACE_FIELD: its keys after seq on both paths; any other value
        there (what split_trace leaves in the fields) rendered the same way too."""
        ids = "4bf92f3577b34da6a3ce929d0e0e473600f067aa0ba902b701"
        odd: list[Any] = [ids.upper(), ids[:-1], 7, None, "0x" + ids[2:], "z" * 50, ids + "0"]
        records: list[Any] = [
            (1, 1, 20, SOURCE, "traced", {TRACE_FIELD: ids, "qty": 1}),
            (2, 2, 20, SOURCE, "traced only", {TRACE_FIELD: ids}),
            (3, 3, 20, SOURCE, "traced, odd field", {TRACE_FIELD: ids, "x": object()}),
            (4, 4, 20, SOURCE, "traced, long", {TRACE_FIELD: ids, "x": "y" * 9000}),
            *((5 + i, 5, 20, SOURCE, "odd", {TRACE_FIELD: v, "n": i}) for i, v in enumerate(odd)),
        ]
        fast, slow = both(records)
        assert fast == slow
        first = fast.splitlines()[0]
        keys = b'"trace_id":"%s","span_id":"%s","trace_flags":"01"' % (
            ids[:32].encode(),
            ids[32:48].encode(),
        )
        assert b'"seq":1,%s,"msg":"traced","fields":{"qty":1}}' % keys in first

    @pytest.mark.parametrize("every", [1, 100])
    def test_offering_the_cpu_while_rendering_changes_no_byte(self, every: int) -> None:
        """Rendering with yield_every (a writer process's renderer) gives the very same bytes."""
        records: list[Any] = [*bench_records(500), (7, 7, 20, SOURCE, "long", {"x": "y" * 9000})]
        offering = JsonLineRenderer(yield_every=every)
        assert offering.many(records) == JsonLineRenderer(use_speedups=False).many(records)

    def test_generator_input(self) -> None:
        """An iterator of records renders as the list does."""
        records = bench_records(10)
        assert JsonLineRenderer().many(iter(records)) == JsonLineRenderer().many(records)

    def test_bad_record_shape_raises_as_python_does(self) -> None:
        """A record that is not six items raises the Python path's own error."""
        records: list[Any] = [*bench_records(3), (1, 2, 3)]
        with pytest.raises(ValueError, match="not enough values"):
            JsonLineRenderer(use_speedups=False).many(records)
        with pytest.raises(ValueError, match="not enough values"):
            JsonLineRenderer().many(records)


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_messages = (
    st.text(max_size=60)
    | st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1)
    | st.text(min_size=5000, max_size=5000, alphabet="ab")
    | st.integers()
    | st.none()
    | st.binary(max_size=8)
)
_timestamps = (
    st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.integers(min_value=-3 * _NS, max_value=3 * _NS)
    | st.sampled_from([-1, 0, _NS - 1, _NS, -_NS, 1_700_000_000 * _NS - 1])
)
_records = st.tuples(
    st.integers(min_value=-(2**64), max_value=2**64),
    _timestamps,
    st.sampled_from([5, 10, 20, 30, 40, 50, 7, 99]),
    st.just(SOURCE),
    _messages,
    st.dictionaries(st.text(max_size=10), _values, max_size=5)
    | st.just({"big": "z" * 4200})
    | st.just({"key": "v" * 2000, "other": "w" * 2000}),
)


class TestProperty:
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(records=st.lists(_records, max_size=20), limit=st.sampled_from([8, 100, 4096]))
    def test_any_records_render_as_python_does(self, records: list[Any], limit: int) -> None:
        """Arbitrary fields, odd messages, unknown levels, long lines and timestamps: same bytes."""
        fast, slow = both(records, limit)
        assert fast == slow


class TestMemory:
    def test_no_growth_over_repeated_calls(self) -> None:
        """100k records through the C path, again and again: traced memory does not grow."""
        renderer = JsonLineRenderer()
        records = bench_records(2048, time.time_ns())
        odd: list[Any] = [(1, 2, 99, SOURCE, "x", {"o": object()}), (2, 3, 20, SOURCE, 7, {})]
        batch = records + odd

        def run() -> None:
            for _ in range(50):  # 50 x 2050 records: about 100k
                renderer.many(batch)

        run()  # warm caches (messages, interned objects)
        tracemalloc.start()
        try:
            run()
            first, _ = tracemalloc.get_traced_memory()
            for _ in range(3):
                run()
            after, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert after - first < 64 * 1024


_PLAIN_SOURCE = Source.create("plain", (), {})
#: A bound context holding text where a secret may be.
_TEXT_SOURCE = Source.create("text", (), {"url": "https://x/?k=abcd"})
_HARMLESS: set[object] = {"symbol", "price", "qty", "i"}
_text = st.text(alphabet="abcdz", max_size=10)
_values = st.one_of(
    st.integers(),
    _text,
    st.floats(),
    st.booleans(),
    st.none(),
    st.just(object()),
    st.lists(st.integers(), max_size=2),
    st.builds(type("Text", (str,), {}), _text),
)
_scan_records = st.tuples(
    st.integers(min_value=-1, max_value=2**62),
    st.integers(min_value=0, max_value=2**62),
    st.sampled_from([MARKER, METRIC, DEBUG, INFO, WARNING, AUDIT]),
    st.sampled_from([SOURCE, _PLAIN_SOURCE, _TEXT_SOURCE]),
    _text | st.integers(),
    st.dictionaries(st.sampled_from(["symbol", "price", "qty", "i", "token", "x"]), _values)
    | st.just({}),
)
#: The settings' secrets as the Preparer passes them: none, one, several of different lengths.
_SECRET_SETS = [(), ("abcd",), ("zzzzzz", "abcd"), ("dcba", "zz")]


def _c_scan() -> Any:
    caller = native_module("hft.logging.native._caller")
    return caller.scan


class TestScan:
    @settings(max_examples=300, deadline=None)
    @given(batch=st.lists(_scan_records, min_size=1, max_size=30))
    def test_same_facts_as_python(self, batch: list[Any]) -> None:
        """Newest seq, level bounds, plainness and secret hits: C agrees with the map passes."""
        for secrets in _SECRET_SETS:
            assert _c_scan()(batch, _HARMLESS, DEBUG, secrets) == scan_py(
                batch, _HARMLESS, secrets
            ), secrets
        assert _c_scan()(batch, _HARMLESS, DEBUG) == scan_py(batch, _HARMLESS)

    def test_benchmark_slice_is_plain(self) -> None:
        """The benchmark's records from a logger without context form a plain slice."""
        batch = [(i, 0, INFO, _PLAIN_SOURCE, "m", dict(BENCH_FIELDS)) for i in range(50)]
        assert _c_scan()(batch, {"symbol", "price", "qty"}, DEBUG) == (49, INFO, INFO, True, False)

    @pytest.mark.parametrize(
        "value", [object(), [1], {"a": 1}, (1,), type("Text", (str,), {})("t"), 2**70 + 0.5]
    )
    def test_a_value_that_is_not_a_scalar_is_not_plain(self, value: object) -> None:
        """Objects, containers and str subclasses leave the slice to the Preparer (C and Python)."""
        batch = [(0, 0, INFO, _PLAIN_SOURCE, "m", {"x": value})]
        expected = (0, INFO, INFO, isinstance(value, float), False)
        assert _c_scan()(batch, {"x"}, DEBUG) == scan_py(batch, {"x"}) == expected

    @pytest.mark.parametrize(
        ("msg", "fields", "source"),
        [
            ("key sk-SECRET-1 leaked", {}, _PLAIN_SOURCE),
            ("m", {"note": "...sk-SECRET-1..."}, _PLAIN_SOURCE),
            ("m", {}, Source.create("bound", (), {"url": "?k=sk-SECRET-1"})),
        ],
    )
    def test_a_settings_secret_anywhere_in_the_text_is_a_hit(
        self, msg: str, fields: dict[str, Any], source: Source
    ) -> None:
        """A secret in the message, a field value or the bound context: hit, not plain."""
        batch = [(0, 0, INFO, _PLAIN_SOURCE, "clean", {}), (1, 0, INFO, source, msg, fields)]
        secrets = ("sk-SECRET-1", "other-secret")
        facts = _c_scan()(batch, {"note"}, DEBUG, secrets)
        assert facts == scan_py(batch, {"note"}, secrets) == (1, INFO, INFO, False, True)

    @pytest.mark.parametrize(
        "odd",
        [
            [],
            [(1, 2, 20)],
            [[1, 2, 20, _PLAIN_SOURCE, "m", {}]],
            [(1.5, 2, 20, _PLAIN_SOURCE, "m", {})],
            [(2**64, 2, 20, _PLAIN_SOURCE, "m", {})],
            [(1, 2, "INFO", _PLAIN_SOURCE, "m", {})],
        ],
    )
    def test_unusual_slices_are_left_to_python(self, odd: list[Any]) -> None:
        """Empty slices, wrong shapes and non-int or huge numbers: None, never a guess."""
        assert _c_scan()(odd, _HARMLESS, DEBUG) is None

    def test_non_dict_fields_and_context_mapping_are_not_plain(self) -> None:
        """Fields that are not a dict, or a context that is a non-empty mapping: not plain."""
        proxy = Source(_PLAIN_SOURCE.name, (), MappingProxyType({"k": 1}), b"")
        scan = _c_scan()
        assert (
            scan([(0, 0, INFO, _PLAIN_SOURCE, "m", threading.Event())], _HARMLESS, DEBUG)[3]
            is False
        )
        assert scan([(0, 0, INFO, proxy, "m", {})], _HARMLESS, DEBUG)[3] is False
