/* The Lane type (see lane.h): made with its ring and overflow policy, sources defined on it,
 * and taken from by the dispatcher (take) while no mover runs; the mover's methods are in
 * lane_mover.c. Its module (caller.c) makes the type from hft_lane_spec. */
#include "lane.h"
#include "secret.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LANE_MIN_BYTES (64 * 1024)

static PyObject *
lane_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    Py_ssize_t cap_bytes, max_records, wake_at = -1;
    const char *policy;
    double timeout;
    PyObject *harmless, *secrets, *refused, *wake = Py_None, *learn = Py_None;
    static char *names[] = {"capacity_bytes", "max_records", "policy", "block_timeout_s",
                            "harmless",       "secrets",     "refused", "wake",
                            "wake_at",        "learn",       NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "nnsdO!O!O|OnO:Lane", names, &cap_bytes,
                                     &max_records, &policy, &timeout, &PySet_Type, &harmless,
                                     &PyTuple_Type, &secrets, &refused, &wake, &wake_at,
                                     &learn)) {
        return NULL;
    }
    int policy_id = strcmp(policy, "block") == 0         ? POLICY_BLOCK
                    : strcmp(policy, "drop_newest") == 0 ? POLICY_DROP_NEWEST
                    : strcmp(policy, "drop_oldest") == 0 ? POLICY_DROP_OLDEST
                                                         : -1;
    Py_ssize_t shortest = hft_shortest_secret(secrets);
    if (policy_id < 0 || shortest == -2 || max_records < 1 || !PyCallable_Check(refused) ||
        (wake != Py_None && !PyCallable_Check(wake)) ||
        (learn != Py_None && !PyCallable_Check(learn))) {
        PyErr_SetString(PyExc_ValueError, "Lane: bad policy, secrets, max_records or callable");
        return NULL;
    }
    Lane *self = (Lane *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->owner = getpid();
    pthread_mutex_init(&self->take_mu, NULL);
    hft_mover_init(&self->mover);
    self->cap = (uint64_t)(cap_bytes < LANE_MIN_BYTES ? LANE_MIN_BYTES : cap_bytes);
    self->buf = PyMem_RawMalloc((size_t)self->cap);
    if (self->buf == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->max_records = max_records;
    self->policy = policy_id;
    self->block_timeout_s = timeout;
    self->harmless = Py_NewRef(harmless);
    self->secrets = Py_NewRef(secrets);
    self->shortest = shortest;
    self->refused = Py_NewRef(refused);
    self->wake = Py_NewRef(wake);
    self->wake_at = wake_at;
    self->learn = Py_NewRef(learn);
    self->newest = self->newest_taken = -1;
    return (PyObject *)self;
}

static int
lane_traverse(PyObject *op, visitproc visit, void *arg)
{
    Lane *self = (Lane *)op;
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(self->harmless);
    Py_VISIT(self->secrets);
    Py_VISIT(self->refused);
    Py_VISIT(self->wake);
    Py_VISIT(self->learn);
    return 0;
}

static int
lane_clear(PyObject *op)
{
    Lane *self = (Lane *)op;
    Py_CLEAR(self->harmless);
    Py_CLEAR(self->secrets);
    Py_CLEAR(self->refused);
    Py_CLEAR(self->wake);
    Py_CLEAR(self->learn);
    return 0;
}

static void
lane_dealloc(PyObject *op)
{
    PyTypeObject *type = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    (void)lane_clear(op);
    Lane *self = (Lane *)op;
    int ours = self->owner == getpid(); /* in a forked child the parent's threads are gone */
    if (self->mover.running && ours) {
        hft_mover_join(&self->mover); /* it never takes the GIL: no need to release it */
        self->mover.running = 0;
    }
    hft_mover_free_frames(&self->mover);
    for (Py_ssize_t i = 0; i < self->ndefs; i++) {
        PyMem_RawFree(self->defs[i].data);
    }
    PyMem_RawFree(self->defs);
    if (ours) { /* a forked child may have them locked by a thread that is not there */
        pthread_mutex_destroy(&self->take_mu);
        hft_mover_destroy(&self->mover);
    }
    PyMem_RawFree(self->buf);
    type->tp_free(op);
    Py_DECREF(type);
}

/* A copy of pickled's bytes (raw memory: the mover reads it without the GIL), or NULL. */
static char *
def_bytes(PyObject *pickled)
{
    if (!PyBytes_CheckExact(pickled) || PyBytes_GET_SIZE(pickled) > UINT32_MAX) {
        PyErr_SetString(PyExc_TypeError, "Lane.define takes the pickled source (bytes)");
        return NULL;
    }
    size_t len = (size_t)PyBytes_GET_SIZE(pickled);
    char *data = PyMem_RawMalloc(len ? len : 1);
    if (data == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    return memcpy(data, PyBytes_AS_STRING(pickled), len);
}

/* redefine(id, pickled_source): the id now stands for another source (the task context's ids
 * are reused, see pipeline/context_ids.py). Only sound once no waiting record uses the id: a
 * frame copies the definitions it uses when it is taken. */
static PyObject *
lane_redefine(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    Lane *self = (Lane *)op;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "Lane.redefine takes an id and the pickled source");
        return NULL;
    }
    Py_ssize_t id = PyLong_AsSsize_t(args[0]);
    if (id == -1 && PyErr_Occurred()) {
        return NULL;
    }
    char *data = def_bytes(args[1]);
    if (data == NULL) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS pthread_mutex_lock(&self->take_mu); /* the mover reads defs */
    Py_END_ALLOW_THREADS if (id < 0 || id >= self->ndefs)
    {
        pthread_mutex_unlock(&self->take_mu);
        PyMem_RawFree(data);
        PyErr_SetString(PyExc_ValueError, "Lane.redefine: no such id");
        return NULL;
    }
    char *old = self->defs[id].data;
    self->defs[id].data = data;
    self->defs[id].len = (uint32_t)PyBytes_GET_SIZE(args[1]);
    pthread_mutex_unlock(&self->take_mu);
    PyMem_RawFree(old);
    Py_RETURN_NONE;
}

