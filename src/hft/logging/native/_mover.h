/* The mover: a native thread that takes the lane's records a frame at a time and writes the
 * frames to the writer process's pipe, without ever taking the GIL. Included by _lane_type.h.
 *
 * Why: a Python dispatcher thread that moves the bytes must take the GIL for each step (take,
 * write, read the replies), and each time it does, the busy caller thread is made to let go
 * of it at its next switch interval and then waits while the dispatcher runs, or while the
 * host has the dispatcher's vCPU. This thread shares nothing with the caller but the lane.
 *
 * What stays in Python (ProcessBackend): the writer's replies (acknowledgements free frames
 * here, by `ack`), writer restarts and the resend (the mover is stopped, its frames handed
 * back, and started again with them), and frames of the classic path (`submit`: one pipe,
 * one writer of it, so the order is kept). Frames are numbered here, in pipe order.
 *
 * Back-pressure: past max_frames or max_bytes unacknowledged, the mover stops taking, so the
 * lane fills and its overflow policy applies at the call sites, as with the Python path.
 */
#ifndef HFT_MOVER_H
#define HFT_MOVER_H

#include "_lane.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

/* -- frames of lane records (the mover's and take()'s) ------------------------------------- */

typedef struct {
    uint64_t end;   /* where the taken entries end */
    uint64_t bytes; /* their bytes, wrap gaps left out */
    uint64_t size;  /* the frame's, its header included */
    Py_ssize_t count;
    Py_ssize_t waiting; /* records waiting when planned: more than count, the frame is full */
    long long newest;
    char *used; /* used[id]: the frame defines source id */
} LanePlan;

/* Walk up to `waiting` entries from the head, up to about max_bytes (at least one entry). */
static void
lane_walk(Lane *self, uint64_t max_bytes, Py_ssize_t waiting, LanePlan *plan)
{
    uint64_t pos = self->head;
    while (plan->count < waiting) {
        pos = lane_skip_gap(self, pos);
        const char *entry = self->buf + pos % self->cap;
        uint32_t size = read_u32(entry);
        if (plan->count > 0 && plan->bytes + size > max_bytes) {
            break;
        }
        long long seq;
        uint32_t source;
        memcpy(&seq, entry + 4, 8);
        memcpy(&source, entry + 24, 4);
        if (source < (uint32_t)self->ndefs) {
            plan->used[source] = 1;
        }
        plan->newest = seq > plan->newest ? seq : plan->newest;
        plan->bytes += size;
        plan->count++;
        pos += size;
    }
    plan->end = pos;
}

/* Plan a frame of the oldest waiting records (take_mu held): 0 (count may be 0), -1 no memory. */
static int
lane_plan(Lane *self, uint64_t max_bytes, LanePlan *plan)
{
    memset(plan, 0, sizeof *plan);
    plan->newest = -1;
    Py_ssize_t waiting = LOAD(self->records);
    plan->waiting = waiting;
    if (waiting == 0) {
        return 0;
    }
    plan->used = PyMem_RawCalloc((size_t)self->ndefs + 1, 1);
    if (plan->used == NULL) {
        return -1;
    }
    lane_walk(self, max_bytes, waiting, plan);
    plan->size = 8 + 1 + 4 + 4 + plan->bytes;
    for (Py_ssize_t i = 0; i < self->ndefs; i++) {
        plan->size += plan->used[i] ? 8 + (uint64_t)self->defs[i].len : 0;
    }
    return 0;
}

/* Copy the entries from head to end into out, the wrap gaps left out. */
static void
lane_copy(Lane *self, uint64_t end, char *out)
{
    uint64_t pos = self->head;
    while (pos < end) {
        pos = lane_skip_gap(self, pos);
        uint64_t off = pos % self->cap;
        uint64_t run = end - pos < self->cap - off ? end - pos : self->cap - off;
        /* a run up to the end of the buffer may end in a gap: copy whole entries only */
        uint64_t whole = 0;
        while (whole < run) {
            uint64_t left = self->cap - off - whole;
            if (left < 4 || read_u32(self->buf + off + whole) == LANE_WRAP) {
                break;
            }
            whole += read_u32(self->buf + off + whole);
        }
        memcpy(out, self->buf + off, (size_t)whole);
        out += whole;
        pos += whole;
        if (whole < run) {
            pos = lane_skip_gap(self, pos);
        }
    }
}

