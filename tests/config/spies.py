"""How often settings are validated: the counts behind "validated once, at the entry point"."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

import hft.config._loader
import hft.config._validation
import hft.logging.backends.registry
from hft.config import LoggingSettings, Settings


def count_validations(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts, from this call on, of each validation of settings.

    ``logging`` / ``settings``: a :class:`LoggingSettings` / :class:`Settings` validated from
    data; ``rules``: the HFT rules run over a ``LoggingSettings`` (every validation ends with
    them, a model's included); ``section``: one backend's section validated.
    """
    counts: Counter[str] = Counter()

    def counted(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def spy(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return function(*args, **kwargs)

        return spy

    monkeypatch.setattr(
        LoggingSettings, "model_validate", counted("logging", LoggingSettings.model_validate)
    )
    monkeypatch.setattr(Settings, "model_validate", counted("settings", Settings.model_validate))
    rules = counted("rules", hft.config._validation.check_rules)
    monkeypatch.setattr(hft.config._validation, "check_rules", rules)
    monkeypatch.setattr(hft.config._loader, "check_rules", rules)
    section = counted("section", hft.config._validation.section_settings)
    monkeypatch.setattr(hft.logging.backends.registry, "section_settings", section)
    return counts