/* define(pickled_source) -> id: a source's bytes, sent in every frame that uses it. */
static PyObject *
lane_define(PyObject *op, PyObject *pickled)
{
    Lane *self = (Lane *)op;
    char *data = def_bytes(pickled);
    if (data == NULL) {
        return NULL;
    }
    size_t len = (size_t)PyBytes_GET_SIZE(pickled);
    Py_ssize_t id;
    Py_BEGIN_ALLOW_THREADS pthread_mutex_lock(&self->take_mu); /* the mover reads defs */
    Py_END_ALLOW_THREADS if (self->ndefs == self->defs_cap)
    {
        Py_ssize_t cap = self->defs_cap ? self->defs_cap * 2 : 16;
        LaneDef *defs = PyMem_RawRealloc(self->defs, (size_t)cap * sizeof(LaneDef));
        if (defs == NULL) {
            pthread_mutex_unlock(&self->take_mu);
            PyMem_RawFree(data);
            return PyErr_NoMemory();
        }
        self->defs = defs;
        self->defs_cap = cap;
    }
    id = self->ndefs;
    self->defs[id].data = data;
    self->defs[id].len = (uint32_t)len;
    self->ndefs++;
    pthread_mutex_unlock(&self->take_mu);
    return PyLong_FromSsize_t(id);
}

/* take(max_bytes) -> (frame, count, newest_seq) | None: the oldest waiting records as one
 * frame for the writer (its 8-byte size header included), removed from the ring. */
