/* A growable byte buffer, and the one buffer a C module keeps across calls (_writer: the
 * renderers render.c and render_lane.c write their lines into it). Header-only: buf_reserve and
 * buf_put are in every renderer's inner loop.
 *
 * Output of a few hundred kB (a batch of JSON lines) in a fresh block on every call is
 * pages to fault in every time; the kept buffer stays mapped. A call that finds it in use (a
 * callback into Python ran the same function again) works in a buffer of its own.
 *
 * The keeper lives in the module's state (one per module object, so one per interpreter) and
 * is released by the module's m_free with buf_keeper_free. It relies on the GIL: busy is a
 * plain int (the modules declare Py_MOD_GIL_USED).
 */
#ifndef HFT_BUFFER_H
#define HFT_BUFFER_H

#include "compat.h"
#include <string.h>

#define BUF_FIRST ((Py_ssize_t)65536)
#define BUF_KEEP_MAX ((Py_ssize_t)16 << 20) /* a larger one (huge strings) is freed, not kept */

typedef struct {
    char *data;
    Py_ssize_t cap;
    int busy;
} BufKeeper;

typedef struct {
    char *data;
    Py_ssize_t len;
    Py_ssize_t cap;
    BufKeeper *kept; /* the keeper whose buffer this is, or NULL for a buffer of its own */
} Buf;

static inline void
buf_open(Buf *b, BufKeeper *keeper)
{
    b->len = 0;
    if (keeper->busy) {
        b->data = NULL;
        b->cap = 0;
        b->kept = NULL;
        return;
    }
    keeper->busy = 1;
    b->data = keeper->data;
    b->cap = keeper->cap;
    b->kept = keeper;
}

static inline int
buf_reserve(Buf *b, Py_ssize_t extra)
{
    if (b->len + extra <= b->cap) {
        return 0;
    }
    Py_ssize_t cap = b->cap > 0 ? b->cap * 2 : BUF_FIRST;
    while (cap < b->len + extra) {
        cap *= 2;
    }
    char *data = PyMem_RawRealloc(b->data, (size_t)cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static inline int
buf_put(Buf *b, const void *p, Py_ssize_t n)
{
    if (buf_reserve(b, n) < 0) {
        return -1;
    }
    memcpy(b->data + b->len, p, (size_t)n);
    b->len += n;
    return 0;
}

/* Gives the kept buffer back (grown, perhaps moved), or frees a buffer of the call's own. */
static inline void
buf_close(Buf *b)
{
    BufKeeper *keeper = b->kept;
    if (keeper != NULL && b->cap <= BUF_KEEP_MAX) {
        keeper->data = b->data;
        keeper->cap = b->cap;
    }
    else {
        PyMem_RawFree(b->data);
        if (keeper != NULL) {
            keeper->data = NULL;
            keeper->cap = 0;
        }
    }
    if (keeper != NULL) {
        keeper->busy = 0;
    }
    b->data = NULL;
}

/* Frees the kept buffer (the module is going away: no call can hold it). */
static inline void
buf_keeper_free(BufKeeper *keeper)
{
    PyMem_RawFree(keeper->data);
    keeper->data = NULL;
    keeper->cap = 0;
    keeper->busy = 0;
}

#endif /* HFT_BUFFER_H */
