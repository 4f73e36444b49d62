/* The Emitter (callsite.h): the C call site of hft.logging.pipeline.callsites.
 *
 * Emitter(ring, next_seq, level, source, capacity, full, exc=False) is a callable that does what the Python closure does,
 *
 *     if exc and fields.get("exc_info") is True: fields["exc_info"] = sys.exc_info()
 *     record = (next_seq(), time.time_ns(), level, source, msg, fields)
 *     used = len(ring)
 *     if capacity < 0 or used < capacity: ring.append(record)
 *     else: full(record)
 *     if used + 1 == wake_at: wake()       # the ring just reached gc_threshold: dispatch now
 *
 * with two differences. It costs about half as much: no Python frame. And the common record
 * is untracked by the garbage collector at once. CPython never untracks a tuple that holds a
 * dict (the fields) or a tuple subclass (the source), so records waiting in a full ring used
 * to be promoted to the oldest generation and rescanned by full collections: pauses of 5 to
 * 9 ms every ~60,000 records.
 *
 * When a record may be untracked: plain.h (plain fields, a plain message, a plain source).
 * A record holding a traceback (exc_info), a user's object or a bound context with one stays
 * tracked, as in Python.
 *
 * Every call, first of all, adds one to its Counter (counter=): the calls of one logger at one
 * level, shared by all their call sites in a pipeline, read by Prometheus when it pushes or is
 * scraped. It counts calls, not records: one refused or dropped later is counted all the same.
 * Emitter(None, ...) is a count-only call site: a level only a counting backend wants; it adds
 * one and does nothing else (no record, no ring, no lane). Emitter(..., keep=True) is a
 * backtrace's: see keep.c.
 *
 * Given the task context's variable (context=, with derive=), a call first reads it
 * (context.c): while a context is set, the record takes the source the frame made for this call
 * site (its fields merged under the bound context) and that source's lane id. Given trace=
 * (logging.trace_context), a call reads the current OpenTelemetry span (trace.c) and its
 * record carries the span's ids: as the lane entry's first field, or fields[TRACE_FIELD].
 * Without it the call site is the one it was before: another vectorcall, the same code.
 */
#include "callsite.h"
#include "caller.h"
#include "context.h"
#include "counter.h"
#include "emitter.h"
#include "keep.h"
#include "lane.h"
#include "plain.h"
#include "sequence.h"

/* fields["exc_info"] = sys.exc_info() when the caller passed exc_info=True. */
static int
capture_exc_info(PyObject *fields, PyObject *exc_info_key)
{
    PyObject *flag = PyDict_GetItemWithError(fields, exc_info_key);
    if (flag != Py_True) {
        return flag == NULL && PyErr_Occurred() ? -1 : 0;
    }
    PyObject *info = hft_exc_info_now();
    if (info == NULL) {
        return -1;
    }
    int rc = PyDict_SetItem(fields, exc_info_key, info);
    Py_DECREF(info);
    return rc;
}

/* An armed call site times itself, once, and appends the duration to samples. Arming sets a
 * flag; the method object never changes, so a caller holding a reference to it
 * (log = logger.info) keeps the fast path. */
PyObject *
hft_timed_call(Emitter *self, HftCallBody body, PyObject *const *args, size_t nargsf,
               PyObject *kwnames)
{
    self->sample = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0); /* as time.perf_counter_ns() */
    PyObject *result = body(self, args, nargsf, kwnames);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (result != NULL && self->samples_append != NULL) {
        long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
        PyObject *took = PyLong_FromLongLong(ns);
        PyObject *done = took == NULL ? NULL : PyObject_CallOneArg(self->samples_append, took);
        Py_XDECREF(took);
        if (done == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        Py_DECREF(done);
    }
    return result;
}

/* The call of a logging method (its vectorcall). */
static PyObject *
emitter_call(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Emitter *self = (Emitter *)op;
    if (!self->sample) {
        return hft_emit(self, args, nargsf, kwnames);
    }
    return hft_timed_call(self, hft_emit, args, nargsf, kwnames);
}

