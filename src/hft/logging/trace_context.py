"""The OpenTelemetry span a record is logged in (``logging.trace_context: true``).

With it on, each enabled logging call made while a valid span is active carries that span's
ids in its fields under :data:`~hft.logging.record.TRACE_FIELD` (50 hex digits: trace id,
span id, trace flags), which every renderer takes out into its schema's own keys.

OpenTelemetry keeps its current context in a :class:`contextvars.ContextVar` (the default
``OTEL_PYTHON_CONTEXT=contextvars_context``), holding a ``Context`` (a dict) whose value under
``opentelemetry.trace.propagation._SPAN_KEY`` is the current span. The call site reads that
variable and that key itself (C: ``native/trace.c``; the pure-Python twin:
:func:`span_reader`) and keeps the last span it met with its ids: a call in the same span as
the last costs a variable read, a dict lookup and an identity test; only a new span costs
``get_span_context()``. Another runtime context (``OTEL_PYTHON_CONTEXT`` naming another) is
read through ``opentelemetry.trace.get_current_span()``: slower, the same ids.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, NamedTuple, cast

#: What the setting is called, for the error that says how to get what it needs.
SETTING = "logging.trace_context"
#: A SpanContext is a tuple (trace_id, span_id, is_remote, trace_flags, trace_state, is_valid).
_SPAN_CONTEXT_ITEMS = 6


class TraceSpec(NamedTuple):
    """What a call site needs to read the current span, found once per pipeline.

    ``var`` and ``key`` when OpenTelemetry's context is the contextvars one (``var.get()[key]``
    is the span); else ``var`` is None and ``current()`` gives the span. ``ids_of(span)``: its
    50 hex digits, or None (an invalid span)."""

    var: ContextVar[Any] | None
    key: str
    current: Callable[[], object]
    ids_of: Callable[[object], str | None]


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise RuntimeError(
            f"{SETTING}: true needs opentelemetry-api, which is not installed "
            f"(pip install 'hft[otel]')"
        ) from exc


def load_trace_spec() -> TraceSpec:
    """The spec of this process's OpenTelemetry; RuntimeError naming the setting and the extra
    to install when opentelemetry-api is missing."""
    context, trace = _import("opentelemetry.context"), _import("opentelemetry.trace")
    propagation = _import("opentelemetry.trace.propagation")
    runtime = context._RUNTIME_CONTEXT
    contextvars_runtime = _import("opentelemetry.context.contextvars_context")
    var = getattr(runtime, "_current_context", None)
    if type(runtime) is not contextvars_runtime.ContextVarsRuntimeContext or not isinstance(
        var, ContextVar
    ):
        var = None  # another runtime context: get_current_span() each call
    span_type, context_type = trace.Span, trace.SpanContext
    span_types: set[type] = set()  # the types found to be spans (an ABC's isinstance is slow)

    def ids_of(span: object) -> str | None:
        """The span's 50 hex digits, or None (no span, or an invalid one)."""
        if type(span) not in span_types:
            if not isinstance(span, span_type):
                return None
            span_types.add(type(span))
        try:
            ctx = cast("Any", span).get_span_context()  # a Span: its type was checked once
            if type(ctx) is context_type and len(ctx) == _SPAN_CONTEXT_ITEMS:  # a tuple: fast
                trace_id, span_id, _, flags, _, valid = ctx
            else:
                trace_id, span_id, flags, valid = (
                    ctx.trace_id,
                    ctx.span_id,
                    ctx.trace_flags,
                    ctx.is_valid,
                )
            if not valid:
                return None
            return "%032x%016x%02x" % (trace_id, span_id, flags & 0xFF)  # noqa: UP031 - faster
        except Exception:  # noqa: BLE001 - a broken span must not break the logging call
            return None

    key: str = propagation._SPAN_KEY
    return TraceSpec(var, key, trace.get_current_span, ids_of)


def span_reader(spec: TraceSpec) -> Callable[[], str | None]:
    """``current()``: the current span's ids, or None; what ``native/trace.c`` does, in Python,
    the last span and its ids kept (a span's ids never change)."""
    var, key, current, ids_of = spec
    last: list[Any] = [None, None]  # the last span met, and its ids

    def read() -> str | None:
        span = current() if var is None else var.get().get(key)
        if span is None:
            return None
        if span is not last[0]:
            new: str | None = ids_of(span)
            last[:] = (span, new)  # both at once: freeing the old span may log through here
            return new
        ids: str | None = last[1]
        return ids

    return read
