/* LimitSites (limiter.h): logger.limit, whose twin is hft.logging.pipeline.limits._PyLimitSites.
 *
 * LimitSites(factory) called with (*args, **kwargs) finds the caller's frame, its code object and
 * instruction, and returns what factory(*args, **kwargs) made for that place and those
 * arguments the first time: `log.limit(per_s=10).warning(...)` in a loop is one call site, and
 * the limited logger it gives is the same object each time. The key is the code object's
 * address (the code is kept alive beside the cache, so the address is never reused), the
 * instruction, the keyword names and the arguments: no hash of the code object (not cached by
 * CPython, and slow). A miss calls the factory; an argument that cannot be hashed is handed to
 * the factory uncached (it says what is wrong with it).
 *
 * A storm comes from one place: the last key found is kept, and a call from the same place
 * with the same argument objects (constants in the code are the same objects each time) is
 * answered from it without making a key, in a few pointer comparisons.
 */
#include "limiter.h"

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *factory;
    PyObject *cache; /* key -> what the factory made */
    PyObject *codes; /* the code objects of the keys, kept alive */
    PyObject *memo_key, *memo; /* the last key found, and what it gave */
} LimitSites;

/* The call is the last one's place with the same argument objects. */
static int
same_as_memo(LimitSites *self, PyObject *code, int lasti, PyObject *const *args, Py_ssize_t n,
             PyObject *kwnames)
{
    PyObject *key = self->memo_key;
    if (key == NULL || PyTuple_GET_SIZE(key) != n + 3 ||
        PyLong_AsVoidPtr(PyTuple_GET_ITEM(key, 0)) != (void *)code ||
        PyLong_AsLong(PyTuple_GET_ITEM(key, 1)) != lasti ||
        PyTuple_GET_ITEM(key, 2) != (kwnames != NULL ? kwnames : Py_None)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyTuple_GET_ITEM(key, 3 + i) != args[i]) {
            return 0;
        }
    }
    return 1;
}

static void
remember(LimitSites *self, PyObject *key, PyObject *result)
{
    Py_XSETREF(self->memo_key, Py_NewRef(key));
    Py_XSETREF(self->memo, Py_NewRef(result));
}

static PyObject *
site_key(PyObject *code, int lasti, PyObject *const *args, Py_ssize_t n, PyObject *kwnames)
{
    PyObject *key = PyTuple_New(n + 3);
    if (key == NULL) {
        return NULL;
    }
    PyObject *address = PyLong_FromVoidPtr(code);
    PyObject *offset = address == NULL ? NULL : PyLong_FromLong(lasti);
    if (offset == NULL) {
        Py_XDECREF(address);
        Py_DECREF(key);
        return NULL;
    }
    PyTuple_SET_ITEM(key, 0, address);
    PyTuple_SET_ITEM(key, 1, offset);
    PyTuple_SET_ITEM(key, 2, Py_NewRef(kwnames != NULL ? kwnames : Py_None));
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTuple_SET_ITEM(key, 3 + i, Py_NewRef(args[i]));
    }
    return key;
}

static PyObject *
make_and_keep(LimitSites *self, PyObject *key, PyObject *code, PyObject *const *args,
              size_t nargsf, PyObject *kwnames)
{
    PyObject *made = PyObject_Vectorcall(self->factory, args, nargsf, kwnames);
    if (made == NULL) {
        return NULL;
    }
    /* setdefault: two threads that miss at once keep the first one's, both return it */
    PyObject *kept = PyDict_SetDefault(self->cache, key, made);
    Py_DECREF(made);
    if (kept == NULL || PyList_Append(self->codes, code) < 0) {
        return NULL;
    }
    return Py_NewRef(kept);
}

static PyObject *
sites_call(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    LimitSites *self = (LimitSites *)op;
    PyFrameObject *frame = PyEval_GetFrame(); /* borrowed: the caller's */
    if (frame == NULL || self->cache == NULL) {
        return PyObject_Vectorcall(self->factory, args, nargsf, kwnames);
    }
    PyObject *code = (PyObject *)PyFrame_GetCode(frame);
    Py_ssize_t n = PyVectorcall_NARGS(nargsf) + (kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames));
    int lasti = PyFrame_GetLasti(frame);
    if (same_as_memo(self, code, lasti, args, n, kwnames)) {
        Py_DECREF(code);
        return Py_NewRef(self->memo);
    }
    PyObject *key = site_key(code, lasti, args, n, kwnames);
    PyObject *found = key == NULL ? NULL : PyDict_GetItemWithError(self->cache, key);
    PyObject *result = NULL;
    if (found != NULL) {
        result = Py_NewRef(found);
        remember(self, key, result);
    } else if (key != NULL && !PyErr_Occurred()) {
        result = make_and_keep(self, key, code, args, nargsf, kwnames);
        if (result != NULL) {
            remember(self, key, result);
        }
    } else if (key != NULL && PyErr_ExceptionMatches(PyExc_TypeError)) { /* unhashable */
        PyErr_Clear();
        result = PyObject_Vectorcall(self->factory, args, nargsf, kwnames);
    }
    Py_XDECREF(key);
    Py_DECREF(code);
    return result;
}

static PyObject *
sites_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *factory;
    static char *names[] = {"factory", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:LimitSites", names, &factory)) {
        return NULL;
    }
    if (!PyCallable_Check(factory)) {
        PyErr_SetString(PyExc_TypeError, "LimitSites: factory must be callable");
        return NULL;
    }
    LimitSites *self = (LimitSites *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->vectorcall = sites_call;
    self->factory = Py_NewRef(factory);
    self->cache = PyDict_New();
    self->codes = PyList_New(0);
    if (self->cache == NULL || self->codes == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int
sites_traverse(PyObject *op, visitproc visit, void *arg)
{
    LimitSites *self = (LimitSites *)op;
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(self->factory);
    Py_VISIT(self->cache);
    Py_VISIT(self->codes);
    Py_VISIT(self->memo_key);
    Py_VISIT(self->memo);
    return 0;
}

static int
sites_clear(PyObject *op)
{
    LimitSites *self = (LimitSites *)op;
    Py_CLEAR(self->factory);
    Py_CLEAR(self->cache);
    Py_CLEAR(self->codes);
    Py_CLEAR(self->memo_key);
    Py_CLEAR(self->memo);
    return 0;
}

static void
sites_dealloc(PyObject *op)
{
    PyTypeObject *type = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    (void)sites_clear(op);
    type->tp_free(op);
    Py_DECREF(type);
}

static PyObject *
sites_made(PyObject *op, PyObject *unused)
{
    (void)unused;
    LimitSites *self = (LimitSites *)op;
    return self->cache == NULL ? PyList_New(0) : PyDict_Values(self->cache);
}

static PyMethodDef sites_methods[] = {
    {"made", sites_made, METH_NOARGS, "made() -> list: what the factory made, one per site"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef sites_members[] = {
    {"__vectorcalloffset__", Py_T_PYSSIZET, offsetof(LimitSites, vectorcall), Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot sites_slots[] = {
    {Py_tp_doc, "LimitSites(factory): called, what factory made for the caller's place in the "
                "code and these arguments (made on first use)."},
    {Py_tp_new, sites_new},
    {Py_tp_dealloc, sites_dealloc},
    {Py_tp_traverse, sites_traverse},
    {Py_tp_clear, sites_clear},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_methods, sites_methods},
    {Py_tp_members, sites_members},
    {0, NULL},
};

PyType_Spec hft_limit_sites_spec = {
    .name = "hft.logging.native._caller.LimitSites",
    .basicsize = sizeof(LimitSites),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = sites_slots,
};