static PyObject *
count(Emitter *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    (void)args, (void)nargsf, (void)kwnames;
    (*self->calls_n)++;
    Py_RETURN_NONE;
}

/* The call of a count-only call site (its vectorcall, chosen at construction): the count and
 * nothing else; any arguments are taken, as nop takes them. Timed when armed, as a logging
 * method is: the call-latency samples are what callers pay, at every level that is not nop. */
static PyObject *
count_only(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Emitter *self = (Emitter *)op;
    if (!self->sample) {
        (*self->calls_n)++;
        Py_RETURN_NONE;
    }
    return hft_timed_call(self, count, args, nargsf, kwnames);
}

/* A record of `source` (the logger's, or the one its task context made), to the lane under
 * lane_source when to_lane; `trace`: the span's ids, or NULL (a constant in hft_emit). */
static Py_ALWAYS_INLINE inline PyObject *
emit_as(Emitter *self, PyObject *source, int to_lane, uint32_t lane_source, PyObject *trace,
        PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (self->ring == NULL) { /* cleared by the GC while its cycle was being torn down */
        PyErr_SetString(PyExc_RuntimeError, "this logging method was cleared with its logger");
        return NULL;
    }
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError,
                     "a logging method takes exactly one positional argument (the message), "
                     "%zd given",
                     nargs);
        return NULL;
    }
    if (to_lane) { /* a plain record: into the lane as bytes, no object made */
        Lane *l = (Lane *)self->lane;
        int done = trace == NULL ? hft_lane_push(l, self->counter, self->next_seq, self->level_c,
                                                 lane_source, args[0], args + 1, kwnames,
                                                 &self->named)
                                 : hft_lane_push_traced(l, self->counter, self->next_seq,
                                                        self->level_c, lane_source, args[0],
                                                        args + 1, kwnames, &self->named, trace);
        if (done != 0) {
            return done < 0 ? NULL : Py_NewRef(Py_None);
        }
    }
    PyObject *fields = PyDict_New();
    if (fields == NULL) {
        return NULL;
    }
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; i < nkw; i++) {
        if (PyDict_SetItem(fields, PyTuple_GET_ITEM(kwnames, i), args[1 + i]) < 0) {
            Py_DECREF(fields);
            return NULL;
        }
    }
    if ((self->exc && nkw && capture_exc_info(fields, self->exc_info_key) < 0) ||
        (trace != NULL && PyDict_SetItem(fields, self->trace_field, trace) < 0)) {
        Py_DECREF(fields);
        return NULL;
    }
    PyObject *seq = self->counter != NULL ? PyLong_FromLongLong((*self->counter)++)
                                          : PyObject_CallNoArgs(self->next_seq);
    PyObject *ts = seq == NULL ? NULL : hft_now_ns();
    PyObject *record = ts == NULL ? NULL : PyTuple_New(6);
    if (record == NULL) {
        Py_XDECREF(seq);
        Py_XDECREF(ts);
        Py_DECREF(fields);
        return NULL;
    }
    PyTuple_SET_ITEM(record, 0, seq);
    PyTuple_SET_ITEM(record, 1, ts);
    PyTuple_SET_ITEM(record, 2, Py_NewRef(self->level));
    PyTuple_SET_ITEM(record, 3, Py_NewRef(source));
    PyTuple_SET_ITEM(record, 4, Py_NewRef(args[0]));
    PyTuple_SET_ITEM(record, 5, fields);
    if (plain(fields) && plain(args[0]) && plain_source(source)) {
        PyObject_GC_UnTrack(record); /* nothing it holds can lead back to it */
    }
    PyObject *sink = self->append;
    Py_ssize_t used = PyObject_Size(self->ring);
    if (used < 0) {
        Py_DECREF(record);
        return NULL;
    }
    if (self->capacity >= 0 && used >= self->capacity) {
        sink = self->full;
    }
    PyObject *result = PyObject_CallOneArg(sink, record);
    Py_DECREF(record);
    if (result == NULL) {
        return NULL;
    }
    Py_DECREF(result);
    int wake = used + 1 == self->wake_at; /* crossing, once per fill */
    if (self->idle != NULL && *self->idle) { /* the first record for a sleeping dispatcher */
        *self->idle = 0;
        wake = 1;
    }
    if (wake && self->wake != Py_None) {
        result = PyObject_CallNoArgs(self->wake);
        if (result == NULL) {
            return NULL;
        }
        Py_DECREF(result);
    }
    Py_RETURN_NONE;
}

