/* The Lane type (its ring is in _lane.h) and unpack_lane, the writer's decoder of its frames.
 * Included by _callsite.c after _lane.h. */
#ifndef HFT_LANE_TYPE_H
#define HFT_LANE_TYPE_H

#include "_lane.h"
#include <stdlib.h>

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
    Py_ssize_t shortest = shortest_secret(secrets);
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
    self->cap = (uint64_t)(cap_bytes < LANE_MIN_BYTES ? LANE_MIN_BYTES : cap_bytes);
    self->buf = PyMem_RawMalloc((size_t)self->cap);
    self->sources = PyList_New(0);
    if (self->buf == NULL || self->sources == NULL) {
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
    Py_VISIT(self->sources);
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
    Py_CLEAR(self->sources);
    return 0;
}

static void
lane_dealloc(PyObject *op)
{
    PyTypeObject *type = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    (void)lane_clear(op);
    PyMem_RawFree(((Lane *)op)->buf);
    type->tp_free(op);
    Py_DECREF(type);
}

/* define(pickled_source) -> id: a source's bytes, sent in every frame that uses it. */
static PyObject *
lane_define(PyObject *op, PyObject *pickled)
{
    Lane *self = (Lane *)op;
    if (!PyBytes_CheckExact(pickled) || self->sources == NULL) {
        PyErr_SetString(PyExc_TypeError, "Lane.define takes the pickled source (bytes)");
        return NULL;
    }
    if (PyList_Append(self->sources, pickled) < 0) {
        return NULL;
    }
    return PyLong_FromSsize_t(PyList_GET_SIZE(self->sources) - 1);
}

/* Walk the waiting entries from the head up to about max_bytes: where to stop, how many,
 * the newest seq, and which sources they use (used[id] = 1). */
static uint64_t
lane_walk(Lane *self, uint64_t max_bytes, Py_ssize_t *count, long long *newest, char *used,
          Py_ssize_t nsources, uint64_t *bytes)
{
    uint64_t pos = self->head;
    *count = 0;
    *bytes = 0;
    while (*count < self->records) {
        pos = lane_skip_gap(self, pos);
        const char *entry = self->buf + pos % self->cap;
        uint32_t size = read_u32(entry);
        if (*count > 0 && *bytes + size > max_bytes) {
            break;
        }
        long long seq;
        uint32_t source;
        memcpy(&seq, entry + 4, 8);
        memcpy(&source, entry + 24, 4);
        if (source < (uint32_t)nsources) {
            used[source] = 1;
        }
        *newest = seq > *newest ? seq : *newest;
        *bytes += size;
        (*count)++;
        pos += size;
    }
    return pos;
}

/* Copy the entries from head to end into out, the wrap gap left out (GIL released). */
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
    if (self->records == 0 || self->taking) {
        Py_RETURN_NONE;
    }
    Py_ssize_t nsources = PyList_GET_SIZE(self->sources), count;
    char *used = PyMem_Calloc((size_t)nsources + 1, 1);
    if (used == NULL) {
        return PyErr_NoMemory();
    }
    long long newest = -1;
    uint64_t bytes, end = lane_walk(self, (uint64_t)max_bytes, &count, &newest, used, nsources,
                                    &bytes);
    uint64_t size = 8 + 1 + 4 + 4 + bytes;
    for (Py_ssize_t i = 0; i < nsources; i++) {
        size += used[i] ? 8 + (uint64_t)PyBytes_GET_SIZE(PyList_GET_ITEM(self->sources, i)) : 0;
    }
    PyObject *frame = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (frame == NULL) {
        PyMem_Free(used);
        return NULL;
    }
    char *p = PyBytes_AS_STRING(frame);
    uint64_t payload = size - 8;
    uint32_t ndefs = 0, nrecords = (uint32_t)count;
    put(&p, &payload, 8);
    put(&p, "L", 1);
    char *ndefs_at = p;
    p += 4;
    for (Py_ssize_t i = 0; i < nsources; i++) {
        if (used[i]) {
            PyObject *def = PyList_GET_ITEM(self->sources, i);
            uint32_t id = (uint32_t)i, len = (uint32_t)PyBytes_GET_SIZE(def);
            put(&p, &id, 4);
            put(&p, &len, 4);
            put(&p, PyBytes_AS_STRING(def), len);
            ndefs++;
        }
    }
    PyMem_Free(used);
    memcpy(ndefs_at, &ndefs, 4);
    put(&p, &nrecords, 4);
    self->taking = 1;
    Py_BEGIN_ALLOW_THREADS lane_copy(self, end, p);
    Py_END_ALLOW_THREADS self->taking = 0;
    self->head = end;
    self->records -= count;
    self->taken += count;
    self->newest_taken = newest > self->newest_taken ? newest : self->newest_taken;
    return Py_BuildValue("(NnL)", frame, count, newest);
}

static PyMethodDef lane_methods[] = {
    {"define", lane_define, METH_O, "define(pickled_source) -> id"},
    {"take", lane_take, METH_O, "take(max_bytes) -> (frame, count, newest_seq) | None"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef lane_members[] = {
    {"pending", Py_T_PYSSIZET, offsetof(Lane, records), Py_READONLY, "records waiting"},
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
    {0, NULL},
};

static PyType_Spec lane_spec = {
    .name = "hft.logging._callsite.Lane",
    .basicsize = sizeof(Lane),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = lane_slots,
};

/* unpack_lane(payload, load_source) -> list of records: a frame's payload ('L' ...) back into
 * record tuples; load_source(bytes) makes a Source of a pickled one (once per frame). */
static PyObject *
unpack_lane(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    Py_buffer view;
    if (nargs != 2 || PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "unpack_lane(payload, load_source)");
        }
        return NULL;
    }
    Reader r = {(const char *)view.buf, (const char *)view.buf + view.len, {NULL}};
    FrameSources sources = {NULL, 0};
    PyObject *records = NULL;
    uint32_t nrecords;
    if (frame_open(&r, args[1], &sources, &nrecords) < 0 ||
        (records = PyList_New(nrecords)) == NULL) {
        goto done;
    }
    for (uint32_t i = 0; i < nrecords; i++) {
        PyObject *record = take_record(&r, &sources);
        if (record == NULL) {
            Py_CLEAR(records);
            goto done;
        }
        PyList_SET_ITEM(records, i, record);
    }
    if (r.p != r.end) {
        Py_CLEAR(records);
        PyErr_SetString(PyExc_ValueError, "lane frame: bytes after its last record");
    }
done:
    frame_sources_clear(&sources);
    reader_clear(&r);
    PyBuffer_Release(&view);
    return records;
}

#endif /* HFT_LANE_TYPE_H */
