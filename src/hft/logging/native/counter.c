/* The Counter type (counter.h). */
#include "counter.h"


static PyObject *
counter_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, ":Counter", names)) {
        return NULL;
    }
    return type->tp_alloc(type, 0); /* value 0 */
}

static void
counter_dealloc(PyObject *op)
{
    PyTypeObject *type = Py_TYPE(op);
    type->tp_free(op);
    Py_DECREF(type);
}

static PyObject *
counter_value(PyObject *op, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLongLong(((Counter *)op)->value);
}

static PyObject *
counter_repr(PyObject *op)
{
    return PyUnicode_FromFormat("<hft call counter value=%llu>", ((Counter *)op)->value);
}

static PyGetSetDef counter_getset[] = {
    {"value", counter_value, NULL, "the calls counted so far", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot counter_slots[] = {
    {Py_tp_doc, "Counter(): the calls of one logger at one level, added to by its call sites."},
    {Py_tp_new, counter_new},
    {Py_tp_dealloc, counter_dealloc},
    {Py_tp_repr, counter_repr},
    {Py_tp_getset, counter_getset},
    {0, NULL},
};

PyType_Spec hft_counter_spec = {
    .name = "hft.logging.native._caller.Counter",
    .basicsize = sizeof(Counter),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = counter_slots,
};
