/* Rate limits (limiter.h): the C of hft.logging.pipeline.limits, whose _PyLimiter and
 * _PyLimitSites are the pure-Python twins.
 *
 * Limiter(target, per, interval_ns, report, pending, counter=None) is a logging method:
 *
 *     now = time.monotonic_ns()
 *     if now >= window_end:                       # a new window, from this call on
 *         summary = take() if held else None      # the last one's held calls, said once
 *         window_end, passed = now + interval_ns, 0
 *         if summary: report(summary)
 *     if passed < per: passed += 1; return target(msg, **fields)
 *     counter.value += 1; held += 1               # held back: counted, kept if first or last
 *     if not queued: queued = 1; pending(self)    # the dispatcher sweeps it (sweep())
 *
 * A held call costs a clock read, a tuple of its arguments and an add: no record, no lane.
 * take() gives (held, first, first_names, last, last_names), each call as (msg, *values) and
 * its keyword names; the report builds the summary record from it. State is updated before
 * anything is called out (target, report, pending), so a thread that takes the GIL meanwhile
 * sees whole windows: every call is let through or held exactly once.
 *
 * logger.limit, the other half of the concern, is LimitSites (limit_sites.c).
 */
#include "limiter.h"
#include "caller.h"
#include "counter.h"
#include <time.h>

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *target;  /* the logging method calls are let through to */
    PyObject *report;  /* report(summary): a window with held calls has ended */
    PyObject *pending; /* pending(limiter): the window's first held call (the sweep's queue) */
    PyObject *calls;   /* the Counter held calls are added to (NULL: own_calls) */
    unsigned long long *calls_n;
    unsigned long long own_calls;
    long long per, interval_ns, window_end, passed, held;
    long long held_total;
    int queued;        /* in the sweep's queue: pending() was called and sweep() kept it */
    PyObject *first, *first_names, *last, *last_names;
} Limiter;

static long long
monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* as time.monotonic_ns() */
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The held calls of the window as (held, first, first_names, last, last_names); held reset. */
static PyObject *
take(Limiter *self)
{
    PyObject *last = self->last != NULL ? self->last : self->first;
    PyObject *last_names = self->last != NULL ? self->last_names : self->first_names;
    PyObject *summary = Py_BuildValue("(LOOOO)", self->held, self->first, self->first_names,
                                      last, last_names);
    if (summary == NULL) {
        return NULL;
    }
    self->held = 0;
    Py_CLEAR(self->first);
    Py_CLEAR(self->first_names);
    Py_CLEAR(self->last);
    Py_CLEAR(self->last_names);
    return summary;
}

static int
call_out(PyObject *callable, PyObject *arg)
{
    PyObject *result = PyObject_CallOneArg(callable, arg);
    Py_XDECREF(result);
    return result == NULL ? -1 : 0;
}

static PyObject *
hold(Limiter *self, PyObject *const *args, PyObject *kwnames)
{
    Py_ssize_t n = 1 + (kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames));
    PyObject *call = PyTuple_New(n);
    if (call == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTuple_SET_ITEM(call, i, Py_NewRef(args[i]));
    }
    PyObject *names = Py_NewRef(kwnames != NULL ? kwnames : Py_None);
    (*self->calls_n)++;
    self->held_total++;
    if (self->held++ == 0) {
        Py_XSETREF(self->first, call);
        Py_XSETREF(self->first_names, names);
    } else {
        Py_XSETREF(self->last, call);
        Py_XSETREF(self->last_names, names);
    }
    if (!self->queued) {
        self->queued = 1;
        if (call_out(self->pending, (PyObject *)self) < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *
limiter_call(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Limiter *self = (Limiter *)op;
    if (self->target == NULL) { /* cleared by the GC while its cycle was being torn down */
        PyErr_SetString(PyExc_RuntimeError, "this limited method was cleared with its logger");
        return NULL;
    }
    long long now = monotonic_ns();
    if (now >= self->window_end) {
        PyObject *summary = self->held ? take(self) : NULL;
        if (summary == NULL && PyErr_Occurred()) {
            return NULL;
        }
        self->window_end = now + self->interval_ns;
        self->passed = 0;
        if (summary != NULL) {
            int rc = call_out(self->report, summary);
            Py_DECREF(summary);
            if (rc < 0) {
                return NULL;
            }
        }
    }
    if (self->passed < self->per) {
        self->passed++;
        return PyObject_Vectorcall(self->target, args, nargsf, kwnames);
    }
    if (PyVectorcall_NARGS(nargsf) != 1) {
        PyErr_Format(PyExc_TypeError,
                     "a logging method takes exactly one positional argument (the message), "
                     "%zd given",
                     PyVectorcall_NARGS(nargsf));
        return NULL;
    }
    return hold(self, args, kwnames);
}

/* sweep(force=False) -> bool: report the held calls of a window that has ended (or of the
 * current one: force, at shutdown); True while it still holds calls (kept in the queue). */
static PyObject *
limiter_sweep(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    Limiter *self = (Limiter *)op;
    int force = nargs > 0 ? PyObject_IsTrue(args[0]) : 0;
    if (nargs > 1 || force < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "sweep(force=False)");
        }
        return NULL;
    }
    PyObject *summary = NULL;
    if (self->held && (force || monotonic_ns() >= self->window_end)) {
        summary = take(self);
        if (summary == NULL) {
            return NULL;
        }
    }
    int keep = self->held > 0;
    self->queued = keep;
    if (summary != NULL) {
        int rc = self->report == NULL ? 0 : call_out(self->report, summary);
        Py_DECREF(summary);
        if (rc < 0) {
            return NULL;
        }
    }
    return PyBool_FromLong(keep);
}

