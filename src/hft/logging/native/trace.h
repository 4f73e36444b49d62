/* The OpenTelemetry span at the call site (trace.c): what an Emitter given trace= reads at each
 * call (hft.logging.trace_context). */
#ifndef HFT_TRACE_H
#define HFT_TRACE_H

#include "compat.h"

/* A call site's reading of the current span, and the last span it met with its ids. */
typedef struct {
    PyObject *var;     /* OpenTelemetry's ContextVar of Contexts (NULL: call current) */
    PyObject *key;     /* the Context's key of the current span */
    PyObject *current; /* current() -> the span, where var is NULL */
    PyObject *ids_of;  /* ids_of(span) -> 50 hex digits (str), or None */
    PyObject *span;    /* the last span met (held: its address is not reused), or NULL */
    PyObject *ids;     /* its ids (a str, or None) */
} TraceReader;

/* Set r from a TraceSpec tuple (var or None, key, current, ids_of); -1 with a TypeError. */
int hft_trace_init(TraceReader *r, PyObject *spec);

/* The current span's ids: 1 (*ids: a new reference to the str), 0 none, -1 error. */
int hft_trace_ids(TraceReader *r, PyObject **ids);

int hft_trace_traverse(TraceReader *r, visitproc visit, void *arg);
void hft_trace_clear(TraceReader *r);

#endif /* HFT_TRACE_H */
