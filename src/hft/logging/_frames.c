/* Optional C fast path for the writer process's frames (hft.logging._writer).
 *
 * pack(records, dumps) -> bytes | None (an 8-byte little-endian payload size, then the payload)
 * unpack(data, loads) -> list
 *
 * pack turns a list of plain records into a compact frame, about five times cheaper than
 * pickling them: every record is an exact 6-tuple (seq, ts_ns, level, source, msg, fields)
 * with int64 numbers, a str message and a dict of str keys to None, bool, int64, float or str.
 * Anything else returns None and the caller pickles the frame instead. Strings and sources
 * are written once per frame and referred to by index afterwards (memo by identity); a
 * source is written as dumps(source).
 *
 * Layout, in the byte order of this machine (the writer is our own child): MAGIC, u32 record
 * count, then per record
 *     i64 seq, i64 ts, i32 level, ref source, ref msg, u16 n, n x (ref key, value)
 * ref: u32 index of an object written before, or NEW followed by u32 length and the bytes
 * (UTF-8 for a str, dumps(source) for a source). value: a tag byte, then the payload.
 */
#include "_buffer.h" /* includes _compat.h and Python.h */
#include <stdint.h>
#include <string.h>

#define MAGIC 'H'
#define NEW 0xFFFFFFFFu
#define MAX_FIELDS 0xFFFF

enum { /* value tags; not T_*: 3.11's structmember.h (see _compat.h) defines T_NONE */
    TAG_NONE = 'N',
    TAG_TRUE = 'T',
    TAG_FALSE = 'F',
    TAG_INT = 'i',
    TAG_FLOAT = 'f',
    TAG_STR = 's',
};

typedef struct { /* identity -> index, open addressing; keys are borrowed from the records */
    PyObject **keys;
    uint32_t *values;
    size_t mask;
    size_t used;
} Memo;

/* The module's state: no global mutable state, so each interpreter has its own. */
typedef struct {
    BufKeeper keeper; /* the buffer pack keeps across calls (see _buffer.h) */
} FramesState;

