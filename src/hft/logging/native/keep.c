/* A backtrace's keeping call site (keep.h): what Emitter(..., keep=True) does when called. */
#include "keep.h"
#include "context.h"
#include "emitter.h"
#include "plain.h"

/* kwnames with `field` after them: a new tuple. */
static PyObject *
traced_names(PyObject *kwnames, Py_ssize_t nkw, PyObject *field)
{
    PyObject *names = PyTuple_New(nkw + 1);
    for (Py_ssize_t i = 0; names != NULL && i < nkw; i++) {
        PyTuple_SET_ITEM(names, i, Py_NewRef(PyTuple_GET_ITEM(kwnames, i)));
    }
    if (names != NULL) {
        PyTuple_SET_ITEM(names, nkw, Py_NewRef(field));
    }
    return names;
}

/* The call of a backtrace's keeping call site (keep=True): its record into the ring, with its
 * fields as two tuples, (seq, ts, level, source, msg, values, names): no dict is made, and
 * none freed when the ring drops it, unless it is written (hft.logging.pipeline.backtrace).
 * No room check (the ring's maxlen drops the oldest), no lane, no wake. Inside a task context
 * (context=, derive=) the record takes the source its frame made for this site, as emit's.
 * A traced site (trace=) adds the current span's ids as a last name TRACE_FIELD and value. */
static PyObject *
keep(Emitter *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    if (self->ring == NULL || PyVectorcall_NARGS(nargsf) != 1) {
        return hft_emit(self, args, nargsf, kwnames); /* it counts the call and raises */
    }
    (*self->calls_n)++;
    PyObject *entry = NULL; /* (source, -1, None): a keeping site's derive leases no lane id */
    int found = self->context == NULL ? 0
                                      : hft_context_entry(self->context, (PyObject *)self,
                                                          self->derive, &entry);
    if (found < 0) {
        return NULL;
    }
    PyObject *source = found ? PyTuple_GET_ITEM(entry, 0) : self->source;
    PyObject *ids = NULL;
    if (hft_emitter_trace(self, &ids) < 0) {
        Py_XDECREF(entry);
        return NULL;
    }
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    PyObject *names = ids != NULL    ? traced_names(kwnames, nkw, self->trace_field)
                      : kwnames == NULL ? PyTuple_New(0)
                                        : Py_NewRef(kwnames);
    PyObject *values = names == NULL ? NULL : PyTuple_New(nkw + (ids != NULL));
    if (values != NULL && ids != NULL) {
        PyTuple_SET_ITEM(values, nkw, Py_NewRef(ids));
    }
    Py_XDECREF(ids); /* values holds it */
    int untrack = values != NULL && plain(args[0]) && plain(names) && plain_source(source);
    for (Py_ssize_t i = 0; values != NULL && i < nkw; i++) {
        PyObject *value = args[1 + i];
        if (self->exc && value == Py_True &&
            PyUnicode_Compare(PyTuple_GET_ITEM(names, i), self->exc_info_key) == 0) {
            value = hft_exc_info_now(); /* NULL: an error, said below */
            untrack = 0;
        } else {
            Py_INCREF(value);
            untrack = untrack && plain(value);
        }
        PyTuple_SET_ITEM(values, i, value);
        if (value == NULL) {
            Py_CLEAR(values);
        }
    }
    PyObject *seq = values == NULL ? NULL
                    : self->counter != NULL ? PyLong_FromLongLong((*self->counter)++)
                                            : PyObject_CallNoArgs(self->next_seq);
    PyObject *ts = seq == NULL ? NULL : hft_now_ns();
    PyObject *record = ts == NULL ? NULL : PyTuple_New(7);
    if (record == NULL) {
        Py_XDECREF(names);
        Py_XDECREF(values);
        Py_XDECREF(seq);
        Py_XDECREF(ts);
        Py_XDECREF(entry);
        return NULL;
    }
    PyObject *items[7] = {seq, ts, Py_NewRef(self->level), Py_NewRef(source),
                          Py_NewRef(args[0]), values, names};
    for (Py_ssize_t i = 0; i < 7; i++) {
        PyTuple_SET_ITEM(record, i, items[i]);
    }
    if (untrack) { /* nothing either holds can lead back to it */
        PyObject_GC_UnTrack(values);
        PyObject_GC_UnTrack(record);
    }
    Py_XDECREF(entry); /* the record holds the source */
    PyObject *result = PyObject_CallOneArg(self->append, record);
    Py_DECREF(record);
    return result;
}

PyObject *
hft_keep_call(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Emitter *self = (Emitter *)op;
    if (!self->sample) {
        return keep(self, args, nargsf, kwnames);
    }
    return hft_timed_call(self, keep, args, nargsf, kwnames);
}
