/* The dispatcher's look at a slice (scan.h): one pass over its records. */
#include "scan.h"
#include "secret.h"
#include <limits.h>

/* holds_secret over the exact-str values of an exact dict (runs no Python code). */
static int
dict_holds_secret(PyObject *dict, PyObject *secrets, Py_ssize_t shortest)
{
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        if (PyUnicode_CheckExact(value)) {
            int found = hft_holds_secret(value, secrets, shortest);
            if (found != 0) {
                return found;
            }
        }
    }
    return 0;
}

/* 1 when a log record's text holds one of the secrets, 0 when not, -1 on error. */
static int
record_holds_secret(PyObject *record, PyObject *secrets, Py_ssize_t shortest)
{
    PyObject *source = PyTuple_GET_ITEM(record, 3), *msg = PyTuple_GET_ITEM(record, 4);
    PyObject *fields = PyTuple_GET_ITEM(record, 5);
    if (!PyDict_CheckExact(fields)) {
        return 0;
    }
    int found = PyUnicode_CheckExact(msg) ? hft_holds_secret(msg, secrets, shortest) : 0;
    if (found == 0) {
        found = dict_holds_secret(fields, secrets, shortest);
    }
    if (found == 0 && PyTuple_Check(source) && PyTuple_GET_SIZE(source) >= 3 &&
        PyDict_CheckExact(PyTuple_GET_ITEM(source, 2))) {
        found = dict_holds_secret(PyTuple_GET_ITEM(source, 2), secrets, shortest);
    }
    return found;
}

static int
scalar(PyObject *value)
{
    return PyUnicode_CheckExact(value) || PyLong_CheckExact(value) || PyFloat_CheckExact(value) ||
           PyBool_Check(value) || value == Py_None;
}

/* 1 when the record (a log record) needs nothing from the Preparer, 0 when it does, -1 on
 * error. On the way it searches the message and values for secrets (*hit); only a record
 * found plain has been searched whole. The caller holds a reference to the record. */
static int
plain_record(PyObject *record, PyObject *harmless, PyObject *secrets, Py_ssize_t shortest,
             int *hit)
{
    PyObject *source = PyTuple_GET_ITEM(record, 3), *fields = PyTuple_GET_ITEM(record, 5);
    PyObject *msg = PyTuple_GET_ITEM(record, 4);
    if (!PyTuple_Check(source) || PyTuple_GET_SIZE(source) < 3 || !PyDict_CheckExact(fields) ||
        !PyUnicode_CheckExact(msg)) {
        return 0;
    }
    PyObject *context = PyTuple_GET_ITEM(source, 2);
    int has_context = PyDict_CheckExact(context) ? PyDict_GET_SIZE(context) > 0
                                                 : PyObject_IsTrue(context);
    if (has_context != 0) {
        return has_context < 0 ? -1 : 0;
    }
    int search = shortest >= 0 && !*hit;
    if (search && (*hit = hft_holds_secret(msg, secrets, shortest)) < 0) {
        return -1;
    }
    Py_INCREF(fields); /* PySet_Contains may run Python code that changes the dict */
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    int plain = 1;
    while (plain > 0 && PyDict_Next(fields, &pos, &key, &value)) {
        if (!scalar(value)) { /* tested first: the value is borrowed */
            plain = 0;
            break;
        }
        if (search && !*hit && PyUnicode_CheckExact(value)) {
            *hit = hft_holds_secret(value, secrets, shortest);
            if (*hit < 0) {
                plain = -1;
                break;
            }
        }
        Py_INCREF(key);
        plain = PySet_Contains(harmless, key);
        Py_DECREF(key);
    }
    Py_DECREF(fields);
    return plain;
}

PyObject *
hft_scan(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if ((nargs != 3 && nargs != 4) || !PyList_CheckExact(args[0]) || !PySet_Check(args[1]) ||
        !PyLong_CheckExact(args[2])) {
        PyErr_SetString(PyExc_TypeError,
                        "scan(batch: list, harmless: set, debug: int, secrets: tuple = ())");
        return NULL;
    }
    PyObject *batch = args[0], *harmless = args[1], *secrets = nargs == 4 ? args[3] : NULL;
    Py_ssize_t shortest = secrets == NULL ? -1 : hft_shortest_secret(secrets);
    if (shortest == -2) {
        PyErr_SetString(PyExc_TypeError, "secrets must be a tuple of str");
        return NULL;
    }
    long debug = PyLong_AsLong(args[2]);
    if (debug == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (PyList_GET_SIZE(batch) == 0) {
        Py_RETURN_NONE;
    }
    long long max_seq = LLONG_MIN;
    long lowest = LONG_MAX, highest = LONG_MIN;
    int plain = 1, hit = 0, overflow = 0;
    /* PyObject_IsTrue and PySet_Contains may run Python code that changes the list */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(batch); i++) {
        PyObject *record = PyList_GET_ITEM(batch, i);
        if (!PyTuple_CheckExact(record) || PyTuple_GET_SIZE(record) != 6) {
            Py_RETURN_NONE;
        }
        PyObject *seq_obj = PyTuple_GET_ITEM(record, 0), *level_obj = PyTuple_GET_ITEM(record, 2);
        if (!PyLong_CheckExact(seq_obj) || !PyLong_CheckExact(level_obj)) {
            Py_RETURN_NONE;
        }
        int level_overflow = 0;
        long long seq = PyLong_AsLongLongAndOverflow(seq_obj, &overflow);
        long level = PyLong_AsLongAndOverflow(level_obj, &level_overflow);
        if (overflow || level_overflow) {
            Py_RETURN_NONE;
        }
        max_seq = seq > max_seq ? seq : max_seq;
        lowest = level < lowest ? level : lowest;
        highest = level > highest ? level : highest;
        if (level < debug) {
            plain = 0;
            continue;
        }
        Py_INCREF(record); /* keeps source, context and fields alive */
        int searched = 0; /* a record found plain was searched whole on the way */
        if (plain) {
            plain = plain_record(record, harmless, secrets, shortest, &hit);
            searched = plain > 0;
        }
        if (plain >= 0 && !hit && !searched && shortest >= 0) {
            hit = record_holds_secret(record, secrets, shortest);
        }
        Py_DECREF(record);
        if (plain < 0 || hit < 0) {
            return NULL;
        }
    }
    PyObject *is_plain = plain && !hit ? Py_True : Py_False;
    return Py_BuildValue("(LllOO)", max_seq, lowest, highest, is_plain, hit ? Py_True : Py_False);
}
