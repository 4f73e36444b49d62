/* The byte lane: plain records copied at the call site into a byte ring, taken out a frame at a
 * time. Included by _callsite.c (one extension: the Emitter pushes here without a Python call).
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
 * the native mover thread (_mover.h), which never takes the GIL, or the dispatcher (take).
 * A producer writes an entry into free space beyond the tail and then publishes it (records,
 * release); a consumer copies entries out and then frees their space (head, then records).
 * drop_oldest moves the head from the producer's side, so it evicts only when it gets
 * `take_mu` at once (never while a consumer is taking), else the record is refused.
 *
 * An entry (native byte order; the reader is the same host):
 *   u32 size | u64 seq | i64 ts_ns | i32 level | u32 source | u32 msg_len | msg utf-8 |
 *   u32 nfields | nfields x (u32 key_len | key utf-8 | u8 tag | value)
 * value by tag: none, false, true: nothing; int: i64; float: f64; str: u32 len | utf-8.
 * A u32 size of LANE_WRAP (or fewer than 4 bytes left) means: go on at the ring's start.
 * A frame: u64 payload size | 'L' | u32 ndefs | ndefs x (u32 id | u32 len | pickled Source) |
 *   u32 nrecords | entries.
 */
#ifndef HFT_LANE_H
#define HFT_LANE_H

#include "_compat.h"
#include "_lane_frame.h" /* the tags, and the reader */
#include "_secret.h"
#include <stdint.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#define LANE_WRAP 0xFFFFFFFFu
#define LANE_FIXED 36 /* size, seq, ts, level, source, msg_len, nfields */
enum { POLICY_BLOCK, POLICY_DROP_NEWEST, POLICY_DROP_OLDEST };
#define LANE_MAX_FIELDS 64 /* more: the classic path */

/* A source's pickled bytes, kept in C so that a frame can be made without the GIL. */
typedef struct {
    char *data;
    uint32_t len;
} LaneDef;

#include "_mover_type.h" /* Mover, MoverFrame */

