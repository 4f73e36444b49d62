/* render_lane (render_lane.c): a lane frame's JSON lines straight from its bytes. */
#ifndef HFT_RENDER_LANE_H
#define HFT_RENDER_LANE_H

#include "compat.h"

/* render_lane(payload, levels, long_line, state, load_source[, yield_every]) -> (bytes, slow):
 * module is the _writer module (its kept buffer). */
PyObject *hft_render_lane(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

#endif /* HFT_RENDER_LANE_H */
