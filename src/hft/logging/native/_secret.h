/* Searching text for the settings' secrets: shared by scan() (_scan.h) and the lane (_lane.h). */
#ifndef HFT_SECRET_H
#define HFT_SECRET_H

#include "_compat.h"

/* 1 when the exact str holds one of the secrets, 0 when not, -1 on error. */
static int
holds_secret(PyObject *text, PyObject *secrets, Py_ssize_t shortest)
{
    if (PyUnicode_GET_LENGTH(text) < shortest) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(secrets); i++) {
        int found = PyUnicode_Contains(text, PyTuple_GET_ITEM(secrets, i));
        if (found != 0) {
            return found;
        }
    }
    return 0;
}

/* The length of the shortest secret (-1 for none); -2 when secrets is not a tuple of str. */
static Py_ssize_t
shortest_secret(PyObject *secrets)
{
    if (!PyTuple_CheckExact(secrets)) {
        return -2;
    }
    Py_ssize_t shortest = -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(secrets); i++) {
        PyObject *secret = PyTuple_GET_ITEM(secrets, i);
        if (!PyUnicode_CheckExact(secret)) {
            return -2;
        }
        Py_ssize_t n = PyUnicode_GET_LENGTH(secret);
        if (shortest < 0 || n < shortest) {
            shortest = n;
        }
    }
    return shortest;
}

#endif /* HFT_SECRET_H */