/* The call after its count: its task context's source, then emit_as (trace: as there). */
static Py_ALWAYS_INLINE inline PyObject *
emit_in(Emitter *self, PyObject *trace, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    int to_lane = self->lane != NULL;
    PyObject *entry = NULL;
    int found = self->context == NULL ? 0
                                      : hft_context_entry(self->context, (PyObject *)self,
                                                          self->derive, &entry);
    if (found == 0) {
        return emit_as(self, self->source, to_lane, self->lane_source, trace, args, nargsf,
                       kwnames);
    }
    if (found < 0) {
        return NULL;
    }
    long id = PyLong_AsLong(PyTuple_GET_ITEM(entry, 1)); /* -1: the classic path */
    PyObject *result = id == -1 && PyErr_Occurred()
                           ? NULL
                           : emit_as(self, PyTuple_GET_ITEM(entry, 0), to_lane && id >= 0,
                                     (uint32_t)id, trace, args, nargsf, kwnames);
    Py_DECREF(entry);
    return result;
}

PyObject *
hft_emit(Emitter *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    (*self->calls_n)++; /* first: a call refused or dropped below is a call all the same */
    return emit_in(self, NULL, args, nargsf, kwnames);
}

/* A traced call site's call (trace=): hft_emit's, the current span's ids carried. */
static PyObject *
emit_traced(Emitter *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    (*self->calls_n)++;
    PyObject *ids = NULL, *result = hft_emitter_trace(self, &ids) < 0
                                        ? NULL
                                        : emit_in(self, ids, args, nargsf, kwnames);
    Py_XDECREF(ids);
    return result;
}

static PyObject *
traced_call(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Emitter *self = (Emitter *)op;
    if (!self->sample) {
        return emit_traced(self, args, nargsf, kwnames);
    }
    return hft_timed_call(self, emit_traced, args, nargsf, kwnames);
}

