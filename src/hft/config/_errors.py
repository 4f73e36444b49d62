"""The one exception settings problems raise."""

from __future__ import annotations

from collections.abc import Iterable


class ConfigError(ValueError):
    """Invalid settings. ``problems`` holds one line per problem, each naming its source and key.

    A subclass of :class:`ValueError`, so code written to catch ``ValueError`` still
    catches it.
    """

    def __init__(self, problems: str | Iterable[str]) -> None:
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        super().__init__("\n".join(self.problems))