static PyObject *
lane_take(PyObject *op, PyObject *arg)
{
    Lane *self = (Lane *)op;
    Py_ssize_t max_bytes = PyLong_AsSsize_t(arg);
    if (max_bytes < 0 && PyErr_Occurred()) {
        return NULL;
    }
    if (LOAD(self->records) == 0 || self->mover.running ||
        pthread_mutex_trylock(&self->take_mu) != 0) {
        Py_RETURN_NONE; /* the mover takes them (or is taking now) */
    }
    LanePlan plan;
    if (hft_lane_plan(self, (uint64_t)max_bytes, &plan) < 0) {
        pthread_mutex_unlock(&self->take_mu);
        return PyErr_NoMemory();
    }
    PyObject *frame = plan.count == 0 ? NULL : PyBytes_FromStringAndSize(NULL, (Py_ssize_t)plan.size);
    if (frame == NULL) {
        PyMem_RawFree(plan.used);
        pthread_mutex_unlock(&self->take_mu);
        if (plan.count == 0) {
            Py_RETURN_NONE;
        }
        return NULL;
    }
    char *out = PyBytes_AS_STRING(frame);
    Py_BEGIN_ALLOW_THREADS hft_lane_fill(self, &plan, out); /* producers write beyond the tail */
    Py_END_ALLOW_THREADS hft_lane_commit(self, &plan);
    pthread_mutex_unlock(&self->take_mu);
    return Py_BuildValue("(NnL)", frame, plan.count, plan.newest);
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


static PyMethodDef lane_methods[] = {
    {"define", lane_define, METH_O, "define(pickled_source) -> id"},
    {"redefine", (PyCFunction)(void (*)(void))lane_redefine, METH_FASTCALL,
     "redefine(id, pickled_source): once no waiting record uses id"},
    {"take", lane_take, METH_O, "take(max_bytes) -> (frame, count, newest_seq) | None"},
    {"start_mover", hft_lane_start_mover, METH_VARARGS,
     "start_mover(fd, next_number, sent_through, frames, unsent_from, offset, frame_bytes, "
     "max_frames, max_bytes, poll_s)"},
    {"stop_mover", hft_lane_stop_mover, METH_NOARGS,
     "stop_mover() -> (frames, unsent_from, offset, sent_through, next_number, error)"},
    {"submit", hft_lane_submit, METH_VARARGS, "submit(frame, records) -> number"},
    {"ack", hft_lane_ack, METH_O, "ack(number) -> records freed"},
    {"move_now", hft_lane_move_now, METH_NOARGS, "move_now(): every waiting record into frames"},
    {"mover_stats", hft_lane_mover_stats, METH_NOARGS,
     "mover_stats() -> (running, frames, records, bytes, sent_through, next_number, error, "
     "moved)"},
    {"account", lane_account, METH_NOARGS, "account() -> (count, newest_taken)"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef lane_members[] = {
    {"max_records", Py_T_PYSSIZET, offsetof(Lane, max_records), Py_READONLY, "capacity"},
    {"pushed", Py_T_LONGLONG, offsetof(Lane, pushed), Py_READONLY, "records written in"},
    {"taken", Py_T_LONGLONG, offsetof(Lane, taken), Py_READONLY, "records taken out"},
    {"evicted", Py_T_LONGLONG, offsetof(Lane, evicted), Py_READONLY, "dropped oldest"},
    {"refused", Py_T_LONGLONG, offsetof(Lane, refusals), Py_READONLY, "refused (full)"},
    {"newest", Py_T_LONGLONG, offsetof(Lane, newest), Py_READONLY, "newest seq written"},
    {"newest_taken", Py_T_LONGLONG, offsetof(Lane, newest_taken), Py_READONLY,
     "newest seq taken"},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef lane_getset[] = {
    {"pending", lane_get_pending, NULL, "records waiting (or taken, not yet accounted)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot lane_slots[] = {
    {Py_tp_doc, "Lane(capacity_bytes, max_records, policy, block_timeout_s, harmless, secrets, "
                "refused, wake=None, wake_at=-1, learn=None): plain records as bytes, taken a frame at a "
                "time."},
    {Py_tp_new, lane_new},
    {Py_tp_dealloc, lane_dealloc},
    {Py_tp_traverse, lane_traverse},
    {Py_tp_clear, lane_clear},
    {Py_tp_methods, lane_methods},
    {Py_tp_members, lane_members},
    {Py_tp_getset, lane_getset},
    {0, NULL},
};

PyType_Spec hft_lane_spec = {
    .name = "hft.logging.native._caller.Lane",
    .basicsize = sizeof(Lane),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = lane_slots,
};