static int
memo_init(Memo *m, size_t size)
{
    m->keys = PyMem_RawCalloc(size, sizeof(PyObject *));
    m->values = PyMem_RawMalloc(size * sizeof(uint32_t));
    m->mask = size - 1;
    m->used = 0;
    if (m->keys == NULL || m->values == NULL) {
        PyMem_RawFree(m->keys);
        PyMem_RawFree(m->values);
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void
memo_free(Memo *m)
{
    for (size_t j = 0; j <= m->mask; j++) {
        Py_XDECREF(m->keys[j]);
    }
    PyMem_RawFree(m->keys);
    PyMem_RawFree(m->values);
}

static size_t
memo_slot(const Memo *m, PyObject *key)
{
    size_t i = ((uintptr_t)key >> 4) * 11400714819323198485ull & m->mask;
    while (m->keys[i] != NULL && m->keys[i] != key) {
        i = (i + 1) & m->mask;
    }
    return i;
}

/* The index of key, or NEW after remembering it as the next index. */
static int
memo_lookup(Memo *m, PyObject *key, uint32_t *index)
{
    size_t i = memo_slot(m, key);
    if (m->keys[i] != NULL) {
        *index = m->values[i];
        return 0;
    }
    if ((m->used + 1) * 2 > m->mask + 1) { /* keep it at most half full */
        Memo bigger;
        if (memo_init(&bigger, (m->mask + 1) * 2) < 0) {
            return -1;
        }
        for (size_t j = 0; j <= m->mask; j++) {
            if (m->keys[j] != NULL) {
                size_t k = memo_slot(&bigger, m->keys[j]);
                bigger.keys[k] = m->keys[j];
                bigger.values[k] = m->values[j];
            }
        }
        bigger.used = m->used;
        PyMem_RawFree(m->keys); /* the keys moved to bigger */
        PyMem_RawFree(m->values);
        *m = bigger;
        i = memo_slot(m, key);
    }
    m->keys[i] = Py_NewRef(key);
    m->values[i] = (uint32_t)m->used++;
    *index = NEW;
    return 0;
}

/* 1: written; 0: not packable (no exception set); -1: error. */
static int
put_bytes_ref(Buf *o, Memo *m, PyObject *key, const char *data, Py_ssize_t size)
{
    uint32_t index;
    if (memo_lookup(m, key, &index) < 0) {
        return -1;
    }
    if (buf_put(o, &index, 4) < 0) {
        return -1;
    }
    if (index != NEW) {
        return 1;
    }
    uint32_t n = (uint32_t)size;
    if ((Py_ssize_t)n != size || buf_put(o, &n, 4) < 0 || buf_put(o, data, size) < 0) {
        return PyErr_Occurred() ? -1 : 0;
    }
    return 1;
}

static int
put_str(Buf *o, Memo *m, PyObject *s)
{
    if (!PyUnicode_CheckExact(s)) {
        return 0;
    }
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(s, &size);
    if (utf8 == NULL) { /* a lone surrogate: pickle keeps it, UTF-8 cannot */
        if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            PyErr_Clear();
            return 0;
        }
        return -1;
    }
    return put_bytes_ref(o, m, s, utf8, size);
}

static int
put_source(Buf *o, Memo *m, PyObject *source, PyObject *dumps)
{
    size_t i = memo_slot(m, source);
    if (m->keys[i] != NULL) {
        return put_bytes_ref(o, m, source, NULL, 0);
    }
    PyObject *data = PyObject_CallOneArg(dumps, source);
    if (data == NULL) {
        return -1;
    }
    int ok = PyBytes_Check(data)
                 ? put_bytes_ref(o, m, source, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
                 : 0;
    Py_DECREF(data);
    return ok;
}

static int
put_value(Buf *o, Memo *m, PyObject *v)
{
    char tag;
    if (v == Py_None || v == Py_True || v == Py_False) {
        tag = v == Py_None ? TAG_NONE : v == Py_True ? TAG_TRUE : TAG_FALSE;
        return buf_put(o, &tag, 1) < 0 ? -1 : 1;
    }
    if (PyFloat_CheckExact(v)) {
        double d = PyFloat_AS_DOUBLE(v);
        tag = TAG_FLOAT;
        return buf_put(o, &tag, 1) < 0 || buf_put(o, &d, 8) < 0 ? -1 : 1;
    }
    if (PyLong_CheckExact(v)) {
        int overflow = 0;
        long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow) {
            return 0;
        }
        tag = TAG_INT;
        return buf_put(o, &tag, 1) < 0 || buf_put(o, &n, 8) < 0 ? -1 : 1;
    }
    if (PyUnicode_CheckExact(v)) {
        tag = TAG_STR;
        return buf_put(o, &tag, 1) < 0 ? -1 : put_str(o, m, v);
    }
    return 0;
}

static int
put_int64(Buf *o, PyObject *v)
{
    if (!PyLong_CheckExact(v)) {
        return 0;
    }
    int overflow = 0;
    long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
    return overflow ? 0 : buf_put(o, &n, 8) < 0 ? -1 : 1;
}

static int
put_record(Buf *o, Memo *m, PyObject *r, PyObject *dumps)
{
    if (!PyTuple_CheckExact(r) || PyTuple_GET_SIZE(r) != 6) {
        return 0;
    }
    PyObject *level = PyTuple_GET_ITEM(r, 2), *fields = PyTuple_GET_ITEM(r, 5);
    int ok = put_int64(o, PyTuple_GET_ITEM(r, 0));
    ok = ok > 0 ? put_int64(o, PyTuple_GET_ITEM(r, 1)) : ok;
    if (ok <= 0) {
        return ok;
    }
    int overflow = 0;
    long lv = PyLong_CheckExact(level) ? PyLong_AsLongAndOverflow(level, &overflow) : 0;
    int32_t level32 = (int32_t)lv;
    if (!PyLong_CheckExact(level) || overflow || (long)level32 != lv ||
        !PyDict_CheckExact(fields)) {
        return 0;
    }
    if (buf_put(o, &level32, 4) < 0) {
        return -1;
    }
    ok = put_source(o, m, PyTuple_GET_ITEM(r, 3), dumps);
    ok = ok > 0 ? put_str(o, m, PyTuple_GET_ITEM(r, 4)) : ok;
    if (ok <= 0) {
        return ok;
    }
    if (PyDict_GET_SIZE(fields) > MAX_FIELDS) { /* after dumps, which may have run any code */
        return 0;
    }
    uint16_t count = (uint16_t)PyDict_GET_SIZE(fields);
    if (buf_put(o, &count, 2) < 0) {
        return -1;
    }
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(fields, &pos, &key, &value)) {
        ok = put_str(o, m, key);
        ok = ok > 0 ? put_value(o, m, value) : ok;
        if (ok <= 0) {
            return ok;
        }
    }
    return 1;
}

