/* The call site's push into the lane (lane.h): a plain record sized, checked for room (and,
 * when there is none, the lane's overflow policy applied) and written at the ring's tail as one
 * entry (entry.h). Called by the Emitter (callsite.c) with the GIL held. */
#include "lane.h"
#include "secret.h"
#include <string.h>
#include <time.h>

#define LANE_MAX_FIELDS 64 /* more: the classic path */
#define TRACE_KEY "\x1ftrace" /* hft.logging.record.TRACE_FIELD */

/* Size one field; 1 plain, 0 not for the lane, -1 error. `named`: the call site already knows
 * its name to be harmless (the same kwnames tuple passed before). */
static int
lane_field(Lane *lane, PyObject *key, PyObject *value, EntryField *f, int named)
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
    Py_ssize_t len;
    f->key = PyUnicode_AsUTF8AndSize(key, &len);
    if (f->key == NULL) {
        PyErr_Clear(); /* a lone surrogate: the classic path renders it */
        return 0;
    }
    f->key_len = (uint32_t)len;
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
    } else if (PyFloat_CheckExact(value)) {
        f->f = PyFloat_AS_DOUBLE(value);
        f->tag = TAG_FLOAT;
    } else if (PyUnicode_CheckExact(value)) {
        if (lane->shortest >= 0) {
            int hit = hft_holds_secret(value, lane->secrets, lane->shortest);
            if (hit != 0) {
                return hit < 0 ? -1 : 0;
            }
        }
        f->str = PyUnicode_AsUTF8AndSize(value, &len);
        if (f->str == NULL) {
            PyErr_Clear();
            return 0;
        }
        f->str_len = (uint32_t)len;
        f->tag = TAG_STR;
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

/* drop_oldest: make room by dropping the oldest records (counted); only with take_mu held
 * (nobody is taking), so the head is ours for the while. */
static void
lane_evict(Lane *lane, size_t size)
{
    while (LOAD(lane->records) > 0 && !lane_has_room(lane, size)) {
        uint64_t pos = lane_skip_gap(lane, lane->head);
        __atomic_store_n(&lane->head, pos + entry_u32(lane->buf + pos % lane->cap),
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
                hft_mover_kick(&lane->mover);
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
lane_write(Lane *lane, const EntryHead *h, const char *msg, const EntryField *fields,
           uint32_t n)
{
    uint64_t off = lane->tail % lane->cap, left = lane->cap - off;
    if (left < h->size) { /* the entry starts at the ring's start; mark the gap */
        if (left >= 4) {
            uint32_t wrap = ENTRY_WRAP;
            memcpy(lane->buf + off, &wrap, 4);
        }
        lane->tail += left;
        off = 0;
    }
    char *p = entry_put_head(lane->buf + off, h, msg);
    p = entry_put(p, &n, 4);
    for (uint32_t i = 0; i < n; i++) {
        p = entry_put_field(p, &fields[i]);
    }
    lane->tail += h->size;
    __atomic_fetch_add(&lane->records, 1, __ATOMIC_RELEASE); /* the entry is there to take */
    lane->pushed++;
    if (h->seq > lane->newest) {
        lane->newest = h->seq;
    }
}

/* The call site's push (see lane.h). A C Sequence's number is taken without a call or an int
 * object. `named`: the kwnames tuple whose names
 * the call site last found harmless, held by the call site; kwnames tuples are constants of the
 * calling code, so a hot call passes the same one each time and skips the set lookups. The
 * harmless set only ever grows, so a name once harmless stays so. Inlined in both pushes, so
 * the untraced one is compiled without the trace's branches. */
static Py_ALWAYS_INLINE inline int
lane_push(Lane *lane, long long *counter, PyObject *next_seq, int32_t level, uint32_t source,
          PyObject *msg, PyObject *const *values, PyObject *kwnames, PyObject **named,
          PyObject *trace)
{
    Py_ssize_t n = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    if (!PyUnicode_CheckExact(msg) || n > LANE_MAX_FIELDS) {
        return 0;
    }
    if (lane->shortest >= 0) {
        int hit = hft_holds_secret(msg, lane->secrets, lane->shortest);
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
    EntryField fields[LANE_MAX_FIELDS + 1];
    size_t size = ENTRY_FIXED + (size_t)msg_len;
    int known = n == 0 || kwnames == *named;
    Py_ssize_t first = 0; /* 1: the trace is fields[0] */
    if (trace != NULL) {
        Py_ssize_t len;
        EntryField *f = &fields[first++];
        f->str = PyUnicode_AsUTF8AndSize(trace, &len);
        if (f->str == NULL) {
            return -1;
        }
        f->key = TRACE_KEY;
        f->key_len = (uint32_t)strlen(TRACE_KEY);
        f->str_len = (uint32_t)len;
        f->tag = TAG_STR;
        size += entry_field_size(f);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        EntryField *f = &fields[first + i];
        int ok = lane_field(lane, PyTuple_GET_ITEM(kwnames, i), values[i], f, known);
        if (ok <= 0) {
            return ok;
        }
        size += entry_field_size(f);
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
    EntryHead head = {(uint32_t)size, seq, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec,
                      level, source, (uint32_t)msg_len};
    lane_write(lane, &head, text, fields, (uint32_t)(first + n));
    if (LOAD(lane->records) == lane->wake_at) {
        Mover *m = &lane->mover;
        int stuck = m->running && (LOAD(m->frames) >= m->max_frames ||
                                   LOAD(m->bytes) >= m->max_bytes); /* a hint: no lock */
        if (m->running) { /* the mover takes it: no Python call... */
            hft_mover_kick(m);
        }
        if (m->running && !stuck) {
            /* ...unless it waits for acknowledgements, which the dispatcher reads */
        } else if (lane->wake != Py_None && call_none(lane->wake, NULL) < 0) {
            return -1;
        }
    }
    return 1;
}

int
hft_lane_push(Lane *lane, long long *counter, PyObject *next_seq, int32_t level, uint32_t source,
              PyObject *msg, PyObject *const *values, PyObject *kwnames, PyObject **named)
{
    return lane_push(lane, counter, next_seq, level, source, msg, values, kwnames, named, NULL);
}

int
hft_lane_push_traced(Lane *lane, long long *counter, PyObject *next_seq, int32_t level,
                     uint32_t source, PyObject *msg, PyObject *const *values, PyObject *kwnames,
                     PyObject **named, PyObject *trace)
{
    return lane_push(lane, counter, next_seq, level, source, msg, values, kwnames, named, trace);
}
