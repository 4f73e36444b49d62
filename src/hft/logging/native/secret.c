/* Searching text for the settings' secrets (see secret.h). */
#include "secret.h"

int
hft_holds_secret(PyObject *text, PyObject *secrets, Py_ssize_t shortest)
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

Py_ssize_t
hft_shortest_secret(PyObject *secrets)
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