/* retarget(target, counter=None): the logger was rebound; the window and its held calls stay. */
static PyObject *
limiter_retarget(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    Limiter *self = (Limiter *)op;
    if (nargs < 1 || nargs > 2 || !PyCallable_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "retarget(target, counter=None): target callable");
        return NULL;
    }
    PyObject *counter = nargs > 1 ? args[1] : Py_None;
    PyObject *module = PyType_GetModuleByDef(Py_TYPE(op), &hft_caller_module);
    if (module == NULL) {
        return NULL;
    }
    PyObject *counter_type = ((CallerState *)PyModule_GetState(module))->counter_type;
    if (counter != Py_None && !PyObject_TypeCheck(counter, (PyTypeObject *)counter_type)) {
        PyErr_SetString(PyExc_TypeError, "Limiter: counter must be a Counter or None");
        return NULL;
    }
    Py_XSETREF(self->target, Py_NewRef(args[0]));
    Py_CLEAR(self->calls); /* calls_n points into it: repointed below */
    self->calls = counter == Py_None ? NULL : Py_NewRef(counter);
    self->calls_n = counter == Py_None ? &self->own_calls : &((Counter *)counter)->value;
    Py_RETURN_NONE;
}

static PyObject *
limiter_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *target, *report, *pending, *counter = Py_None;
    long long per, interval_ns;
    static char *names[] = {"target", "per", "interval_ns", "report", "pending", "counter", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OLLOO|O:Limiter", names, &target, &per,
                                     &interval_ns, &report, &pending, &counter)) {
        return NULL;
    }
    if (per < 1 || interval_ns < 1) {
        PyErr_SetString(PyExc_ValueError, "Limiter: per and interval_ns must be 1 or more");
        return NULL;
    }
    if (!PyCallable_Check(report) || !PyCallable_Check(pending)) {
        PyErr_SetString(PyExc_TypeError, "Limiter: report and pending must be callable");
        return NULL;
    }
    Limiter *self = (Limiter *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->vectorcall = limiter_call;
    self->calls_n = &self->own_calls;
    self->per = per;
    self->interval_ns = interval_ns;
    self->report = Py_NewRef(report);
    self->pending = Py_NewRef(pending);
    PyObject *rc = limiter_retarget((PyObject *)self, (PyObject *[]){target, counter}, 2);
    if (rc == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    Py_DECREF(rc);
    return (PyObject *)self;
}

static int
limiter_traverse(PyObject *op, visitproc visit, void *arg)
{
    Limiter *self = (Limiter *)op;
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(self->target);
    Py_VISIT(self->report);
    Py_VISIT(self->pending);
    Py_VISIT(self->first);
    Py_VISIT(self->first_names);
    Py_VISIT(self->last);
    Py_VISIT(self->last_names);
    return 0;
}

static int
limiter_clear(PyObject *op)
{
    Limiter *self = (Limiter *)op;
    Py_CLEAR(self->target);
    Py_CLEAR(self->report);
    Py_CLEAR(self->pending);
    Py_CLEAR(self->first);
    Py_CLEAR(self->first_names);
    Py_CLEAR(self->last);
    Py_CLEAR(self->last_names);
    return 0;
}

static void
limiter_dealloc(PyObject *op)
{
    PyTypeObject *type = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    (void)limiter_clear(op);
    Py_CLEAR(((Limiter *)op)->calls); /* not tp_clear's: calls_n points into it (as Emitter) */
    type->tp_free(op);
    Py_DECREF(type);
}

static PyObject *
limiter_repr(PyObject *op)
{
    Limiter *self = (Limiter *)op;
    return PyUnicode_FromFormat("<hft limited call site %lld per %lld ns, held %lld>", self->per,
                                self->interval_ns, self->held_total);
}

static PyMethodDef limiter_methods[] = {
    {"sweep", (PyCFunction)(void (*)(void))limiter_sweep, METH_FASTCALL,
     "sweep(force=False) -> bool: report an ended window's held calls; True while holding"},
    {"retarget", (PyCFunction)(void (*)(void))limiter_retarget, METH_FASTCALL,
     "retarget(target, counter=None): let calls through to target from now on"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef limiter_members[] = {
    {"target", Py_T_OBJECT_EX, offsetof(Limiter, target), Py_READONLY, "the method let through to"},
    {"per", Py_T_LONGLONG, offsetof(Limiter, per), Py_READONLY, "calls let through a window"},
    {"interval_ns", Py_T_LONGLONG, offsetof(Limiter, interval_ns), Py_READONLY, "a window"},
    {"held", Py_T_LONGLONG, offsetof(Limiter, held), Py_READONLY, "held in this window"},
    {"held_total", Py_T_LONGLONG, offsetof(Limiter, held_total), Py_READONLY, "held in all"},
    {"__vectorcalloffset__", Py_T_PYSSIZET, offsetof(Limiter, vectorcall), Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot limiter_slots[] = {
    {Py_tp_doc, "Limiter(target, per, interval_ns, report, pending, counter=None): a logging "
                "method that lets at most per calls a window through to target."},
    {Py_tp_new, limiter_new},
    {Py_tp_dealloc, limiter_dealloc},
    {Py_tp_traverse, limiter_traverse},
    {Py_tp_clear, limiter_clear},
    {Py_tp_repr, limiter_repr},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_methods, limiter_methods},
    {Py_tp_members, limiter_members},
    {0, NULL},
};

PyType_Spec hft_limiter_spec = {
    .name = "hft.logging.native._caller.Limiter",
    .basicsize = sizeof(Limiter),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = limiter_slots,
};
