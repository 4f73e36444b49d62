/* The OpenTelemetry span at the call site (trace.h).
 *
 * OpenTelemetry's current context lives in a ContextVar (its default contextvars runtime): a
 * Context, a dict, whose value under the span key is the current span. A call reads the
 * variable and looks the key up; a span that is the last one met (held, so never another at
 * the same address) gives the ids kept with it, and only a new span calls ids_of (its
 * get_span_context(), in Python). So a call in the same span as the last costs a
 * PyContextVar_Get, a dict lookup and a pointer compare. With another runtime context, var is
 * None and current() (opentelemetry.trace.get_current_span) gives the span.
 */
#include "trace.h"

int
hft_trace_init(TraceReader *r, PyObject *spec)
{
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) != 4) {
        PyErr_SetString(PyExc_TypeError, "trace must be a tuple (var, key, current, ids_of)");
        return -1;
    }
    PyObject *var = PyTuple_GET_ITEM(spec, 0), *key = PyTuple_GET_ITEM(spec, 1);
    PyObject *current = PyTuple_GET_ITEM(spec, 2), *ids_of = PyTuple_GET_ITEM(spec, 3);
    if ((var != Py_None && !PyContextVar_CheckExact(var)) || !PyUnicode_CheckExact(key) ||
        !PyCallable_Check(current) || !PyCallable_Check(ids_of)) {
        PyErr_SetString(PyExc_TypeError,
                        "trace: var a ContextVar or None, key a str, current and ids_of callable");
        return -1;
    }
    r->var = var == Py_None ? NULL : Py_NewRef(var);
    r->key = Py_NewRef(key);
    r->current = Py_NewRef(current);
    r->ids_of = Py_NewRef(ids_of);
    r->span = NULL;
    r->ids = Py_NewRef(Py_None);
    return 0;
}

/* The current span, a new reference; NULL with no error set when there is none. */
static PyObject *
current_span(TraceReader *r)
{
    if (r->var == NULL) {
        return PyObject_CallNoArgs(r->current);
    }
    PyObject *context, *span = NULL;
    if (PyContextVar_Get(r->var, NULL, &context) < 0) {
        return NULL;
    }
    if (context != NULL && PyDict_Check(context)) { /* a Context is a dict */
        span = PyDict_GetItemWithError(context, r->key); /* borrowed */
        Py_XINCREF(span);
    }
    Py_XDECREF(context);
    return span;
}

int
hft_trace_ids(TraceReader *r, PyObject **ids)
{
    PyObject *span = current_span(r), *result;
    if (span == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (span != r->span) { /* a new span: its ids, once */
        PyObject *found = PyObject_CallOneArg(r->ids_of, span);
        if (found == NULL) {
            Py_DECREF(span);
            return -1;
        }
        if (found != Py_None && (!PyUnicode_CheckExact(found) || PyUnicode_GET_LENGTH(found) != 50)) {
            Py_DECREF(found);
            Py_DECREF(span);
            PyErr_SetString(PyExc_TypeError, "trace: ids_of must give 50 hex digits or None");
            return -1;
        }
        /* Both fields are set before the old ones are let go: freeing the old span may run
         * Python code (a __del__, a weakref callback) that logs through this call site, and it
         * must find a span with its own ids. */
        PyObject *old_span = r->span, *old_ids = r->ids;
        r->span = span;
        r->ids = found;
        result = Py_NewRef(found);
        Py_XDECREF(old_span);
        Py_XDECREF(old_ids);
    } else {
        result = Py_NewRef(r->ids);
        Py_DECREF(span); /* r->span holds it too: nothing is freed here */
    }
    if (result == Py_None) {
        Py_DECREF(result);
        return 0;
    }
    *ids = result;
    return 1;
}

int
hft_trace_traverse(TraceReader *r, visitproc visit, void *arg)
{
    Py_VISIT(r->var);
    Py_VISIT(r->key);
    Py_VISIT(r->current);
    Py_VISIT(r->ids_of);
    Py_VISIT(r->span);
    Py_VISIT(r->ids);
    return 0;
}

void
hft_trace_clear(TraceReader *r)
{
    Py_CLEAR(r->var);
    Py_CLEAR(r->key);
    Py_CLEAR(r->current);
    Py_CLEAR(r->ids_of);
    Py_CLEAR(r->span);
    Py_CLEAR(r->ids);
}
