"""The dispatcher's first step: sort a slice by kind and finish each log record.

Finishing means merging the logger's bound context under the call's fields, masking sensitive
fields (and their values, and the settings' secrets, in the record's text), turning captured
exceptions into structured data and rendering any value that is not a plain ``str``, ``int``,
``float``, ``bool`` or ``None`` (or a dict, list or tuple of them) to its text, once: every
backend then sees the same, safe, plain record, and a slow ``__repr__`` runs once per record,
not once per backend. Records that need none of it pass through untouched (no copy).
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Mapping
from itertools import chain
from operator import itemgetter
from types import TracebackType
from typing import Any, Final

from hft.logging.levels import AUDIT, BACKTRACE, DEBUG, METRIC
from hft.logging.native import scan as _c_scan
from hft.logging.record import BacktraceRecords, Record, kept_record
from hft.logging.render.lines import safe_repr, safe_str, sanitize, truncate
from hft.logging.render.redact import Redactor
from hft.logging.render.secrets import SecretMask, hidden_texts, holds_secret

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
_seq_of, _level_of, _source_of, _fields_of = (itemgetter(i) for i in (0, 2, 3, 5))
_msg_of = itemgetter(4)
_context_of = itemgetter(2)  # Source.context
_values = dict.values
#: Values every backend renders without running a caller's code (exact types only).
SCALARS: Final = frozenset({str, int, float, bool, type(None)})
_TREES: Final = SCALARS | {dict, list, tuple}
_STR_ONLY: Final = frozenset({str})
_DICT_ONLY: Final = frozenset({dict})
#: Nodes looked at to decide that a dict, list or tuple is plain; a bigger one is rendered.
_TREE_BUDGET: Final = 10_000


class Preparer:
    """Looks at a slice, and splits one that needs it into logs, metrics and flush markers."""

    def __init__(
        self, redact_fields: Iterable[str], max_field_chars: int, secrets: Iterable[object] = ()
    ) -> None:
        self._redact = Redactor(redact_fields)
        self._limit = max_field_chars
        self._secrets = SecretMask(secrets)
        self._masking = bool(self._secrets.secrets)

    @property
    def harmless(self) -> set[object]:
        """Field names the redactor has passed (it adds to this set as it learns)."""
        return self._redact.harmless

    @property
    def limit(self) -> int:
        """``max_field_chars``: longer rendered values are truncated."""
        return self._limit

    def learn(self, name: object) -> bool:
        """Whether a field *name* holding a scalar is harmless (see :meth:`Redactor.learn`)."""
        return self._redact.learn(name)

    @property
    def secret_texts(self) -> tuple[str, ...]:
        """The settings' secrets, as searched for in a record's text."""
        return self._secrets.secrets

    def scan(self, batch: list[Record]) -> tuple[int, int, int, bool, bool]:
        """``(newest seq, lowest level, highest level, plain, hit)`` of a non-empty *batch*.

        Hit: a settings secret is in a log record's message, field values or bound context.
        Plain is the common slice: no hit, only log records with a ``str`` message, no bound
        context, only field names known to be harmless holding scalars (:data:`SCALARS`); such
        a slice goes to the backends as it is. One pass in C when ``hft.logging.native``
        was built, else C-level ``map`` passes.
        """
        harmless, secrets = self._redact.harmless, self._secrets.secrets
        if _c_scan is not None:
            facts = _c_scan(batch, harmless, DEBUG, secrets)
            if facts is not None:
                return facts
        return scan_py(batch, harmless, secrets)

    def sort(
        self, batch: list[Record], hit: bool
    ) -> tuple[list[Record], list[Record], list[Record]]:
        """Split a batch that is not plain into ``(logs, metrics, markers)``, logs finished.

        *hit* (from :meth:`scan`): the slice holds a settings secret, so records are searched.
        """
        logs: list[Record] = []
        metrics: list[Record] = []
        markers: list[Record] = []
        harmless = self._redact.harmless  # the fast test, inlined: one C-level set check
        for record in batch:
            if record[2] < DEBUG:
                if record[2] == METRIC:
                    metrics.append(self._metric(record))
                elif record[2] == BACKTRACE:  # kept records and their trigger: one item
                    logs.append(self._backtrace(record))
                else:
                    markers.append(record)
            elif (
                record[3].context
                or type(record[4]) is not str
                or not harmless.issuperset(record[5])
                or not SCALARS.issuperset(map(type, record[5].values()))
                or (hit and holds_secret(_texts((record,)), self._secrets.secrets))
            ):
                logs.append(self._finish(record, hit))
            else:  # the common case: nothing to merge, mask, render or convert
                logs.append(record)
        return logs, metrics, markers

    def context(self, context: Mapping[str, Any]) -> dict[str, Any] | None:
        """A logger's bound *context* as :meth:`_finish` merges it into each of its records:
        sensitive names masked, the settings' secrets masked in its values, once.

        None when that cannot be done once for all its records: a value redacted by name that
        is long enough to be searched for in each record's message, an ``exc_info``, a name
        that is not a ``str``, a mapping that is not a dict, or a value that is not plain
        (:func:`render_values` would then render the whole merged dict, the call's fields
        too: a long string truncated, ``nan`` written as ``"nan"``).
        """
        if type(context) is not dict or not _STR_ONLY.issuperset(map(type, context)):
            return None
        hidden: list[Any] = []
        finished = self._redact.mask(context, hidden)
        if hidden_texts(hidden) or not Redactor.SPECIAL.isdisjoint(context):
            return None
        if not all(map(_plain, finished.values())):
            return None
        if self._masking:
            _, finished = self._secrets.mask("", finished, [], search=True)
        return dict(finished)

    def _backtrace(self, record: Record) -> Record:
        """A backtrace's records finished as any record is, the kept ones (as kept: seven
        items) made records and marked first; the scan did not search them for secrets, so
        each is searched. Still one :class:`BacktraceRecords` at its level."""
        bundle, finish = record[5], self._finish
        records = [finish(kept_record(r) if len(r) == 7 else r, True) for r in bundle]
        return (*record[:5], BacktraceRecords(records, bundle.level))

    def _metric(self, record: Record) -> Record:
        """Metric tags are masked like fields (a tag called ``token`` must not leak)."""
        sample = record[5]
        tags = sample.get("tags") if isinstance(sample, dict) else None
        if not tags or not isinstance(tags, dict):
            return record
        masked = self._redact(tags)
        return record if masked is tags else (*record[:5], {**sample, "tags": masked})

    def _finish(self, record: Record, hit: bool) -> Record:
        """Merge, redact, structure, render; mask text when *hit* (the slice's text holds a
        settings secret), or where the scan did not search (containers, exceptions, a context
        that is not a dict)."""
        fields, context = record[5], record[3].context
        hidden: list[Any] = []
        finished = self._redact.mask({**context, **fields} if context else fields, hidden)
        deep = "exc_info" in finished
        if deep:
            finished = self._exception(finished)
        if not SCALARS.issuperset(map(type, finished.values())):
            finished, deep = render_values(finished, self._limit), True
        search = self._masking and (hit or deep or type(context) is not dict)
        if search or hidden or type(record[4]) is not str:
            return self._text(record, finished, hidden, search)
        return record if finished is fields else (*record[:5], finished)

    def _text(
        self, record: Record, fields: dict[str, Any], hidden: list[Any], search: bool
    ) -> Record:
        """A message that is not a string rendered once; secrets masked in the text."""
        msg = record[4]
        text = msg if type(msg) is str else safe_repr(msg, self._limit)
        text, fields = self._secrets.mask(text, fields, hidden, search=search)
        return record if fields is record[5] and text is msg else (*record[:4], text, fields)

    def _exception(self, fields: dict[str, Any]) -> dict[str, Any]:
        fields = dict(fields)
        fields["exc_info"] = structured_exception(fields["exc_info"], self._limit)
        return fields


def level_bounds(records: list[Record]) -> tuple[int, int]:
    """The lowest and highest level in *records*; (AUDIT, 0) for none, which routes nothing."""
    levels = set(map(_level_of, records))
    return (min(levels), max(levels)) if levels else (AUDIT, 0)


def scan_py(
    batch: list[Record], harmless: set[object], secrets: tuple[str, ...] = ()
) -> tuple[int, int, int, bool, bool]:
    """:meth:`Preparer.scan` in Python: one C-level ``map`` pass per fact."""
    levels = set(map(_level_of, batch))
    lowest = min(levels)
    hit = bool(secrets) and holds_secret(_texts(batch, contexts=True), secrets)
    plain = (
        not hit
        and lowest >= DEBUG
        and not any(map(_context_of, map(_source_of, batch)))
        and _STR_ONLY.issuperset(map(type, map(_msg_of, batch)))
        and _DICT_ONLY.issuperset(map(type, map(_fields_of, batch)))
        and all(map(harmless.issuperset, map(_fields_of, batch)))
        and SCALARS.issuperset(map(type, chain.from_iterable(map(_values, map(_fields_of, batch)))))
    )
    return max(map(_seq_of, batch)), lowest, max(levels), plain, hit


def _texts(batch: Iterable[Record], *, contexts: bool = False) -> chain[Any]:
    """The messages and field values (and bound-context values: dicts only) of the log records
    whose fields are a dict: where :func:`scan_py` and the C scan look for secrets."""
    logs = [r for r in batch if r[2] >= DEBUG and type(r[5]) is dict]
    texts = chain(map(_msg_of, logs), chain.from_iterable(map(_values, map(_fields_of, logs))))
    if not contexts:
        return texts
    bound = [c for c in map(_context_of, map(_source_of, logs)) if type(c) is dict]
    return chain(texts, chain.from_iterable(map(_values, bound)))


def render_values(fields: dict[str, Any], limit: int) -> dict[str, Any]:
    """*fields* as plain data, rendered once for every backend.

    Fields whose values are all plain (a :data:`SCALARS` value, or a dict with ``str`` keys,
    list or tuple of plain values) are returned as they are. Otherwise the whole dict takes
    :func:`~hft.logging.render.lines.sanitize`, as the JSON renderer's careful path would: JSON's
    own form for enums, dataclasses, dates and UUIDs, ``repr`` (truncated) for the rest.
    """
    if all(map(_plain, fields.values())):
        return fields
    return sanitize(fields, limit)  # type: ignore[no-any-return]


def _plain(value: Any) -> bool:
    """True for a scalar, or a dict/list/tuple whose every node is plain (up to a budget)."""
    stack, budget = [value], _TREE_BUDGET
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind in SCALARS:
            continue
        if kind is dict:
            if not _STR_ONLY.issuperset(map(type, node)):
                return False
            items = list(node.values())
        elif kind is list or kind is tuple:
            items = list(node)
        else:
            return False
        budget -= len(items)
        kinds = set(map(type, items))
        if budget < 0 or not _TREES.issuperset(kinds):
            return False
        if not SCALARS.issuperset(kinds):
            stack.extend(item for item in items if type(item) not in SCALARS)
    return True


def structured_exception(exc_info: Any, limit: int) -> Any:
    """Turn an exception (or ``sys.exc_info()`` tuple) into a JSON-friendly dict."""
    exc: BaseException | None = None
    if isinstance(exc_info, BaseException):
        exc = exc_info
    elif isinstance(exc_info, tuple) and len(exc_info) == 3:
        exc = exc_info[1]
    if exc is None:
        return exc_info if exc_info in (True, False, None) else safe_repr(exc_info, limit)
    frames = traceback.extract_tb(exc.__traceback__)
    return {
        "type": type(exc).__qualname__,
        "message": safe_str(exc, limit),
        "frames": [{"file": f.filename, "line": f.lineno, "function": f.name} for f in frames],
        "traceback": truncate("".join(traceback.format_exception(exc)), limit * 4),
    }