/* Write the planned frame (plan->size bytes) into out: header, the sources it uses, records. */
static void
lane_fill(Lane *self, const LanePlan *plan, char *p)
{
    uint64_t payload = plan->size - 8;
    uint32_t ndefs = 0, nrecords = (uint32_t)plan->count;
    put(&p, &payload, 8);
    put(&p, "L", 1);
    char *ndefs_at = p;
    p += 4;
    for (Py_ssize_t i = 0; i < self->ndefs; i++) {
        if (plan->used[i]) {
            uint32_t id = (uint32_t)i, len = self->defs[i].len;
            put(&p, &id, 4);
            put(&p, &len, 4);
            put(&p, self->defs[i].data, len);
            ndefs++;
        }
    }
    memcpy(ndefs_at, &ndefs, 4);
    put(&p, &nrecords, 4);
    lane_copy(self, plan->end, p);
}

/* The planned records are copied out: free their space (head first, then the count, so a
 * producer never sees room that is not there) and count them taken. */
static void
lane_commit(Lane *self, LanePlan *plan)
{
    __atomic_store_n(&self->head, plan->end, __ATOMIC_RELEASE);
    __atomic_fetch_add(&self->taken, plan->count, __ATOMIC_SEQ_CST);
    if (plan->newest > LOAD(self->newest_taken)) {
        __atomic_store_n(&self->newest_taken, plan->newest, __ATOMIC_RELEASE);
    }
    __atomic_fetch_sub(&self->records, plan->count, __ATOMIC_RELEASE);
    PyMem_RawFree(plan->used);
    plan->used = NULL;
}

/* -- the mover's frames -------------------------------------------------------------------- */

