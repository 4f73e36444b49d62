/* The byte lane: plain records copied at the call site into a byte ring, taken out a frame at a
 * time. The Lane type is lane.c; the call site's push lane_push.c; taking entries out as a
 * frame lane_take.c; the methods that drive its mover thread lane_mover.c (the thread:
 * mover.c). The bytes of an entry and of a frame are entry.h's.
 *
 * Why: a record kept as Python objects (a tuple and a dict) costs the caller two allocations,
 * and the dispatcher thread a pass per record with the GIL held, while the caller waits for
 * it. A plain record (an exact-str message, scalar fields whose names the redactor already
 * knows to be harmless, no secret in its text, a logger with no bound context) is copied into
 * this ring as bytes instead: no object, nothing for the garbage collector, and the dispatcher
 * takes thousands of them at once, copying them with the GIL released, straight into a frame
 * for the writer process (whose decoder, unpack_lane, gives back the very tuple the caller
 * would have built). Anything else takes the classic path; the caller decides per call.
 *
 * Concurrency. Producers are call sites: they hold the GIL, so they are serialized, and only
 * they move the tail. One consumer at a time takes entries from the head, holding `take_mu`:
 * the native mover thread, which never takes the GIL, or the dispatcher (take).
 * A producer writes an entry into free space beyond the tail and then publishes it (records,
 * release); a consumer copies entries out and then frees their space (head, then records).
 * drop_oldest moves the head from the producer's side, so it evicts only when it gets
 * `take_mu` at once (never while a consumer is taking), else the record is refused.
 */
#ifndef HFT_LANE_H
#define HFT_LANE_H

#include "compat.h"
#include "entry.h"
#include "mover.h"
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

enum { POLICY_BLOCK, POLICY_DROP_NEWEST, POLICY_DROP_OLDEST };

/* A source's pickled bytes, kept in C so that a frame can be made without the GIL. */
typedef struct {
    char *data;
    uint32_t len;
} LaneDef;

typedef struct Lane {
    PyObject_HEAD
    char *buf;
    uint64_t cap;  /* bytes */
    uint64_t head; /* monotonic byte offsets: next to take, next to write */
    uint64_t tail;
    Py_ssize_t records;     /* waiting */
    Py_ssize_t max_records; /* the ring's capacity in records (ring_buffer_size) */
    int policy;
    pthread_mutex_t take_mu; /* held by whoever takes entries (and defines sources) */
    pid_t owner;             /* the process that made the lane (a forked child does not own it) */
    double block_timeout_s;
    PyObject *harmless; /* set: field names the redactor passed */
    PyObject *secrets;  /* tuple of str */
    Py_ssize_t shortest;
    PyObject *refused; /* refused(seq): the pipeline counts it dropped */
    PyObject *wake;
    Py_ssize_t wake_at;
    PyObject *learn; /* learn(name) -> bool: a name not in harmless, asked once (or None) */
    LaneDef *defs; /* id -> pickled Source; grown under take_mu */
    Py_ssize_t ndefs, defs_cap;
    long long pushed, taken, evicted, refusals, newest, newest_taken;
    long long accounted; /* taken records the dispatcher has counted (account()) */
    Mover mover;
} Lane;

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)

/* The entry at `pos` (its wrap gap skipped): its position. */
static inline uint64_t
lane_skip_gap(const Lane *lane, uint64_t pos)
{
    uint64_t off = pos % lane->cap, left = lane->cap - off;
    if (left < 4 || entry_u32(lane->buf + off) == ENTRY_WRAP) {
        return pos + left;
    }
    return pos;
}

/* -- lane.c: the type --------------------------------------------------------------------- */

extern PyType_Spec hft_lane_spec;

/* -- lane_push.c: the call site's push ----------------------------------------------------- */

/* 1 handled (written, or refused and counted), 0 not a plain record (take the classic path;
 * nothing was consumed), -1 error. `counter`: the pipeline's sequence when it is a C Sequence,
 * else NULL and next_seq() is called. `named`: the kwnames tuple whose names the call site
 * last found harmless, held by the call site. */
int hft_lane_push(Lane *lane, long long *counter, PyObject *next_seq, int32_t level,
                  uint32_t source, PyObject *msg, PyObject *const *values, PyObject *kwnames,
                  PyObject **named);

/* The same with `trace`, the span's ids (a str of 50 hex digits): written as the entry's first
 * field, named TRACE_FIELD (hft.logging.record). */
int hft_lane_push_traced(Lane *lane, long long *counter, PyObject *next_seq, int32_t level,
                         uint32_t source, PyObject *msg, PyObject *const *values,
                         PyObject *kwnames, PyObject **named, PyObject *trace);

/* -- lane_take.c: entries out as a frame (take_mu held) ------------------------------------- */

typedef struct {
    uint64_t end;   /* where the taken entries end */
    uint64_t bytes; /* their bytes, wrap gaps left out */
    uint64_t size;  /* the frame's, its header included */
    Py_ssize_t count;
    Py_ssize_t waiting; /* records waiting when planned: more than count, the frame is full */
    long long newest;
    char *used; /* used[id]: the frame defines source id */
} LanePlan;

/* Plan a frame of the oldest waiting records, up to about max_bytes (at least one): 0 (count
 * may be 0), -1 no memory. */
int hft_lane_plan(Lane *self, uint64_t max_bytes, LanePlan *plan);
/* Write the planned frame (plan->size bytes) into out: header, the sources it uses, records. */
void hft_lane_fill(Lane *self, const LanePlan *plan, char *out);
/* The planned records are copied out: free their space and count them taken. */
void hft_lane_commit(Lane *self, LanePlan *plan);

/* -- lane_mover.c: the Lane's methods that drive its mover ---------------------------------- */

PyObject *hft_lane_start_mover(PyObject *op, PyObject *args);
PyObject *hft_lane_stop_mover(PyObject *op, PyObject *ignored);
PyObject *hft_lane_submit(PyObject *op, PyObject *args);
PyObject *hft_lane_ack(PyObject *op, PyObject *arg);
PyObject *hft_lane_move_now(PyObject *op, PyObject *ignored);
PyObject *hft_lane_mover_stats(PyObject *op, PyObject *ignored);

#endif /* HFT_LANE_H */