static PyObject *
emitter_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *ring, *next_seq, *level, *source, *full, *wake = Py_None, *lane = Py_None;
    PyObject *samples = Py_None, *calls = Py_None, *context = Py_None, *derive = Py_None;
    PyObject *trace = Py_None;
    Py_ssize_t capacity, wake_at = -1, lane_source = -1;
    int exc = 0, keeps = 0;
    static char *names[] = {"ring", "next_seq", "level", "source",      "capacity",
                            "full", "exc",      "wake",  "wake_at",     "lane",
                            "lane_source",      "samples", "counter",   "context",
                            "derive",           "keep",  "trace",     NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOnO|pOnOnOOOOpO:Emitter", names, &ring,
                                     &next_seq, &level, &source, &capacity, &full, &exc, &wake,
                                     &wake_at, &lane, &lane_source, &samples, &calls, &context,
                                     &derive, &keeps, &trace)) {
        return NULL;
    }
    if (keeps && (ring == Py_None || capacity >= 0 || lane != Py_None || wake != Py_None)) {
        PyErr_SetString(PyExc_TypeError,
                        "Emitter: keep=True takes a ring, capacity < 0, no lane and no wake");
        return NULL;
    }
    long level_c = PyLong_AsLong(level);
    if (level_c == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (wake != Py_None && !PyCallable_Check(wake)) {
        PyErr_SetString(PyExc_TypeError, "Emitter: wake must be callable or None");
        return NULL;
    }
    if (context != Py_None && (!PyContextVar_CheckExact(context) || !PyCallable_Check(derive))) {
        PyErr_SetString(PyExc_TypeError, "Emitter: context must be a ContextVar, with derive");
        return NULL;
    }
    if (!PyCallable_Check(next_seq) || (capacity >= 0 && !PyCallable_Check(full))) {
        PyErr_SetString(PyExc_TypeError, "Emitter: next_seq and full must be callable");
        return NULL;
    }
    /* Construction, not the call: the module state is looked up here only. */
    PyObject *module = PyType_GetModuleByDef(type, &hft_caller_module);
    if (module == NULL) {
        return NULL;
    }
    CallerState *state = PyModule_GetState(module);
    if (lane != Py_None && (!PyObject_TypeCheck(lane, (PyTypeObject *)state->lane_type) ||
                            lane_source < 0 || lane_source > UINT32_MAX)) {
        PyErr_SetString(PyExc_TypeError, "Emitter: lane must be a Lane, with its lane_source");
        return NULL;
    }
    if (calls != Py_None && !PyObject_TypeCheck(calls, (PyTypeObject *)state->counter_type)) {
        PyErr_SetString(PyExc_TypeError, "Emitter: counter must be a Counter or None");
        return NULL;
    }
    int count_only_site = ring == Py_None; /* a level only a counting backend wants */
    if (count_only_site && calls == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "Emitter: a count-only call site (ring=None) needs a counter");
        return NULL;
    }
    PyObject *append = count_only_site ? NULL : PyObject_GetAttrString(ring, "append");
    if (append == NULL && !count_only_site) {
        return NULL;
    }
    Emitter *self = (Emitter *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_XDECREF(append);
        return NULL;
    }
    self->vectorcall = keeps             ? hft_keep_call
                       : count_only_site ? count_only
                       : trace != Py_None ? traced_call
                                          : emitter_call;
    self->trace_field = Py_NewRef(state->trace_field);
    if (trace != Py_None && !count_only_site) {
        self->traced = 1;
        if (hft_trace_init(&self->trace, trace) < 0) {
            Py_XDECREF(append); /* not stored yet: dealloc would not let it go */
            Py_DECREF(self);
            return NULL;
        }
    }
    self->keep = keeps;
    self->calls = calls == Py_None ? NULL : Py_NewRef(calls);
    self->calls_n = calls == Py_None ? &self->own_calls : &((Counter *)calls)->value;
    self->ring = Py_NewRef(ring);
    self->append = append;
    self->next_seq = Py_NewRef(next_seq);
    self->level = Py_NewRef(level);
    self->source = Py_NewRef(source);
    self->full = Py_NewRef(full);
    self->wake = Py_NewRef(wake);
    self->capacity = capacity;
    self->wake_at = wake_at;
    self->exc = exc;
    self->exc_info_key = Py_NewRef(state->exc_info_key);
    self->lane = lane == Py_None ? NULL : Py_NewRef(lane);
    self->context = context == Py_None ? NULL : Py_NewRef(context);
    self->derive = context == Py_None ? NULL : Py_NewRef(derive);
    if (samples != Py_None) {
        self->samples_append = PyObject_GetAttrString(samples, "append");
        if (self->samples_append == NULL) {
            Py_DECREF(self);
            return NULL;
        }
    }
    self->lane_source = (uint32_t)lane_source;
    self->level_c = (int32_t)level_c;
    if (Py_IS_TYPE(next_seq, (PyTypeObject *)state->sequence_type)) {
        self->counter = &((Sequence *)next_seq)->next; /* next_seq is held: the pointer lives */
        self->idle = &((Sequence *)next_seq)->idle;
    }
    return (PyObject *)self;
}

static int
emitter_traverse(PyObject *op, visitproc visit, void *arg)
{
    Emitter *self = (Emitter *)op;
    Py_VISIT(Py_TYPE(op)); /* a heap type: its instances hold it */
    Py_VISIT(self->ring);
    Py_VISIT(self->append);
    Py_VISIT(self->next_seq);
    Py_VISIT(self->level);
    Py_VISIT(self->source);
    Py_VISIT(self->full);
    Py_VISIT(self->wake);
    Py_VISIT(self->lane);
    Py_VISIT(self->samples_append);
    Py_VISIT(self->named);
    Py_VISIT(self->context);
    Py_VISIT(self->derive);
    return hft_trace_traverse(&self->trace, visit, arg);
}