static void
mover_kick(Mover *m)
{
    pthread_mutex_lock(&m->mu);
    m->kicked = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* Queue a frame (mu held): it takes the next number. */
static void
mover_append(Mover *m, MoverFrame *f)
{
    f->next = NULL;
    f->number = m->next_number++;
    if (m->last == NULL) {
        m->first = f;
    } else {
        m->last->next = f;
    }
    m->last = f;
    if (m->unsent == NULL) {
        m->unsent = f;
        m->offset = 0;
    }
    m->frames++;
    m->records += f->records;
    m->bytes += f->len;
}

/* Take the oldest waiting records as one frame and queue it: 2 a full frame (more may wait),
 * 1 a frame, 0 nothing waits, -1 no memory. Called without the GIL or mu. */
static int
mover_take(Lane *lane)
{
    Mover *m = &lane->mover;
    pthread_mutex_lock(&lane->take_mu);
    LanePlan plan;
    if (lane_plan(lane, m->frame_bytes, &plan) < 0) {
        pthread_mutex_unlock(&lane->take_mu);
        return -1;
    }
    if (plan.count == 0) {
        PyMem_RawFree(plan.used);
        pthread_mutex_unlock(&lane->take_mu);
        return 0;
    }
    MoverFrame *f = PyMem_RawMalloc(sizeof(MoverFrame) + (size_t)plan.size);
    if (f == NULL) {
        PyMem_RawFree(plan.used);
        pthread_mutex_unlock(&lane->take_mu);
        return -1;
    }
    lane_fill(lane, &plan, f->data);
    f->len = (size_t)plan.size;
    f->records = plan.count;
    int full = plan.count < plan.waiting;
    lane_commit(lane, &plan);
    pthread_mutex_lock(&m->mu); /* under take_mu still: frames are numbered in lane order */
    mover_append(m, f);
    m->moved++;
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_unlock(&lane->take_mu);
    return full ? 2 : 1;
}

/* Write what the pipe takes (mu held on entry and exit, released around each write): 1 the
 * pipe is full, 0 all written or the writer is gone (m->error). */
static int
mover_write(Mover *m)
{
    while (m->unsent != NULL && m->error == 0) {
        /* the writer may read the last bytes and acknowledge the frame before this thread has
         * the mutex back: `writing` makes that ack wait, so the frame is not freed under us */
        MoverFrame *f = m->unsent;
        size_t off = m->offset;
        m->writing = f;
        pthread_mutex_unlock(&m->mu);
        ssize_t n = write(m->fd, f->data + off, f->len - off);
        int err = errno;
        pthread_mutex_lock(&m->mu);
        m->writing = NULL;
        if (n > 0) {
            m->sent_through = f->number > m->sent_through ? f->number : m->sent_through;
            m->offset += (size_t)n;
            if (m->offset == f->len) {
                m->unsent = f->next;
                m->offset = 0;
            }
        }
        pthread_cond_broadcast(&m->wrote);
        if (n < 0) {
            if (err == EINTR) {
                continue;
            }
            if (err == EAGAIN || err == EWOULDBLOCK) {
                return 1;
            }
            m->error = err;
            return 0;
        }
    }
    return 0;
}

static void
mover_wait(Mover *m, double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(seconds * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_cond_timedwait(&m->cv, &m->mu, &ts);
}

static void *
mover_main(void *arg)
{
    Lane *lane = arg;
    Mover *m = &lane->mover;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        int blocked = mover_write(m);
        int room = m->frames < m->max_frames && m->bytes < m->max_bytes;
        if (room && m->error == 0 && LOAD(lane->records) > 0) {
            m->kicked = 0;
            pthread_mutex_unlock(&m->mu);
            int made = mover_take(lane);
            pthread_mutex_lock(&m->mu);
            if (made == 2 || (made > 0 && m->kicked)) {
                continue; /* a full frame, or more asked for: write it, look again */
            }
            if (made > 0) {
                blocked = mover_write(m);
            }
        }
        if (m->stop || m->kicked) {
            m->kicked = 0;
            continue;
        }
        if (blocked && m->error == 0) { /* the writer is behind: wait until the pipe has room */
            pthread_mutex_unlock(&m->mu);
            struct pollfd p = {.fd = m->fd, .events = POLLOUT, .revents = 0};
            int ms = (int)(m->poll_s * 1000) + 1;
            (void)poll(&p, 1, ms);
            pthread_mutex_lock(&m->mu);
        } else {
            mover_wait(m, m->poll_s);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

static void
mover_free_frames(Mover *m)
{
    MoverFrame *f = m->first;
    while (f != NULL) {
        MoverFrame *next = f->next;
        PyMem_RawFree(f);
        f = next;
    }
    m->first = m->last = m->unsent = NULL;
    m->frames = m->records = 0;
    m->bytes = 0;
    m->offset = 0;
}

/* Stop the thread and wait for it (the caller holds the GIL or not; the mover never takes it). */
static void
mover_join(Mover *m)
{
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
}

/* -- Python methods -------------------------------------------------------------------------- */

static MoverFrame *
mover_frame_from(const char *data, size_t len, Py_ssize_t records)
{
    MoverFrame *f = PyMem_RawMalloc(sizeof(MoverFrame) + len);
    if (f != NULL) {
        memcpy(f->data, data, len);
        f->len = len;
        f->records = records;
    }
    return f;
}

/* start_mover(fd, next_number, sent_through, frames, unsent_from, offset, frame_bytes,
 *             max_frames, max_bytes, poll_s): frames are (number, data, records), oldest first,
 *             numbered next_number - len(frames) on; unsent_from: the first not wholly written,
 *             offset bytes of it written. */
static PyObject *
lane_start_mover(PyObject *op, PyObject *args)
{
    Lane *self = (Lane *)op;
    Mover *m = &self->mover;
    int fd;
    long long next_number, sent_through;
    PyObject *frames;
    Py_ssize_t unsent_from, offset, frame_bytes, max_frames, max_bytes;
    double poll_s;
    if (!PyArg_ParseTuple(args, "iLLO!nnnnnd:start_mover", &fd, &next_number, &sent_through,
                          &PyList_Type, &frames, &unsent_from, &offset, &frame_bytes,
                          &max_frames, &max_bytes, &poll_s)) {
        return NULL;
    }
    if (m->running) {
        PyErr_SetString(PyExc_RuntimeError, "the lane's mover is running already");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(frames);
    if (unsent_from < 0 || unsent_from > n || offset < 0 || frame_bytes < 1 || poll_s <= 0) {
        PyErr_SetString(PyExc_ValueError, "start_mover: bad unsent_from, offset or sizes");
        return NULL;
    }
    mover_free_frames(m);
    m->next_number = next_number - n;
    for (Py_ssize_t i = 0; i < n; i++) {
        long long number;
        const char *data;
        Py_ssize_t len, records;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(frames, i), "Ly#n", &number, &data, &len,
                              &records)) {
            mover_free_frames(m);
            return NULL;
        }
        MoverFrame *f = mover_frame_from(data, (size_t)len, records);
        if (f == NULL) {
            mover_free_frames(m);
            return PyErr_NoMemory();
        }
        mover_append(m, f);
        if (f->number != number) {
            mover_free_frames(m);
            PyErr_SetString(PyExc_ValueError, "start_mover: frames are not numbered in order");
            return NULL;
        }
    }
    m->unsent = m->first;
    for (Py_ssize_t i = 0; i < unsent_from; i++) {
        m->unsent = m->unsent->next;
    }
    if ((m->unsent == NULL && offset != 0) ||
        (m->unsent != NULL && (size_t)offset >= m->unsent->len)) {
        mover_free_frames(m);
        PyErr_SetString(PyExc_ValueError, "start_mover: offset beyond its frame");
        return NULL;
    }
    m->offset = (size_t)offset;
    m->fd = fd;
    m->sent_through = sent_through;
    m->frame_bytes = (uint64_t)frame_bytes;
    m->max_frames = max_frames;
    m->max_bytes = (uint64_t)max_bytes;
    m->poll_s = poll_s;
    m->stop = m->kicked = m->error = 0;
    m->moved = 0;
    m->pid = getpid();
    /* signals go to the interpreter's threads, never here: block them all while creating */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&m->thread, NULL, mover_main, self);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        mover_free_frames(m);
        errno = rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    m->running = 1;
    Py_RETURN_NONE;
}

/* stop_mover() -> (frames, unsent_from, offset, sent_through, next_number, error): the thread
 * is stopped and its unacknowledged frames handed back as start_mover takes them. */
static PyObject *
lane_stop_mover(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    Lane *self = (Lane *)op;
    Mover *m = &self->mover;
    if (m->running) {
        if (m->pid != getpid()) { /* a forked child: the thread is the parent's */
            PyErr_SetString(PyExc_RuntimeError, "the lane's mover belongs to another process");
            return NULL;
        }
        Py_BEGIN_ALLOW_THREADS mover_join(m);
        Py_END_ALLOW_THREADS m->running = 0; /* with the GIL: call sites read it */
    }
    PyObject *frames = PyList_New(0);
    if (frames == NULL) {
        return NULL;
    }
    Py_ssize_t unsent_from = 0;
    int seen_unsent = m->unsent == NULL;
    for (MoverFrame *f = m->first; f != NULL; f = f->next) {
        if (f == m->unsent) {
            seen_unsent = 1;
        }
        unsent_from += !seen_unsent;
        PyObject *item = Py_BuildValue("(Ly#n)", f->number, f->data, (Py_ssize_t)f->len,
                                       f->records);
        if (item == NULL || PyList_Append(frames, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(frames);
            return NULL;
        }
        Py_DECREF(item);
    }
    if (m->unsent == NULL) {
        unsent_from = PyList_GET_SIZE(frames);
    }
    PyObject *result = Py_BuildValue("(NnnLLi)", frames, unsent_from, (Py_ssize_t)m->offset,
                                     m->sent_through, m->next_number, m->error);
    if (result != NULL) {
        mover_free_frames(m);
    }
    return result;
}

/* submit(frame, records) -> number: a frame made elsewhere (the classic path's), header
 * included, queued after every frame before it. */
static PyObject *
lane_submit(PyObject *op, PyObject *args)
{
    Mover *m = &((Lane *)op)->mover;
    Py_buffer data;
    Py_ssize_t records;
    if (!PyArg_ParseTuple(args, "y*n:submit", &data, &records)) {
        return NULL;
    }
    if (!m->running) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_RuntimeError, "the lane's mover is not running");
        return NULL;
    }
    MoverFrame *f = mover_frame_from(data.buf, (size_t)data.len, records);
    PyBuffer_Release(&data);
    if (f == NULL) {
        return PyErr_NoMemory();
    }
    pthread_mutex_lock(&m->mu);
    mover_append(m, f);
    long long number = f->number;
    m->kicked = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    return PyLong_FromLongLong(number);
}

/* ack(number) -> records: frames up to `number` are disposed of by the writer; freed. */
static PyObject *
lane_ack(PyObject *op, PyObject *arg)
{
    Mover *m = &((Lane *)op)->mover;
    long long number = PyLong_AsLongLong(arg);
    if (number == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t records = 0;
    pthread_mutex_lock(&m->mu);
    while (m->writing != NULL && m->writing->number <= number) { /* a write() just ending */
        pthread_cond_wait(&m->wrote, &m->mu);
    }
    while (m->first != NULL && m->first->number <= number && m->first != m->unsent) {
        MoverFrame *f = m->first;
        m->first = f->next;
        if (m->first == NULL) {
            m->last = NULL;
        }
        m->frames--;
        m->records -= f->records;
        m->bytes -= f->len;
        records += f->records;
        PyMem_RawFree(f);
    }
    int kick = m->frames < m->max_frames && m->bytes < m->max_bytes;
    if (kick) { /* room again: records may be waiting for it */
        pthread_cond_signal(&m->cv);
    }
    pthread_mutex_unlock(&m->mu);
    return PyLong_FromSsize_t(records);
}

/* move_now(): every waiting record into frames now (flush), whatever the bound; GIL released. */
static PyObject *
lane_move_now(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    Lane *self = (Lane *)op;
    if (!self->mover.running) {
        PyErr_SetString(PyExc_RuntimeError, "the lane's mover is not running");
        return NULL;
    }
    int made;
    Py_BEGIN_ALLOW_THREADS do {
        made = mover_take(self);
    } while (made > 0);
    Py_END_ALLOW_THREADS if (made < 0)
    {
        return PyErr_NoMemory();
    }
    mover_kick(&self->mover);
    Py_RETURN_NONE;
}

/* mover_stats() -> (running, frames, records, bytes, sent_through, next_number, error, moved,
 *                   unaccounted): its unacknowledged frames and their records and bytes, the
 *                   frames it made, and records taken that account() has not yet counted. */
static PyObject *
lane_mover_stats(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    Lane *self = (Lane *)op;
    Mover *m = &self->mover;
    pthread_mutex_lock(&m->mu);
    long long unaccounted = LOAD(self->taken) - self->accounted;
    PyObject *r = Py_BuildValue("(innKLLiLL)", m->running, m->frames, m->records,
                                (unsigned long long)m->bytes, m->sent_through, m->next_number,
                                m->error, m->moved, unaccounted);
    pthread_mutex_unlock(&m->mu);
    return r;
}

/* account() -> (count, newest_taken): records taken since the last call (the dispatcher
 * counts them; until then `pending` still counts them waiting, so no drop is seen). */
static PyObject *
lane_account(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    Lane *self = (Lane *)op;
    long long newest = LOAD(self->newest_taken); /* before taken: never newer than counted */
    long long taken = LOAD(self->taken);
    long long count = taken - self->accounted;
    self->accounted = taken;
    return Py_BuildValue("(LL)", count, newest);
}

/* records waiting in the ring, and taken but not yet counted by account() */
static PyObject *
lane_get_pending(PyObject *op, void *Py_UNUSED(closure))
{
    Lane *self = (Lane *)op;
    Py_ssize_t waiting = LOAD(self->records);
    long long taken = LOAD(self->taken);
    return PyLong_FromLongLong((long long)waiting + taken - self->accounted);
}

#endif /* HFT_MOVER_H */
