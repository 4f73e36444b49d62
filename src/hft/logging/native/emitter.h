/* The Emitter's layout, shared by its two units: callsite.c (the type, its logging call and a
 * count-only call) and keep.c (a backtrace's keeping call). Nothing else includes it. */
#ifndef HFT_EMITTER_H
#define HFT_EMITTER_H

#include "compat.h"
#include "trace.h"
#include <stdint.h>
#include <time.h>

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *ring;
    PyObject *append;
    PyObject *next_seq;
    PyObject *level;
    PyObject *source;
    PyObject *full;
    PyObject *wake;      /* called when the ring reaches wake_at records (None: never) */
    Py_ssize_t capacity; /* < 0: no room check (drop_oldest's ring has a maxlen); writable:
                          * 0 sends every call to full (an audit trail that is failing) */
    Py_ssize_t wake_at;
    int exc;             /* honour exc_info=True: capture sys.exc_info() at the call */
    int keep;            /* a backtrace's keeping call site (keep.c) */
    PyObject *weakreflist; /* the audit guard tracks its call sites weakly */
    PyObject *exc_info_key; /* the module state's, held here: no state lookup per call */
    PyObject *lane;         /* a Lane: plain records go there as bytes (NULL: never) */
    PyObject *samples_append; /* a deque's bound append: a timed call appends its duration (ns)
                               * there (NULL: no samples) */
    int sample;             /* writable: time the next call (the dispatcher arms it) */
    uint32_t lane_source;   /* this logger's source id in the lane */
    int32_t level_c;
    long long *counter;     /* next_seq's number when it is a Sequence (held), else NULL */
    int *idle;              /* the Sequence's idle flag (NULL: none): see Sequence */
    PyObject *named;        /* the kwnames tuple last found all harmless (the lane's test) */
    PyObject *calls;        /* the Counter its calls are added to (NULL: own_calls). Kept until
                             * dealloc, never cleared by tp_clear: calls_n points into it, and a
                             * Counter holds no reference, so it is in no cycle */
    unsigned long long *calls_n; /* where each call adds one: calls' value, or own_calls */
    unsigned long long own_calls;
    PyObject *context;      /* the task context's ContextVar (NULL: not read) */
    PyObject *derive;       /* derive(frame) -> (source, lane id, lease): a frame's first call */
    PyObject *trace_field;  /* the module state's TRACE_FIELD, held here */
    int traced;             /* trace= given: each call reads the current span (trace.c) */
    TraceReader trace;
} Emitter;

/* A call's body: hft_emit, or keep.c's; hft_timed_call times one when the site is armed. */
typedef PyObject *(*HftCallBody)(Emitter *, PyObject *const *, size_t, PyObject *);

/* The logging call (callsite.c): the count, then the lane or the ring. */
PyObject *hft_emit(Emitter *self, PyObject *const *args, size_t nargsf, PyObject *kwnames);

/* The current span's ids for a traced call site (trace=): 1 (*ids a new reference), 0 none
 * (or not traced), -1 error. */
static inline int
hft_emitter_trace(Emitter *self, PyObject **ids)
{
    return self->traced && self->trace.key != NULL ? hft_trace_ids(&self->trace, ids) : 0;
}

/* body(self, ...) timed, its duration appended to the site's samples (callsite.c). */
PyObject *hft_timed_call(Emitter *self, HftCallBody body, PyObject *const *args, size_t nargsf,
                         PyObject *kwnames);

/* sys.exc_info(), a new tuple. */
static inline PyObject *
hft_exc_info_now(void)
{
    PyObject *type, *value, *tb;
    PyErr_GetExcInfo(&type, &value, &tb);
    PyObject *info = PyTuple_Pack(3, type ? type : Py_None, value ? value : Py_None,
                                  tb ? tb : Py_None);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return info;
}

static inline PyObject *
hft_now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) { /* as time.time_ns() */
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromLongLong((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

#endif /* HFT_EMITTER_H */
