/* The call site (callsite.c): the Emitter type, what a logging method is where C is built, and
 * nop, what a disabled level is. */
#ifndef HFT_CALLSITE_H
#define HFT_CALLSITE_H

#include "compat.h"

extern PyType_Spec hft_emitter_spec;

/* nop(*args, **kwargs) -> None (METH_FASTCALL | METH_KEYWORDS). */
PyObject *hft_nop(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);

#endif /* HFT_CALLSITE_H */
