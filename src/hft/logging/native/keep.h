/* A backtrace's keeping call site (keep.c): the vectorcall of Emitter(..., keep=True), which
 * keeps a record of a level no backend takes in the backtrace's ring
 * (hft.logging.pipeline.backtrace). */
#ifndef HFT_KEEP_H
#define HFT_KEEP_H

#include "compat.h"

PyObject *hft_keep_call(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames);

#endif /* HFT_KEEP_H */
