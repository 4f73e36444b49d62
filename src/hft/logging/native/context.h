/* The task context at the call site (context.c): what the Emitter reads from the context
 * variable of hft.logging.task_context at each call. */
#ifndef HFT_CONTEXT_H
#define HFT_CONTEXT_H

#include "compat.h"

/* The call site `key`'s entry for the current context: 0 none set (*entry untouched), 1 found
 * (*entry: a new reference to the tuple (source, lane id, lease)), -1 error. On the first call
 * of `key` in a frame, derive(frame) makes the entry and it is kept in the frame's cache. */
int hft_context_entry(PyObject *var, PyObject *key, PyObject *derive, PyObject **entry);

#endif /* HFT_CONTEXT_H */