static int
emitter_clear(PyObject *op)
{
    Emitter *self = (Emitter *)op;
    Py_CLEAR(self->ring);
    Py_CLEAR(self->append);
    Py_CLEAR(self->next_seq);
    Py_CLEAR(self->level);
    Py_CLEAR(self->source);
    Py_CLEAR(self->full);
    Py_CLEAR(self->wake);
    Py_CLEAR(self->exc_info_key);
    Py_CLEAR(self->lane);
    Py_CLEAR(self->samples_append);
    Py_CLEAR(self->named);
    Py_CLEAR(self->context);
    Py_CLEAR(self->derive);
    Py_CLEAR(self->trace_field);
    hft_trace_clear(&self->trace);
    self->counter = NULL; /* it pointed into next_seq */
    return 0;
}

static void
emitter_dealloc(PyObject *op)
{
    PyTypeObject *type = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    if (((Emitter *)op)->weakreflist != NULL) {
        PyObject_ClearWeakRefs(op);
    }
    (void)emitter_clear(op);
    Py_CLEAR(((Emitter *)op)->calls); /* not tp_clear's: see Emitter.calls */
    type->tp_free(op);
    Py_DECREF(type); /* a heap type: each instance held a reference */
}

static PyObject *
emitter_repr(PyObject *op)
{
    Emitter *self = (Emitter *)op;
    if (self->vectorcall == count_only) {
        return PyUnicode_FromFormat("<hft call site level=%R count-only>", self->level);
    }
    if (self->keep) {
        return PyUnicode_FromFormat("<hft call site level=%R kept>", self->level);
    }
    return PyUnicode_FromFormat("<hft call site level=%R capacity=%zd>", self->level,
                                self->capacity);
}

static PyMemberDef emitter_members[] = {
    {"level", Py_T_OBJECT_EX, offsetof(Emitter, level), Py_READONLY, "the level of its records"},
    {"source", Py_T_OBJECT_EX, offsetof(Emitter, source), Py_READONLY, "the logger's Source"},
    {"capacity", Py_T_PYSSIZET, offsetof(Emitter, capacity), 0,
     "room checked before appending (0: every call goes to full)"},
    {"sample", Py_T_INT, offsetof(Emitter, sample), 0,
     "1: time the next call and append its duration (ns) to samples"},
    {"traced", Py_T_INT, offsetof(Emitter, traced), Py_READONLY, "1: reads the span (trace=)"},
    {"__vectorcalloffset__", Py_T_PYSSIZET, offsetof(Emitter, vectorcall), Py_READONLY, NULL},
    {"__weaklistoffset__", Py_T_PYSSIZET, offsetof(Emitter, weakreflist), Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot emitter_slots[] = {
    {Py_tp_doc, "Emitter(ring, next_seq, level, source, capacity, full, exc=False, wake=None, "
                "wake_at=-1, lane=None, lane_source=-1, samples=None, counter=None, context=None, "
                "derive=None, keep=False, trace=None): a logging method; ring=None: a count-only "
                "one; keep=True: a backtrace's; trace: a TraceSpec, read at each call."},
    {Py_tp_new, emitter_new},
    {Py_tp_dealloc, emitter_dealloc},
    {Py_tp_traverse, emitter_traverse},
    {Py_tp_clear, emitter_clear},
    {Py_tp_repr, emitter_repr},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_members, emitter_members},
    {0, NULL},
};

PyType_Spec hft_emitter_spec = {
    .name = "hft.logging.native._caller.Emitter",
    .basicsize = sizeof(Emitter),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = emitter_slots,
};

/* nop(*args, **kwargs) -> None: a disabled level. A builtin costs the caller a C call and
 * nothing else; a Python function with *args and **kwargs costs a frame, a tuple and a dict. */
PyObject *
hft_nop(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)module, (void)args, (void)nargs, (void)kwnames;
    Py_RETURN_NONE;
}
