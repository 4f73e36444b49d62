/* The task context at the call site (context.h).
 *
 * hft.logging.task_context keeps one ContextVar; it holds None or a ContextFrame, a tuple
 * (fields, cache). Each logging call that was given the variable reads it: unset, the call
 * costs a PyContextVar_Get and goes on as before. Set, the call site looks itself up in the
 * frame's cache (one dict lookup) for its entry (source, lane id, lease): its logger's source
 * with the frame's fields merged under the bound context, and that source's id on the lane (-1:
 * the classic path). The first call of a call site in a frame makes the entry (derive, in
 * Python: pipeline/callsites.py), so a frame costs its first call at each call site a few
 * microseconds, and every later call one lookup. The cache dies with the frame.
 */
#include "context.h"

/* entry is a tuple (source, int, ...): what the call site reads without checking again. */
static int
entry_ok(PyObject *entry)
{
    if (PyTuple_Check(entry) && PyTuple_GET_SIZE(entry) >= 2 &&
        PyLong_Check(PyTuple_GET_ITEM(entry, 1))) {
        return 1;
    }
    PyErr_SetString(PyExc_TypeError, "a context entry must be a tuple (source, lane id, ...)");
    return 0;
}

/* The entry of `key` made by derive(frame), kept in `cache`: a new reference, or NULL. */
static PyObject *
derive_entry(PyObject *frame, PyObject *cache, PyObject *key, PyObject *derive)
{
    PyObject *entry = PyObject_CallOneArg(derive, frame);
    if (entry == NULL) {
        return NULL;
    }
    if (!entry_ok(entry) || PyDict_SetItem(cache, key, entry) < 0) {
        Py_DECREF(entry);
        return NULL;
    }
    return entry;
}

int
hft_context_entry(PyObject *var, PyObject *key, PyObject *derive, PyObject **entry)
{
    PyObject *frame;
    if (PyContextVar_Get(var, NULL, &frame) < 0) {
        return -1;
    }
    if (frame == NULL || frame == Py_None) {
        Py_XDECREF(frame);
        return 0;
    }
    PyObject *cache = PyTuple_Check(frame) && PyTuple_GET_SIZE(frame) >= 2
                          ? PyTuple_GET_ITEM(frame, 1)
                          : NULL;
    if (cache == NULL || !PyDict_CheckExact(cache)) {
        Py_DECREF(frame);
        PyErr_SetString(PyExc_TypeError, "the logging context holds something not a ContextFrame");
        return -1;
    }
    PyObject *found = PyDict_GetItemWithError(cache, key); /* borrowed */
    if (found != NULL) {
        *entry = Py_NewRef(found);
    } else {
        *entry = PyErr_Occurred() ? NULL : derive_entry(frame, cache, key, derive);
    }
    Py_DECREF(frame);
    return *entry == NULL ? -1 : 1;
}
