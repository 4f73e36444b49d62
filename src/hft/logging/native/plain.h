/* Whether a record may be left untracked by the garbage collector: used where records are made,
 * by the call site (callsite.c) and by the writer's decoder of lane frames (frame.c).
 *
 * Untracking is only sound for an object that cannot be part of a reference cycle: the GC
 * would never free such a cycle. A record is untracked only when everything it refers to is
 * itself untracked or not a container, so no path leads from it back to itself.
 */
#ifndef HFT_PLAIN_H
#define HFT_PLAIN_H

#include "compat.h"

/* Neither a container the GC tracks now nor one that refers to one. */
static inline int
plain(PyObject *obj)
{
    return !PyObject_IS_GC(obj) || !PyObject_GC_IsTracked(obj);
}

/* The source's name, tags, context and prefix are all plain (a Source is a tuple). */
static inline int
plain_source(PyObject *source)
{
    if (!PyTuple_Check(source)) {
        return plain(source);
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(source); i++) {
        if (!plain(PyTuple_GET_ITEM(source, i))) {
            return 0;
        }
    }
    return 1;
}

#endif /* HFT_PLAIN_H */
