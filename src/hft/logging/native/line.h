/* The parts of a JSON line that both renderers write: render.c (records as tuples) and
 * render_lane.c (a lane frame's entries), so that their lines are the very same bytes:
 *     b'{"ts":"%s.%09dZ","level":"%s",%s"seq":%d,"msg":%s,"fields":%s}\n'
 * and, for a record that carries its span (TRACE_FIELD, hft.logging.record), between seq and
 * msg: ,"trace_id":"%s","span_id":"%s","trace_flags":"%s"
 * The helpers each renderer calls once per record or field are inline here; the rest is
 * line.c's. */
#ifndef HFT_LINE_H
#define HFT_LINE_H

#include "compat.h"
#include <sched.h>
#include <string.h>

#define NS_PER_S 1000000000LL

#define P_TS "{\"ts\":\""
#define P_LEVEL "Z\",\"level\":\""
#define P_SOURCE "\","
#define P_SEQ "\"seq\":"
#define P_MSG ",\"msg\":"
#define P_FIELDS ",\"fields\":"
#define P_END "}\n"
#define LIT(s) (sizeof(s) - 1)

#define TRACE_KEY "\x1ftrace" /* hft.logging.record.TRACE_FIELD, and its value's length */
#define TRACE_LEN 50
#define P_TRACE_ID ",\"trace_id\":\""
#define P_SPAN_ID "\",\"span_id\":\""
#define P_FLAGS "\",\"trace_flags\":\""
/* What a trace adds to a line. */
#define TRACE_EXTRA (LIT(P_TRACE_ID) + LIT(P_SPAN_ID) + LIT(P_FLAGS) + 1 + TRACE_LEN)

/* Whether s (n bytes) is a trace written here: 50 lowercase hex digits. split_trace takes more
 * (what int(s, 16) takes): a record with another value under TRACE_FIELD goes to Python. */
static inline int
trace_ok(const char *s, size_t n)
{
    if (n != TRACE_LEN) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}
/* All fixed parts, the '.' and the 9 digits of nanoseconds. */
#define FIXED                                                                                   \
    (LIT(P_TS) + 1 + 9 + LIT(P_LEVEL) + LIT(P_SOURCE) + LIT(P_SEQ) + LIT(P_MSG) + LIT(P_FIELDS) + \
     LIT(P_END))

#define PUT(p, s, n)          \
    do {                      \
        memcpy((p), (s), (n)); \
        (p) += (n);           \
    } while (0)

/* The trace's keys at p (after seq; TRACE_EXTRA bytes); returns where they end. */
static inline char *
put_trace(char *p, const char *ids)
{
    PUT(p, P_TRACE_ID, LIT(P_TRACE_ID));
    PUT(p, ids, 32);
    PUT(p, P_SPAN_ID, LIT(P_SPAN_ID));
    PUT(p, ids + 32, 16);
    PUT(p, P_FLAGS, LIT(P_FLAGS));
    PUT(p, ids + 48, 2);
    *p++ = '"';
    return p;
}

/* Writes v in decimal at p; returns the number of characters. */
static inline Py_ssize_t
write_int64(char *p, long long v)
{
    char tmp[24];
    int n = 0;
    Py_ssize_t len = 0;
    unsigned long long u;
    if (v < 0) {
        p[len++] = '-';
        u = 0ULL - (unsigned long long)v;
    }
    else {
        u = (unsigned long long)v;
    }
    do {
        tmp[n++] = (char)('0' + (u % 10));
        u /= 10;
    } while (u);
    while (n) {
        p[len++] = tmp[--n];
    }
    return len;
}

static inline void
write_nanos(char *p, long long nanos)
{
    for (int i = 8; i >= 0; i--) {
        p[i] = (char)('0' + (nanos % 10));
        nanos /= 10;
    }
}

/* An error that means "this record takes the slow path" (cleared), or one to propagate (-1). */
static inline int
soft_error(void)
{
    if (PyErr_ExceptionMatches(PyExc_MemoryError) ||
        PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
        return -1;
    }
    PyErr_Clear();
    return 0;
}

/* The rendered second of the records' timestamps, cached across records (and across calls, in
 * the caller's state list: [second_start_ns: int, prefix: bytes]). */
typedef struct {
    long long start; /* start of the cached second, ns since the epoch */
    int valid;
    char prefix[64];
    Py_ssize_t prefix_len;
} Stamp;

/* Caches the second of ts; returns 0, or 1 when the second cannot be rendered here. */
int hft_stamp_set(Stamp *s, long long ts);

/* The second of ts cached (kept, or set); 0, or 1 when it cannot be rendered here. */
static inline int
stamp_cover(Stamp *s, long long ts)
{
    if (!s->valid || ts < s->start ||
        (unsigned long long)ts - (unsigned long long)s->start >= (unsigned long long)NS_PER_S) {
        return hft_stamp_set(s, ts);
    }
    return 0;
}

/* The cached second from the state list (none if it holds none; -1 with an error), and back. */
int hft_stamp_load(Stamp *s, PyObject *state);
int hft_stamp_store(const Stamp *s, PyObject *state);

/* A renderer's optional yield_every (args[at]: records between offers of the CPU; 0: never);
 * -1 with an error set. */
Py_ssize_t hft_yield_every(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t at);

/* Called before each record but the first: once `every` records are rendered, offer the CPU
 * to whoever waits for it (*left counts down from every; 0: never). A writer process woken on
 * a busy application thread's CPU would otherwise hold it for a whole frame. The GIL is kept:
 * the CPU is offered to other processes, not to the writer's own threads. Releasing it here
 * handed it to a console sink's thread 16 times a frame, and the file (the lossless sink) then
 * waited a switch interval for it each time: 0.18 M records/s instead of 2.5 M. */
static inline void
offer_cpu(Py_ssize_t *left, Py_ssize_t every)
{
    if (*left > 0 && --*left == 0) {
        *left = every;
        sched_yield();
    }
}

#endif /* HFT_LINE_H */
