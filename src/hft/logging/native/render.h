/* render_lines (render.c): JsonLineRenderer.many's fast path, records (tuples) as JSON lines. */
#ifndef HFT_RENDER_H
#define HFT_RENDER_H

#include "compat.h"

/* render_lines(records, levels, messages, dumps, long_line, state[, yield_every])
 *   -> (bytes, slow): module is the _writer module (its kept buffer). */
PyObject *hft_render_lines(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

#endif /* HFT_RENDER_H */