static PyObject *
pack(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    FramesState *state = PyModule_GetState(module);
    if (nargs != 2 || !PyList_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "pack(records: list, dumps)");
        return NULL;
    }
    PyObject *dumps = args[1];
    PyObject *records = PyList_AsTuple(args[0]); /* owns every record while dumps runs */
    uint64_t header = 0;                        /* the payload's size, filled in at the end */
    if (records == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(records);
    uint32_t count = (uint32_t)n;
    Buf o;
    buf_open(&o, &state->keeper);
    Memo m;
    if ((Py_ssize_t)count != n || memo_init(&m, 256) < 0) {
        Py_DECREF(records);
        buf_close(&o);
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    }
    char magic = MAGIC;
    int ok = buf_put(&o, &header, 8) < 0 || buf_put(&o, &magic, 1) < 0 ||
                     buf_put(&o, &count, 4) < 0
                 ? -1
                 : 1;
    for (Py_ssize_t i = 0; ok > 0 && i < n; i++) {
        ok = put_record(&o, &m, PyTuple_GET_ITEM(records, i), dumps);
    }
    memo_free(&m);
    Py_DECREF(records);
    if (ok > 0) {
        header = (uint64_t)(o.len - 8);
        for (int i = 0; i < 8; i++) { /* little-endian, as struct.pack("<Q") */
            o.data[i] = (char)(header >> (8 * i));
        }
    }
    PyObject *result = ok > 0 ? PyBytes_FromStringAndSize(o.data, o.len)
                       : ok == 0 ? Py_NewRef(Py_None)
                                 : NULL;
    buf_close(&o);
    return result;
}

/* -- unpacking (in the writer process) ------------------------------------------------------ */

typedef struct {
    const char *p;
    const char *end;
    PyObject *memo; /* list: index -> str or source */
    PyObject *loads;
} In;

static int
take(In *in, void *dst, size_t n)
{
    if ((size_t)(in->end - in->p) < n) {
        PyErr_SetString(PyExc_ValueError, "truncated hft frame");
        return -1;
    }
    memcpy(dst, in->p, n);
    in->p += n;
    return 0;
}

/* A new reference to the object a ref names; is_source says how a NEW one is built. */
static PyObject *
get_ref(In *in, int is_source)
{
    uint32_t index, size;
    if (take(in, &index, 4) < 0) {
        return NULL;
    }
    if (index != NEW) {
        if (index >= (uint32_t)PyList_GET_SIZE(in->memo)) {
            PyErr_SetString(PyExc_ValueError, "bad reference in hft frame");
            return NULL;
        }
        PyObject *obj = PyList_GET_ITEM(in->memo, index);
        if (!is_source && !PyUnicode_CheckExact(obj)) {
            PyErr_SetString(PyExc_ValueError, "bad reference in hft frame");
            return NULL;
        }
        return Py_NewRef(obj);
    }
    if (take(in, &size, 4) < 0) {
        return NULL;
    }
    if ((size_t)(in->end - in->p) < size) {
        PyErr_SetString(PyExc_ValueError, "truncated hft frame");
        return NULL;
    }
    PyObject *obj;
    if (is_source) {
        PyObject *data = PyBytes_FromStringAndSize(in->p, size);
        obj = data == NULL ? NULL : PyObject_CallOneArg(in->loads, data);
        Py_XDECREF(data);
    }
    else {
        obj = PyUnicode_DecodeUTF8(in->p, size, "strict");
    }
    in->p += size;
    if (obj == NULL || PyList_Append(in->memo, obj) < 0) {
        Py_XDECREF(obj);
        return NULL;
    }
    return obj;
}

static PyObject *
get_value(In *in)
{
    char tag;
    if (take(in, &tag, 1) < 0) {
        return NULL;
    }
    switch (tag) {
    case TAG_NONE:
        return Py_NewRef(Py_None);
    case TAG_TRUE:
        return Py_NewRef(Py_True);
    case TAG_FALSE:
        return Py_NewRef(Py_False);
    case TAG_STR:
        return get_ref(in, 0);
    case TAG_INT: {
        long long n;
        return take(in, &n, 8) < 0 ? NULL : PyLong_FromLongLong(n);
    }
    case TAG_FLOAT: {
        double d;
        return take(in, &d, 8) < 0 ? NULL : PyFloat_FromDouble(d);
    }
    default:
        PyErr_SetString(PyExc_ValueError, "bad value tag in hft frame");
        return NULL;
    }
}

