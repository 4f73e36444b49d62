"""Redaction by field name: the values of sensitive fields masked, at any depth.

The dispatcher runs a :class:`Redactor` on every record that needs one (see
:mod:`hft.logging.pipeline.prepare`); a masked value is kept so that
:mod:`hft.logging.render.secrets` can mask it in text too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from hft.logging.render.lines import REDACTED, safe_repr

#: The same list as ``hft_settings.redact_fields`` in settings/base.yaml.
DEFAULT_REDACT_FIELDS: Final = (
    "api_key", "secret", "passphrase", "token", "signature", "password",
    "authorization", "private_key", "cookie", "credentials",
)  # fmt: skip
_MAX_DEPTH: Final = 32


class Redactor:
    """Replaces the values of sensitive fields, at any depth of dicts, lists and tuples.

    A name matches when a pattern is a substring of it once both are lower-cased and stripped
    of ``_`` and ``-``: ``api_key`` catches ``apiKey``, ``API-KEY`` and ``X-MEXC-APIKEY``.
    Field names already seen holding a plain value are remembered as harmless (up to a
    bound, so hostile input cannot grow the memo without limit); a record whose names are all
    harmless costs one C-level set test. A name first seen holding a dict, list or tuple is
    never remembered, so its values are always searched. (A name that held a plain value
    first and a container later is not searched: keep a field's kind stable.)
    """

    __slots__ = ("_patterns", "_verdicts", "harmless")
    _MEMO_LIMIT = 10_000
    #: Never remembered as harmless, so a record carrying it always takes the careful path.
    SPECIAL: Final = frozenset({"exc_info"})

    def __init__(self, patterns: Iterable[str]) -> None:
        self._patterns = tuple(filter(None, map(_normalise, patterns)))
        #: Field names known to need nothing; ``issuperset`` on it is the fast-path test.
        self.harmless: set[object] = set()
        self._verdicts: dict[str, bool] = {}  #: names seen, sensitive or not (bounded)

    def is_plain(self, fields: Mapping[str, Any]) -> bool:
        """True when *fields* needs no masking (the common case, tested fast)."""
        return self.harmless.issuperset(fields)

    def is_sensitive(self, name: object) -> bool:
        """True when the field *name* matches a pattern (the verdict on a ``str`` remembered)."""
        if type(name) is not str:
            return self._matches(name if isinstance(name, str) else safe_repr(name, 256))
        verdict = self._verdicts.get(name)
        if verdict is None:
            verdict = self._matches(name)
            if len(self._verdicts) < self._MEMO_LIMIT:
                self._verdicts[name] = verdict
        return verdict

    def _matches(self, name: str) -> bool:
        normal = _normalise(name)
        return any(p in normal for p in self._patterns)

    def learn(self, name: object) -> bool:
        """Whether the field *name*, holding a scalar, needs no masking; remembered when so.
        (The byte lane asks this of a name it has not met, so that it takes the record.)"""
        if type(name) is not str or name in self.SPECIAL or self.is_sensitive(name):
            return False
        if len(self.harmless) >= self._MEMO_LIMIT:
            return False
        self.harmless.add(name)
        return True

    def __call__(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Return *fields* with sensitive values masked (the same dict when none are)."""
        return self.mask(fields, [])

    def mask(self, fields: dict[str, Any], hidden: list[Any]) -> dict[str, Any]:
        """:meth:`__call__`, appending each masked value to *hidden* (to mask it in text)."""
        if not self._patterns or self.is_plain(fields):
            return fields
        masked = self._mask(fields, 0, hidden)
        if masked is fields and len(self.harmless) < self._MEMO_LIMIT:
            self.harmless.update(
                k for k, v in fields.items() if k not in self.SPECIAL and type(v) not in _CONTAINERS
            )
        return masked  # type: ignore[no-any-return]

    def _mask(self, value: Any, depth: int, hidden: list[Any]) -> Any:
        """*value* with sensitive entries masked; the same object when nothing changed."""
        if depth > _MAX_DEPTH:
            return value
        if isinstance(value, dict):
            changed = {
                k: _hide(v, hidden)
                if self.is_sensitive(k)
                else v
                if type(v) in _LEAVES
                else self._mask(v, depth + 1, hidden)
                for k, v in value.items()
            }
            same = all(changed[k] is v for k, v in value.items())
            return value if same else changed
        if isinstance(value, list | tuple):
            items = [self._mask(v, depth + 1, hidden) for v in value]
            if all(a is b for a, b in zip(items, value, strict=True)):
                return value
            return type(value)(items) if isinstance(value, list) else tuple(items)
        return value


def _hide(value: Any, hidden: list[Any]) -> str:
    """A sensitive value's mask; the value is kept in *hidden*, to be masked in text too."""
    hidden.append(value)
    return REDACTED


def _normalise(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


_CONTAINERS: Final = frozenset({dict, list, tuple})
#: Values with nothing inside to mask (the common field values, tested by exact type).
_LEAVES: Final = frozenset({str, int, float, bool, type(None)})
