"""Context that follows a task: fields merged into every record logged inside it.

Built on :mod:`contextvars`, as ``structlog.contextvars`` and loguru's ``contextualize`` are:
each thread and each asyncio or anyio task sees its own context, and a task starts with a copy
of its creator's (what ``asyncio.create_task`` and anyio's task groups do with every context
variable). A ``with context(order_id=1):`` inside a coroutine is therefore the task's alone.

The variable holds an immutable :class:`ContextFrame`: the merged fields, made once when the
context is entered, and a cache the call sites fill, one entry per call site that logged inside
it (the logger's source with the frame merged under its bound context, and its lane id; see
``pipeline/callsites.py``). The frame dies with the last task or block that holds it, and its
cache with it. Precedence, as in structlog: a call's fields win over the logger's bound
context, which wins over the task context.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType, TracebackType
from typing import Any, Final, NamedTuple


class ContextFrame(NamedTuple):
    """What the context variable holds: the task's fields, and the call sites' cache."""

    #: The merged fields (read-only: a frame never changes once made).
    fields: Mapping[str, Any]
    #: Call site -> ``(source, lane id, lease)``, filled by the call sites (C reads item 1).
    cache: dict[object, tuple[Any, int, object]]


#: The one variable: a frame, or None (no context). The C call site reads it each call.
CONTEXT: Final[ContextVar[ContextFrame | None]] = ContextVar("hft_logging_context", default=None)

ContextToken = Token[ContextFrame | None]


def _frame(fields: Mapping[str, Any]) -> ContextFrame | None:
    """A new frame of *fields* (None for none: the call sites then skip the lookup)."""
    return ContextFrame(MappingProxyType(dict(fields)), {}) if fields else None


def get_context() -> dict[str, Any]:
    """The fields of the current task's context (a copy)."""
    frame = CONTEXT.get()
    return {} if frame is None else dict(frame.fields)


def bind_context(**fields: Any) -> ContextToken:
    """Add *fields* to the current context (new values win); the token restores it
    (:func:`reset_context`). Like ``structlog.contextvars.bind_contextvars``."""
    return CONTEXT.set(_frame({**get_context(), **fields}))


def unbind_context(*names: str) -> ContextToken:
    """Remove *names* from the current context (absent names are ignored)."""
    kept = {k: v for k, v in get_context().items() if k not in names}
    return CONTEXT.set(_frame(kept))


def clear_context() -> ContextToken:
    """Empty the current context (in this task or thread only)."""
    return CONTEXT.set(None)


def reset_context(token: ContextToken) -> None:
    """Restore the context as it was before the call that returned *token*."""
    CONTEXT.reset(token)


class context:  # noqa: N801 - used like a function, as contextlib's suppress or loguru's contextualize
    """``with context(order_id=1, strategy="mm"):`` the fields are in every record logged
    inside the block, by any logger, across ``await``, and in the tasks started inside it.

    On exit the context is what it was before, whatever the block bound or cleared. A plain
    ``with`` is enough inside a coroutine: the context is the task's own. One instance may be
    entered again once it has been exited, or nested in itself.
    """

    __slots__ = ("_fields", "_tokens")

    def __init__(self, **fields: Any) -> None:
        self._fields = fields
        self._tokens: list[ContextToken] = []

    def __enter__(self) -> dict[str, Any]:
        self._tokens.append(bind_context(**self._fields))
        return get_context()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        CONTEXT.reset(self._tokens.pop())

    def __repr__(self) -> str:
        return f"context({', '.join(f'{k}={v!r}' for k, v in self._fields.items())})"