static PyObject *
get_fields(In *in)
{
    uint16_t count;
    if (take(in, &count, 2) < 0) {
        return NULL;
    }
    PyObject *fields = PyDict_New();
    for (uint16_t i = 0; fields != NULL && i < count; i++) {
        PyObject *key = get_ref(in, 0);
        PyObject *value = key == NULL ? NULL : get_value(in);
        if (value == NULL || PyDict_SetItem(fields, key, value) < 0) {
            Py_CLEAR(fields);
        }
        Py_XDECREF(key);
        Py_XDECREF(value);
    }
    return fields;
}

static PyObject *
get_record(In *in)
{
    long long seq, ts;
    int32_t level;
    if (take(in, &seq, 8) < 0 || take(in, &ts, 8) < 0 || take(in, &level, 4) < 0) {
        return NULL;
    }
    PyObject *items[6] = {PyLong_FromLongLong(seq), PyLong_FromLongLong(ts),
                          PyLong_FromLong(level), NULL, NULL, NULL};
    if (items[0] && items[1] && items[2]) {
        items[3] = get_ref(in, 1);
    }
    if (items[3]) {
        items[4] = get_ref(in, 0);
    }
    if (items[4]) {
        items[5] = get_fields(in);
    }
    if (items[5] == NULL) {
        for (int i = 0; i < 6; i++) {
            Py_XDECREF(items[i]);
        }
        return NULL;
    }
    PyObject *record = PyTuple_New(6);
    for (int i = 0; i < 6; i++) {
        if (record == NULL) {
            Py_DECREF(items[i]);
        }
        else {
            PyTuple_SET_ITEM(record, i, items[i]); /* steals */
        }
    }
    return record;
}

static PyObject *
unpack(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    Py_buffer view;
    if (nargs != 2 || PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "unpack(data: bytes-like, loads)");
        }
        return NULL;
    }
    In in = {view.buf, (const char *)view.buf + view.len, PyList_New(0), args[1]};
    PyObject *records = NULL;
    char magic;
    uint32_t count;
    if (in.memo != NULL && take(&in, &magic, 1) == 0 && take(&in, &count, 4) == 0) {
        if (magic != MAGIC) {
            PyErr_SetString(PyExc_ValueError, "not an hft frame");
        }
        else if ((records = PyList_New(0)) != NULL) {
            for (uint32_t i = 0; i < count; i++) {
                PyObject *record = get_record(&in);
                if (record == NULL || PyList_Append(records, record) < 0) {
                    Py_XDECREF(record);
                    Py_CLEAR(records);
                    break;
                }
                Py_DECREF(record);
            }
            if (records != NULL && in.p != in.end) {
                PyErr_SetString(PyExc_ValueError, "trailing bytes in hft frame");
                Py_CLEAR(records);
            }
        }
    }
    Py_XDECREF(in.memo);
    PyBuffer_Release(&view);
    return records;
}

static PyMethodDef methods[] = {
    {"pack", (PyCFunction)(void (*)(void))pack, METH_FASTCALL,
     "pack(records, dumps) -> bytes or None\n\n"
     "A compact frame of plain records; None when a record is not plain (pickle it then)."},
    {"unpack", (PyCFunction)(void (*)(void))unpack, METH_FASTCALL,
     "unpack(data, loads) -> list\n\nThe records of a frame made by pack."},
    {NULL, NULL, 0, NULL},
};

static int
frames_exec(PyObject *module)
{
    FramesState *state = PyModule_GetState(module);
    state->keeper = (BufKeeper){NULL, 0, 0};
    return 0;
}

static void
frames_free(void *module)
{
    FramesState *state = PyModule_GetState((PyObject *)module);
    if (state != NULL) { /* NULL when the module failed before its state was made */
        buf_keeper_free(&state->keeper);
    }
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, frames_exec},
    HFT_SLOT_INTERPRETERS HFT_SLOT_GIL {0, NULL},
};

static struct PyModuleDef module_def = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "hft.logging._frames",
    .m_doc = "Compact frames of plain records for the writer.",
    .m_size = sizeof(FramesState),
    .m_methods = methods,
    .m_slots = slots,
    .m_free = frames_free, /* the state holds no Python object: no m_traverse, m_clear */
};

PyMODINIT_FUNC
PyInit__frames(void)
{
    return PyModuleDef_Init(&module_def);
}
