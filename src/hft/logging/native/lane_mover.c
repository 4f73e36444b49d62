/* The Lane's methods that drive its mover thread (mover.c), called by ProcessBackend: start it
 * on the writer's pipe with the frames a previous one left unacknowledged, stop it and take
 * them back, queue a frame of the classic path after the lane's own, free the frames the
 * writer acknowledged, frame every waiting record now (flush), and its figures. */
#include "lane.h"
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

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
PyObject *
hft_lane_start_mover(PyObject *op, PyObject *args)
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
    hft_mover_free_frames(m);
    m->next_number = next_number - n;
    for (Py_ssize_t i = 0; i < n; i++) {
        long long number;
        const char *data;
        Py_ssize_t len, records;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(frames, i), "Ly#n", &number, &data, &len,
                              &records)) {
            hft_mover_free_frames(m);
            return NULL;
        }
        MoverFrame *f = mover_frame_from(data, (size_t)len, records);
        if (f == NULL) {
            hft_mover_free_frames(m);
            return PyErr_NoMemory();
        }
        hft_mover_append(m, f);
        if (f->number != number) {
            hft_mover_free_frames(m);
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
        hft_mover_free_frames(m);
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
    int rc = pthread_create(&m->thread, NULL, hft_mover_main, self);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        hft_mover_free_frames(m);
        errno = rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    m->running = 1;
    Py_RETURN_NONE;
}

/* stop_mover() -> (frames, unsent_from, offset, sent_through, next_number, error): the thread
 * is stopped and its unacknowledged frames handed back as start_mover takes them. */
PyObject *
hft_lane_stop_mover(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    Lane *self = (Lane *)op;
    Mover *m = &self->mover;
    if (m->running) {
        if (m->pid != getpid()) { /* a forked child: the thread is the parent's */
            PyErr_SetString(PyExc_RuntimeError, "the lane's mover belongs to another process");
            return NULL;
        }
        Py_BEGIN_ALLOW_THREADS hft_mover_join(m);
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
        hft_mover_free_frames(m);
    }
    return result;
}

/* submit(frame, records) -> number: a frame made elsewhere (the classic path's), header
 * included, queued after every frame before it. */
PyObject *
hft_lane_submit(PyObject *op, PyObject *args)
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
    hft_mover_append(m, f);
    long long number = f->number;
    m->kicked = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    return PyLong_FromLongLong(number);
}

/* ack(number) -> records: frames up to `number` are disposed of by the writer; freed. */
PyObject *
hft_lane_ack(PyObject *op, PyObject *arg)
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
PyObject *
hft_lane_move_now(PyObject *op, PyObject *Py_UNUSED(ignored))
{
    Lane *self = (Lane *)op;
    if (!self->mover.running) {
        PyErr_SetString(PyExc_RuntimeError, "the lane's mover is not running");
        return NULL;
    }
    int made;
    Py_BEGIN_ALLOW_THREADS do {
        made = hft_mover_take(self);
    } while (made > 0);
    Py_END_ALLOW_THREADS if (made < 0)
    {
        return PyErr_NoMemory();
    }
    hft_mover_kick(&self->mover);
    Py_RETURN_NONE;
}

/* mover_stats() -> (running, frames, records, bytes, sent_through, next_number, error, moved,
 *                   unaccounted): its unacknowledged frames and their records and bytes, the
 *                   frames it made, and records taken that account() has not yet counted. */
PyObject *
hft_lane_mover_stats(PyObject *op, PyObject *Py_UNUSED(ignored))
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
