/* The parts of a JSON line that both renderers write (see line.h): the rendered second, and
 * the renderers' arguments they share. */
#include "line.h"
#include <limits.h>
#include <time.h>

int
hft_stamp_set(Stamp *s, long long ts)
{
    if (ts < LLONG_MIN + NS_PER_S) {
        return 1; /* its second's start would not fit in an int64 */
    }
    long long second = ts / NS_PER_S;
    if (ts % NS_PER_S < 0) {
        second -= 1; /* floor division, as Python's // */
    }
    time_t t = (time_t)second;
    if ((long long)t != second) {
        return 1;
    }
    struct tm tm;
#ifdef _WIN32
    if (gmtime_s(&tm, &t) != 0) {
        return 1;
    }
#else
    if (gmtime_r(&t, &tm) == NULL) {
        return 1;
    }
#endif
    size_t n = strftime(s->prefix, sizeof(s->prefix), "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0) {
        return 1;
    }
    s->prefix_len = (Py_ssize_t)n;
    s->start = second * NS_PER_S;
    s->valid = 1;
    return 0;
}

int
hft_stamp_load(Stamp *s, PyObject *state)
{
    s->valid = 0;
    if (PyList_GET_SIZE(state) != 2) {
        return 0;
    }
    PyObject *start = PyList_GET_ITEM(state, 0);
    PyObject *prefix = PyList_GET_ITEM(state, 1);
    if (!PyLong_CheckExact(start) || !PyBytes_CheckExact(prefix) ||
        PyBytes_GET_SIZE(prefix) >= (Py_ssize_t)sizeof(s->prefix)) {
        return 0;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(start, &overflow);
    if (overflow || (v == -1 && PyErr_Occurred())) {
        return PyErr_Occurred() ? soft_error() : 0;
    }
    s->start = v;
    s->prefix_len = PyBytes_GET_SIZE(prefix);
    memcpy(s->prefix, PyBytes_AS_STRING(prefix), (size_t)s->prefix_len);
    s->valid = 1;
    return 0;
}

int
hft_stamp_store(const Stamp *s, PyObject *state)
{
    if (!s->valid) {
        return 0;
    }
    PyObject *start = PyLong_FromLongLong(s->start);
    if (start == NULL) {
        return -1;
    }
    PyObject *prefix = PyBytes_FromStringAndSize(s->prefix, s->prefix_len);
    if (prefix == NULL) {
        Py_DECREF(start);
        return -1;
    }
    PyObject *pair[2] = {start, prefix};
    int rc = PyList_SetSlice(state, 0, PyList_GET_SIZE(state), NULL);
    for (int i = 0; i < 2 && rc == 0; i++) {
        rc = PyList_Append(state, pair[i]);
    }
    Py_DECREF(start);
    Py_DECREF(prefix);
    return rc;
}

Py_ssize_t
hft_yield_every(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t at)
{
    Py_ssize_t every = nargs > at ? PyNumber_AsSsize_t(args[at], PyExc_OverflowError) : 0;
    if (every < 0 && !PyErr_Occurred()) {
        PyErr_SetString(PyExc_ValueError, "yield_every must be 0 or more");
    }
    return every < 0 ? -1 : every;
}
