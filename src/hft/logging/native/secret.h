/* Searching text for the settings' secrets: used by the dispatcher's scan (scan.c) and by the
 * lane's push (lane_push.c), which each refuse a record that holds one. */
#ifndef HFT_SECRET_H
#define HFT_SECRET_H

#include "compat.h"

/* 1 when the exact str holds one of the secrets (a tuple of str), 0 when not, -1 on error;
 * text shorter than `shortest` (the shortest secret's length) is not searched. */
int hft_holds_secret(PyObject *text, PyObject *secrets, Py_ssize_t shortest);

/* The length of the shortest secret (-1 for none); -2 when secrets is not a tuple of str. */
Py_ssize_t hft_shortest_secret(PyObject *secrets);

#endif /* HFT_SECRET_H */
