/* The Sequence type (sequence.h). */
#include "sequence.h"


static PyObject *
sequence_call(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    (void)args;
    if (PyVectorcall_NARGS(nargsf) != 0 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "a Sequence takes no arguments");
        return NULL;
    }
    return PyLong_FromLongLong(((Sequence *)op)->next++);
}

static PyObject *
sequence_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    long long start = 0;
    static char *names[] = {"start", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|L:Sequence", names, &start)) {
        return NULL;
    }
    Sequence *self = (Sequence *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->vectorcall = sequence_call;
        self->next = start;
    }
    return (PyObject *)self;
}

static void
sequence_dealloc(PyObject *op)
{
    PyTypeObject *type = Py_TYPE(op);
    type->tp_free(op);
    Py_DECREF(type);
}

static PyMemberDef sequence_members[] = {
    {"next", Py_T_LONGLONG, offsetof(Sequence, next), Py_READONLY, "the number it gives next"},
    {"idle", Py_T_INT, offsetof(Sequence, idle), 0,
     "1: the dispatcher sleeps long; the next record onto a ring wakes it"},
    {"__vectorcalloffset__", Py_T_PYSSIZET, offsetof(Sequence, vectorcall), Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot sequence_slots[] = {
    {Py_tp_doc, "Sequence(start=0): called, the next record number (0, 1, 2...)."},
    {Py_tp_new, sequence_new},
    {Py_tp_dealloc, sequence_dealloc},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_members, sequence_members},
    {0, NULL},
};

PyType_Spec hft_sequence_spec = {
    .name = "hft.logging.native._caller.Sequence",
    .basicsize = sizeof(Sequence),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = sequence_slots,
};