typedef struct {
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

/* What the call site learned of one field while sizing it. */
typedef struct {
    const char *key, *str;
    Py_ssize_t key_len, str_len;
    int tag;
    long long i;
    double f;
} LaneField;

static inline void
put(char **p, const void *src, size_t n)
{
    memcpy(*p, src, n);
    *p += n;
}

static inline uint32_t
read_u32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Size one field; 1 plain, 0 not for the lane, -1 error. `named`: the call site already knows
 * its name to be harmless (the same kwnames tuple passed before). */
static int
lane_field(Lane *lane, PyObject *key, PyObject *value, LaneField *f, size_t *size, int named)
{
    if (!named) {
        if (!PyUnicode_CheckExact(key)) {
            return 0;
        }
        int known = PySet_Contains(lane->harmless, key); /* an exact str: runs no Python code */
        if (known == 0 && lane->learn != Py_None) { /* a name met for the first time */
            PyObject *verdict = PyObject_CallOneArg(lane->learn, key);
            known = verdict == NULL ? -1 : PyObject_IsTrue(verdict);
            Py_XDECREF(verdict);
        }
        if (known <= 0) {
            return known;
        }
    }
    f->key = PyUnicode_AsUTF8AndSize(key, &f->key_len);
    if (f->key == NULL) {
        PyErr_Clear(); /* a lone surrogate: the classic path renders it */
        return 0;
    }
    *size += 4 + (size_t)f->key_len + 1;
    if (value == Py_None) {
        f->tag = TAG_NONE;
    } else if (value == Py_True || value == Py_False) {
        f->tag = value == Py_True ? TAG_TRUE : TAG_FALSE;
    } else if (PyLong_CheckExact(value)) {
        int overflow = 0;
        f->i = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow || (f->i == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return 0;
        }
        f->tag = TAG_INT;
        *size += 8;
    } else if (PyFloat_CheckExact(value)) {
        f->f = PyFloat_AS_DOUBLE(value);
        f->tag = TAG_FLOAT;
        *size += 8;
    } else if (PyUnicode_CheckExact(value)) {
        if (lane->shortest >= 0) {
            int hit = holds_secret(value, lane->secrets, lane->shortest);
            if (hit != 0) {
                return hit < 0 ? -1 : 0;
            }
        }
        f->str = PyUnicode_AsUTF8AndSize(value, &f->str_len);
        if (f->str == NULL) {
            PyErr_Clear();
            return 0;
        }
        f->tag = TAG_STR;
        *size += 4 + (size_t)f->str_len;
    } else {
        return 0;
    }
    return 1;
}

/* Bytes the next entry of `size` takes at the tail, its wrap gap included. */
static uint64_t
lane_need(Lane *lane, size_t size)
{
    uint64_t off = lane->tail % lane->cap, left = lane->cap - off;
    return left < size ? left + size : size;
}

static int
lane_has_room(Lane *lane, size_t size)
{
    return LOAD(lane->records) < lane->max_records &&
           lane->cap - (lane->tail - LOAD(lane->head)) >= lane_need(lane, size);
}

/* The entry at `pos` (its wrap gap skipped): its offset in buf, and its position. */
static uint64_t
lane_skip_gap(Lane *lane, uint64_t pos)
{
    uint64_t off = pos % lane->cap, left = lane->cap - off;
    if (left < 4 || read_u32(lane->buf + off) == LANE_WRAP) {
        return pos + left;
    }
    return pos;
}

/* drop_oldest: make room by dropping the oldest records (counted); only with take_mu held
 * (nobody is taking), so the head is ours for the while. */
static void
lane_evict(Lane *lane, size_t size)
{
    while (LOAD(lane->records) > 0 && !lane_has_room(lane, size)) {
        uint64_t pos = lane_skip_gap(lane, lane->head);
        __atomic_store_n(&lane->head, pos + read_u32(lane->buf + pos % lane->cap),
                         __ATOMIC_RELEASE);
        __atomic_fetch_sub(&lane->records, 1, __ATOMIC_RELEASE);
        lane->evicted++;
    }
}

static double
monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void mover_kick(Mover *m); /* _mover.h */

static int
call_none(PyObject *callable, PyObject *arg)
{
    PyObject *r = arg == NULL ? PyObject_CallNoArgs(callable) : PyObject_CallOneArg(callable, arg);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* block: wake the dispatcher and wait (GIL released) until the record fits; 1 room, 0 not
 * within block_timeout_s, -1 error. */
static int
lane_wait(Lane *lane, size_t size)
{
    double now = monotonic_s(), deadline = now + lane->block_timeout_s, nudge = now;
    struct timespec pause = {0, 20000}; /* 20 us: the mover takes whole frames */
    while (!lane_has_room(lane, size)) {
        if (now >= nudge) { /* and again every ms: an idle dispatcher may sleep 100 ms, and the
                             * mover at its bound waits for the acks that the dispatcher reads */
            nudge = now + 0.001;
            if (lane->mover.running) {
                mover_kick(&lane->mover);
            }
            if (lane->wake != Py_None && call_none(lane->wake, NULL) < 0) {
                return -1;
            }
        }
        if (now >= deadline) {
            return 0;
        }
        Py_BEGIN_ALLOW_THREADS nanosleep(&pause, NULL);
        Py_END_ALLOW_THREADS now = monotonic_s();
    }
    return 1;
}

/* Write the entry at the tail (room checked). */
static void
lane_write(Lane *lane, size_t size, long long seq, long long ts, int32_t level, uint32_t source,
           const char *msg, Py_ssize_t msg_len, LaneField *fields, Py_ssize_t n)
{
    uint64_t off = lane->tail % lane->cap, left = lane->cap - off;
    if (left < size) { /* the entry starts at the ring's start; mark the gap */
        if (left >= 4) {
            uint32_t wrap = LANE_WRAP;
            memcpy(lane->buf + off, &wrap, 4);
        }
        lane->tail += left;
        off = 0;
    }
    char *p = lane->buf + off;
    uint32_t u = (uint32_t)size, ml = (uint32_t)msg_len, nf = (uint32_t)n;
    put(&p, &u, 4);
    put(&p, &seq, 8);
    put(&p, &ts, 8);
    put(&p, &level, 4);
    put(&p, &source, 4);
    put(&p, &ml, 4);
    put(&p, msg, (size_t)msg_len);
    put(&p, &nf, 4);
    for (Py_ssize_t i = 0; i < n; i++) {
        LaneField *f = &fields[i];
        uint32_t kl = (uint32_t)f->key_len;
        unsigned char tag = (unsigned char)f->tag;
        put(&p, &kl, 4);
        put(&p, f->key, (size_t)f->key_len);
        put(&p, &tag, 1);
        if (f->tag == TAG_INT) {
            put(&p, &f->i, 8);
        } else if (f->tag == TAG_FLOAT) {
            put(&p, &f->f, 8);
        } else if (f->tag == TAG_STR) {
            uint32_t sl = (uint32_t)f->str_len;
            put(&p, &sl, 4);
            put(&p, f->str, (size_t)f->str_len);
        }
    }
    lane->tail += size;
    __atomic_fetch_add(&lane->records, 1, __ATOMIC_RELEASE); /* the entry is there to take */
    lane->pushed++;
    if (seq > lane->newest) {
        lane->newest = seq;
    }
}

/* The call site's push: 1 handled (written, or refused and counted), 0 not a plain record
 * (take the classic path; nothing was consumed), -1 error.
 *
 * `counter`: the pipeline's sequence when it is a C Sequence (its number taken without a call
 * or an int object), else NULL and next_seq() is called. `named`: the kwnames tuple whose names
 * the call site last found harmless, held by the call site; kwnames tuples are constants of the
 * calling code, so a hot call passes the same one each time and skips the set lookups. The
 * harmless set only ever grows, so a name once harmless stays so. */
static int
lane_push(Lane *lane, long long *counter, PyObject *next_seq, int32_t level, uint32_t source,
          PyObject *msg, PyObject *const *values, PyObject *kwnames, PyObject **named)
{
    Py_ssize_t n = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    if (!PyUnicode_CheckExact(msg) || n > LANE_MAX_FIELDS) {
        return 0;
    }
    if (lane->shortest >= 0) {
        int hit = holds_secret(msg, lane->secrets, lane->shortest);
        if (hit != 0) {
            return hit < 0 ? -1 : 0;
        }
    }
    Py_ssize_t msg_len;
    const char *text = PyUnicode_AsUTF8AndSize(msg, &msg_len);
    if (text == NULL) {
        PyErr_Clear();
        return 0;
    }
    LaneField fields[LANE_MAX_FIELDS];
    size_t size = LANE_FIXED + (size_t)msg_len;
    int known = n == 0 || kwnames == *named;
    for (Py_ssize_t i = 0; i < n; i++) {
        int ok = lane_field(lane, PyTuple_GET_ITEM(kwnames, i), values[i], &fields[i], &size,
                            known);
        if (ok <= 0) {
            return ok;
        }
    }
    if (!known) {
        Py_XSETREF(*named, Py_NewRef(kwnames));
    }
    if (size > lane->cap / 4) {
        return 0; /* a huge record: the classic path, which truncates it */
    }
    PyObject *seq_obj = NULL;
    long long seq;
    if (counter != NULL) {
        seq = (*counter)++;
    } else {
        seq_obj = PyObject_CallNoArgs(next_seq);
        if (seq_obj == NULL) {
            return -1;
        }
        seq = PyLong_AsLongLong(seq_obj);
        if (seq == -1 && PyErr_Occurred()) {
            Py_DECREF(seq_obj);
            return -1;
        }
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* as time.time_ns() */
    if (!lane_has_room(lane, size)) {
        int room = 0;
        if (lane->policy == POLICY_DROP_OLDEST && pthread_mutex_trylock(&lane->take_mu) == 0) {
            lane_evict(lane, size);
            room = lane_has_room(lane, size);
            pthread_mutex_unlock(&lane->take_mu);
        } else if (lane->policy == POLICY_BLOCK) {
            room = lane_wait(lane, size);
        }
        if (room <= 0) { /* refused: its number is taken, so the pipeline counts it dropped */
            if (room == 0 && seq_obj == NULL) {
                seq_obj = PyLong_FromLongLong(seq);
            }
            int rc = room < 0 || seq_obj == NULL ? -1 : call_none(lane->refused, seq_obj);
            Py_XDECREF(seq_obj);
            lane->refusals += rc == 0;
            return rc < 0 ? -1 : 1;
        }
        /* the fields' utf-8 buffers belong to their str objects, alive in the caller's args */
    }
    Py_XDECREF(seq_obj);
    lane_write(lane, size, seq, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, level, source,
               text, msg_len, fields, n);
    if (LOAD(lane->records) == lane->wake_at) {
        Mover *m = &lane->mover;
        int stuck = m->running && (LOAD(m->frames) >= m->max_frames ||
                                   LOAD(m->bytes) >= m->max_bytes); /* a hint: no lock */
        if (m->running) { /* the mover takes it: no Python call... */
            mover_kick(m);
        }
        if (m->running && !stuck) {
            /* ...unless it waits for acknowledgements, which the dispatcher reads */
        } else if (lane->wake != Py_None && call_none(lane->wake, NULL) < 0) {
            return -1;
        }
    }
    return 1;
}

#endif /* HFT_LANE_H */
