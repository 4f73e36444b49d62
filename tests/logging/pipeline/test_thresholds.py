"""LevelMap: the longest dotted prefix, as the stdlib matches its hierarchy."""

from __future__ import annotations

import pytest

from hft.logging import DEBUG, ERROR, INFO, WARNING
from hft.logging.pipeline.thresholds import NOTSET, LevelMap, check_level, check_prefix


class TestLongestPrefix:
    def test_a_prefix_covers_itself_and_its_children_not_a_longer_name(self) -> None:
        """ "exchange.mexc" covers exchange.mexc and exchange.mexc.book, not exchange.mexcx."""
        levels = LevelMap({"exchange.mexc": DEBUG})
        assert levels.level_for("exchange.mexc") == DEBUG
        assert levels.level_for("exchange.mexc.book") == DEBUG
        assert levels.level_for("exchange.mexcx") == NOTSET
        assert levels.level_for("exchange") == NOTSET

    def test_the_root_covers_every_name_and_the_longest_prefix_wins(self) -> None:
        """ "" is the root; a longer matching prefix overrides a shorter one."""
        levels = LevelMap({"": "INFO", "exchange": WARNING, "exchange.mexc.book": "debug"})
        assert levels.level_for("strategy.arb") == INFO
        assert levels.level_for("exchange.gateio") == WARNING
        assert levels.level_for("exchange.mexc.book.l2") == DEBUG
        assert levels.level_for("") == INFO

    def test_no_entry_is_no_logger_level(self) -> None:
        """An empty map gives every logger NOTSET: only the backends' levels apply."""
        assert LevelMap().level_for("anything") == NOTSET

    def test_cached_answers_stay_right_past_the_cache_limit(self) -> None:
        """The per-map cache starts again when full and still answers correctly."""
        levels = LevelMap({"a": ERROR})
        for number in range(5000):
            assert levels.level_for(f"a.{number}") == ERROR
            assert levels.level_for(f"b.{number}") == NOTSET


class TestChanges:
    def test_with_level_makes_a_new_map(self) -> None:
        """A change returns a new map; the old one (held by a reader) is unchanged."""
        old = LevelMap({"": INFO})
        new = old.with_level("x", DEBUG)
        assert (old.level_for("x.y"), new.level_for("x.y")) == (INFO, DEBUG)
        assert new.names() == {"": "INFO", "x": "DEBUG"}

    def test_none_removes_a_prefix(self) -> None:
        """``None`` takes a prefix out of the map; its loggers fall back to their parent."""
        levels = LevelMap({"": INFO, "x": DEBUG}).with_level("x", None)
        assert levels.level_for("x.y") == INFO
        assert dict(levels) == {"": INFO}


class TestChecks:
    @pytest.mark.parametrize("prefix", ["a..b", ".a", "a.", "a b", " a", "."])
    def test_a_malformed_prefix_is_refused(self, prefix: str) -> None:
        """Empty parts and blanks are not logger-name prefixes."""
        with pytest.raises(ValueError, match="not a logger-name prefix"):
            check_prefix(prefix)

    @pytest.mark.parametrize("level", ["TRACE", "AUDIT", "METRIC", 15, 0])
    def test_only_logger_levels_are_levels(self, level: int | str) -> None:
        """DEBUG..CRITICAL by name or number; AUDIT, METRIC and made-up levels are refused."""
        with pytest.raises(ValueError, match="level"):
            check_level(level)
