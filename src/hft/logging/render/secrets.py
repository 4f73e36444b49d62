"""Secrets by value: what a redacted field held, and the settings' secrets, masked in text.

Redaction by name (:class:`~hft.logging.render.redact.Redactor`) masks a field's value; the
same value may also sit in the record's message or in an exception's text. The Preparer hands
:meth:`SecretMask.mask` the values it redacted, and the mask replaces them there. The settings'
secrets (``SecretStr`` values: exchange API keys…) are known from the start and masked in
every log and audit record: message, field values at any depth and exception text.

A value shorter than :data:`MIN_SECRET_CHARS` is never searched: masking every ``"1"`` or
``"abc"`` would blank the log without protecting anything.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from hft.logging.render.lines import REDACTED

#: Values shorter than this are not searched for in text.
MIN_SECRET_CHARS: Final = 4
_MAX_DEPTH: Final = 8  #: how deep a redacted value's leaves are collected
_MAX_HIDDEN: Final = 64  #: how many leaves of one record's redacted values are collected
_TEXT: Final = ("message", "traceback")  #: the text of a structured exception
_FLAT: Final = frozenset({str, int, float, bool, type(None)})


def _as_text(value: object) -> str | None:
    """A secret given as a ``str`` or as something with ``get_secret_value`` (``SecretStr``)."""
    reveal = getattr(value, "get_secret_value", None)
    text = reveal() if reveal is not None else value
    return text if isinstance(text, str) else None


def known_secrets(values: Iterable[object]) -> tuple[str, ...]:
    """The searchable secrets among *values*: long enough, no NUL, each once, longest first."""
    texts = {t for t in map(_as_text, values) if t and len(t) >= MIN_SECRET_CHARS}
    return tuple(sorted((t for t in texts if "\0" not in t), key=lambda t: (-len(t), t)))


def settings_secrets(*trees: Any) -> tuple[str, ...]:
    """Every ``SecretStr`` value in settings *trees* (models, dicts, lists), as plain text."""
    return known_secrets(_walk_secrets(trees, 0))


def _walk_secrets(tree: Any, depth: int) -> Iterator[object]:
    if depth > 16:
        return
    if hasattr(tree, "get_secret_value"):
        yield tree
    elif not isinstance(tree, type) and hasattr(type(tree), "model_fields"):  # a model
        yield from _walk_secrets([getattr(tree, name) for name in type(tree).model_fields], depth)
    elif isinstance(tree, Mapping):
        yield from _walk_secrets(list(tree.values()), depth + 1)
    elif isinstance(tree, list | tuple):
        for item in tree:
            yield from _walk_secrets(item, depth + 1)


def hidden_texts(values: list[Any]) -> list[str]:
    """What redacted fields held, as the text it would appear as (strings and numbers only),
    long enough to search for, longest first."""
    leaves: list[str] = []
    _leaves(values, 0, leaves)
    found = [t for t in leaves if len(t) >= MIN_SECRET_CHARS]
    if len(found) > 1:
        found.sort(key=len, reverse=True)
    return found


def _leaves(value: Any, depth: int, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(value)
    elif kind is int or kind is float:
        out.append(repr(value))
    elif depth < _MAX_DEPTH and kind in (dict, list, tuple):
        for item in value.values() if kind is dict else value:
            if len(out) >= _MAX_HIDDEN:
                return
            _leaves(item, depth + 1, out)


def holds_secret(texts: Iterable[Any], secrets: tuple[str, ...]) -> bool:
    """True when one of *secrets* (none holding a NUL) is in an exact ``str`` among *texts*.

    C-level passes only: one join, then one search per secret.
    """
    values = list(texts)
    strings = itertools.compress(
        values, map(operator.is_, map(type, values), itertools.repeat(str))
    )
    joined = "\0".join(strings)  # no secret holds a NUL: no false match across a joint
    return any(map(joined.__contains__, secrets))


class SecretMask:
    """Masks the settings' secrets and a record's redacted values in its text."""

    __slots__ = ("_pattern", "secrets")

    def __init__(self, secrets: Iterable[object] = ()) -> None:
        #: The settings' secrets, longest first (what the C scan searches for).
        self.secrets: tuple[str, ...] = known_secrets(secrets)
        self._pattern = re.compile("|".join(map(re.escape, self.secrets))) if self.secrets else None

    def any_in(self, texts: Iterable[Any]) -> bool:
        """True when a settings secret is in one of the exact ``str`` among *texts*."""
        return holds_secret(texts, self.secrets)

    def mask(
        self, msg: Any, fields: dict[str, Any], hidden: list[Any], *, search: bool = True
    ) -> tuple[Any, Any]:
        """*msg* and *fields* with secrets masked (the same objects where nothing changed).

        *hidden* are the values of this record's redacted fields: masked in the message and the
        exception's text. With *search* the settings' secrets are masked there and in every
        field value; without, the caller knows that the record's text holds none of them.
        """
        values = hidden_texts(hidden) if hidden else []
        pattern = self._pattern if search else None
        if not values and pattern is None:
            return msg, fields
        if type(msg) is str:
            msg = _masked(msg, pattern, values)
        exc = fields.get("exc_info")
        if isinstance(exc, dict):
            masked = {k: _masked(v, pattern, values) if k in _TEXT else v for k, v in exc.items()}
            if any(masked[k] is not exc[k] for k in _TEXT if k in exc):
                fields = {**fields, "exc_info": masked}
        if pattern is not None and self._may_hold(fields):
            fields = self._deep(fields, 0)
        return msg, fields

    def _may_hold(self, fields: dict[str, Any]) -> bool:
        """A secret may be in *fields*: a top-level string holds one, or a container (not
        searched here) might."""
        values = fields.values()
        if not _FLAT.issuperset(map(type, values)):
            return True
        return holds_secret(values, self.secrets)

    def _deep(self, value: Any, depth: int) -> Any:
        """*value* with the settings' secrets masked in every string (keys left as they are)."""
        kind = type(value)
        if kind is str:
            assert self._pattern is not None
            return self._pattern.sub(REDACTED, value)
        if depth > _MAX_DEPTH * 4 or kind not in (dict, list, tuple):
            return value
        if kind is dict:
            changed = {k: self._deep(v, depth + 1) for k, v in value.items()}
            return value if all(changed[k] is v for k, v in value.items()) else changed
        items = [self._deep(v, depth + 1) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items if kind is list else tuple(items)


def _masked(text: Any, pattern: re.Pattern[str] | None, values: list[str]) -> Any:
    """*text* with the settings' secrets (*pattern*) and *values* replaced by the mask."""
    if type(text) is not str:
        return text
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text
