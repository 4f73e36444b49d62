/* A lane frame, as the writer reads it: shared by _callsite.c (unpack_lane, in _lane_type.h)
 * and _speedups.c (render_lane, which writes JSON lines straight from it). The format is
 * described in _lane.h, which writes it.
 */
#ifndef HFT_LANE_FRAME_H
#define HFT_LANE_FRAME_H

#include "_compat.h"
#include <stdint.h>
#include <string.h>

enum { TAG_NONE, TAG_FALSE, TAG_TRUE, TAG_INT, TAG_FLOAT, TAG_STR };

/* Neither a container the GC tracks now nor one that refers to one. */
static int
plain(PyObject *obj)
{
    return !PyObject_IS_GC(obj) || !PyObject_GC_IsTracked(obj);
}

/* The source's name, tags, context and prefix are all plain (a Source is a tuple). */
static int
plain_source(PyObject *source)
{
    if (!PyTuple_Check(source)) {
        return plain(source);
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(source); i++) {
        if (!plain(PyTuple_GET_ITEM(source, i))) {
            return 0;
        }
    }
    return 1;
}

/* Decoded strings of one frame, by their bytes: a frame repeats a few field names and
 * messages thousands of times, so each is made once (and shared, as the caller's were). */
#define STR_CACHE 256
#define STR_CACHE_MAX 64 /* longer strings are not looked up */

typedef struct {
    const char *p, *end;
    PyObject *cache[STR_CACHE];
} Reader;

static void
reader_clear(Reader *r)
{
    for (int i = 0; i < STR_CACHE; i++) {
        Py_CLEAR(r->cache[i]);
    }
}

static PyObject *
cached_str(Reader *r, const char *s, uint32_t len)
{
    if (len > STR_CACHE_MAX) {
        return PyUnicode_DecodeUTF8(s, len, "strict");
    }
    uint32_t h = 2166136261u; /* FNV-1a */
    for (uint32_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    }
    PyObject **slot = &r->cache[h % STR_CACHE];
    if (*slot != NULL) {
        Py_ssize_t n;
        const char *have = PyUnicode_AsUTF8AndSize(*slot, &n); /* made from utf-8: cached */
        if (have != NULL && n == (Py_ssize_t)len && memcmp(have, s, len) == 0) {
            return Py_NewRef(*slot);
        }
        PyErr_Clear();
    }
    PyObject *str = PyUnicode_DecodeUTF8(s, len, "strict");
    if (str != NULL) {
        Py_XSETREF(*slot, Py_NewRef(str));
    }
    return str;
}

static int
take_bytes(Reader *r, void *out, size_t n)
{
    if ((size_t)(r->end - r->p) < n) {
        PyErr_SetString(PyExc_ValueError, "lane frame cut short");
        return -1;
    }
    memcpy(out, r->p, n);
    r->p += n;
    return 0;
}

static PyObject *
take_str(Reader *r)
{
    uint32_t len;
    if (take_bytes(r, &len, 4) < 0 || (size_t)(r->end - r->p) < len) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "lane frame cut short");
        }
        return NULL;
    }
    PyObject *s = cached_str(r, r->p, len);
    r->p += len;
    return s;
}

static PyObject *
take_value(Reader *r)
{
    unsigned char tag;
    if (take_bytes(r, &tag, 1) < 0) {
        return NULL;
    }
    long long i;
    double f;
    switch (tag) {
    case TAG_NONE: Py_RETURN_NONE;
    case TAG_FALSE: Py_RETURN_FALSE;
    case TAG_TRUE: Py_RETURN_TRUE;
    case TAG_INT: return take_bytes(r, &i, 8) < 0 ? NULL : PyLong_FromLongLong(i);
    case TAG_FLOAT: return take_bytes(r, &f, 8) < 0 ? NULL : PyFloat_FromDouble(f);
    case TAG_STR: return take_str(r); /* values too: a side, a symbol, an order state... */
    default: PyErr_Format(PyExc_ValueError, "lane frame: unknown value tag %d", tag); return NULL;
    }
}

/* The sources a frame defines, by id (ids are small: a pipeline's loggers, numbered from 0). */
typedef struct {
    PyObject **by_id; /* strong references; NULL where the frame defines no such id */
    uint32_t n;
} FrameSources;

static void
frame_sources_clear(FrameSources *fs)
{
    for (uint32_t i = 0; i < fs->n; i++) {
        Py_XDECREF(fs->by_id[i]);
    }
    PyMem_Free(fs->by_id);
    fs->by_id = NULL;
    fs->n = 0;
}

static PyObject *
frame_source(const FrameSources *fs, uint32_t id)
{
    if (id >= fs->n || fs->by_id[id] == NULL) {
        PyErr_Format(PyExc_ValueError, "lane frame: undefined source %u", id);
        return NULL;
    }
    return fs->by_id[id];
}

/* Read a frame's head ('L', its sources made by load_source(pickled), once each) up to its
 * first entry; 0, or -1 with an error set. */
static int
frame_open(Reader *r, PyObject *load_source, FrameSources *fs, uint32_t *nrecords)
{
    char tag;
    uint32_t ndefs;
    if (take_bytes(r, &tag, 1) < 0 || tag != 'L' || take_bytes(r, &ndefs, 4) < 0) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "not a lane frame");
        return -1;
    }
    const char *defs = r->p;
    uint32_t top = 0;
    for (uint32_t i = 0; i < ndefs; i++) { /* the highest id first: one array, sized once */
        uint32_t id, len;
        if (take_bytes(r, &id, 4) < 0 || take_bytes(r, &len, 4) < 0 ||
            (size_t)(r->end - r->p) < len) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "lane frame cut short");
            return -1;
        }
        if (id >= (1u << 24)) {
            PyErr_Format(PyExc_ValueError, "lane frame: source id %u out of range", id);
            return -1;
        }
        top = id + 1 > top ? id + 1 : top;
        r->p += len;
    }
    fs->by_id = PyMem_Calloc(top ? top : 1, sizeof(PyObject *));
    if (fs->by_id == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    fs->n = top;
    r->p = defs;
    for (uint32_t i = 0; i < ndefs; i++) {
        uint32_t id, len;
        memcpy(&id, r->p, 4); /* in bounds: checked above */
        memcpy(&len, r->p + 4, 4);
        r->p += 8;
        PyObject *pickled = PyBytes_FromStringAndSize(r->p, len);
        PyObject *source = pickled == NULL ? NULL : PyObject_CallOneArg(load_source, pickled);
        Py_XDECREF(pickled);
        r->p += len;
        if (source == NULL) {
            return -1;
        }
        Py_XSETREF(fs->by_id[id], source);
    }
    return take_bytes(r, nrecords, 4);
}

/* The source's bound context (a Source is a tuple: index 2) when it may hold anything: borrowed;
 * NULL for none or an empty dict. The parent prepared it once (Preparer.context). */
static PyObject *
source_context(PyObject *source)
{
    if (!PyTuple_Check(source) || PyTuple_GET_SIZE(source) <= 2) {
        return NULL;
    }
    PyObject *context = PyTuple_GET_ITEM(source, 2);
    return PyDict_CheckExact(context) && PyDict_GET_SIZE(context) == 0 ? NULL : context;
}

/* A record's fields dict: a copy of its source's context, which the call's fields then
 * override in place (the order and values of {**context, **fields}, as the dispatcher merges). */
static PyObject *
new_fields(PyObject *context)
{
    if (context == NULL) {
        return PyDict_New();
    }
    if (PyDict_CheckExact(context)) {
        return PyDict_Copy(context);
    }
    PyObject *fields = PyDict_New();
    if (fields != NULL && PyDict_Merge(fields, context, 1) < 0) {
        Py_CLEAR(fields);
    }
    return fields;
}

/* One entry as the record tuple the dispatcher would have sent on: the call's fields over its
 * logger's bound context. */
static PyObject *
take_record(Reader *r, const FrameSources *sources)
{
    uint32_t size, source, nfields;
    long long seq, ts;
    int32_t level;
    const char *start = r->p;
    if (take_bytes(r, &size, 4) < 0 || take_bytes(r, &seq, 8) < 0 || take_bytes(r, &ts, 8) < 0 ||
        take_bytes(r, &level, 4) < 0 || take_bytes(r, &source, 4) < 0) {
        return NULL;
    }
    PyObject *src = frame_source(sources, source);
    if (src == NULL) {
        return NULL;
    }
    PyObject *context = source_context(src);
    PyObject *msg = take_str(r), *fields = msg == NULL ? NULL : new_fields(context);
    if (fields == NULL || take_bytes(r, &nfields, 4) < 0) {
        Py_XDECREF(msg);
        Py_XDECREF(fields);
        return NULL;
    }
    for (uint32_t i = 0; i < nfields; i++) {
        PyObject *name = take_str(r), *value = name == NULL ? NULL : take_value(r);
        int rc = value == NULL ? -1 : PyDict_SetItem(fields, name, value);
        Py_XDECREF(name);
        Py_XDECREF(value);
        if (rc < 0) {
            Py_DECREF(msg);
            Py_DECREF(fields);
            return NULL;
        }
    }
    if (r->p != start + size) {
        Py_DECREF(msg);
        Py_DECREF(fields);
        PyErr_SetString(PyExc_ValueError, "lane frame: an entry's size does not match");
        return NULL;
    }
    PyObject *record = PyTuple_New(6);
    PyObject *seq_obj = PyLong_FromLongLong(seq), *ts_obj = PyLong_FromLongLong(ts);
    PyObject *lvl = PyLong_FromLong(level); /* a small int: CPython's shared object */
    if (record == NULL || seq_obj == NULL || ts_obj == NULL || lvl == NULL) {
        Py_XDECREF(record);
        Py_XDECREF(seq_obj);
        Py_XDECREF(ts_obj);
        Py_XDECREF(lvl);
        Py_DECREF(msg);
        Py_DECREF(fields);
        return NULL;
    }
    PyTuple_SET_ITEM(record, 0, seq_obj);
    PyTuple_SET_ITEM(record, 1, ts_obj);
    PyTuple_SET_ITEM(record, 2, lvl);
    PyTuple_SET_ITEM(record, 3, Py_NewRef(src));
    PyTuple_SET_ITEM(record, 4, msg);
    PyTuple_SET_ITEM(record, 5, fields);
    /* Scalars only, and a source whose parts are plain (as at the call site): nothing leads
     * back to the record, so the garbage collector need not look at it. A frame's thousands
     * of records would otherwise be scanned, promoted, and rescanned by full collections.
     * (Fields copied from a context may hold containers: left to the collector.) */
    if (context == NULL) {
        PyObject_GC_UnTrack(fields);
    }
    if (plain_source(src)) {
        PyObject_GC_UnTrack(record);
    }
    return record;
}

/* The size of the well-formed entry at e (ending by end): its message, field names and values
 * all inside it, ending where its size says; 0 when it is damaged. Its source id is the
 * caller's to check against the frame's. Readers of a checked entry need no bounds checks. */
static inline uint32_t
entry_size(const char *e, const char *end)
{
    uint32_t size, msg_len, nfields;
    if ((size_t)(end - e) < 36 || (memcpy(&size, e, 4), size < 36) || (size_t)(end - e) < size) {
        return 0;
    }
    end = e + size;
    memcpy(&msg_len, e + 28, 4);
    if ((size_t)(end - e) - 32 < (size_t)msg_len + 4) {
        return 0;
    }
    const char *q = e + 32 + msg_len;
    memcpy(&nfields, q, 4);
    q += 4;
    for (uint32_t i = 0; i < nfields; i++) {
        uint32_t len;
        if ((size_t)(end - q) < 5 || (memcpy(&len, q, 4), (size_t)(end - q) - 5 < len)) {
            return 0;
        }
        q += 4 + len;
        unsigned char tag = (unsigned char)*q++;
        size_t need = tag == TAG_INT || tag == TAG_FLOAT ? 8 : tag == TAG_STR ? 4 : 0;
        if (tag > TAG_STR || (size_t)(end - q) < need) {
            return 0;
        }
        if (tag == TAG_STR) {
            memcpy(&len, q, 4);
            if ((size_t)(end - q) - 4 < len) {
                return 0;
            }
            need += len;
        }
        q += need;
    }
    return q == end ? size : 0;
}

/* How many records the frame holds, its every entry checked (no object made); -1 with a
 * ValueError when it is damaged. Lets the writer hold a frame as bytes, sure it reads, and
 * route it by its records' *lowest* and *highest* level (left as they were for no record). */
static inline long long
frame_count(const char *p, const char *end, int32_t *lowest, int32_t *highest)
{
    uint32_t ndefs, nrecords, top = 0;
    if (end - p < 5 || p[0] != 'L') {
        PyErr_SetString(PyExc_ValueError, "not a lane frame");
        return -1;
    }
    memcpy(&ndefs, p + 1, 4);
    const char *defs = p + 5, *q = defs;
    for (uint32_t i = 0; i < ndefs; i++) {
        uint32_t id, len;
        if (end - q < 8 || (memcpy(&id, q, 4), memcpy(&len, q + 4, 4), (size_t)(end - q) - 8 < len) ||
            id >= (1u << 24)) {
            PyErr_SetString(PyExc_ValueError, "lane frame: its sources are cut short");
            return -1;
        }
        top = id + 1 > top ? id + 1 : top;
        q += 8 + len;
    }
    char *defined = PyMem_Calloc(top ? top : 1, 1);
    if (defined == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (const char *d = defs; d < q;) {
        uint32_t id, len;
        memcpy(&id, d, 4);
        memcpy(&len, d + 4, 4);
        defined[id] = 1;
        d += 8 + len;
    }
    long long count = -1;
    if (end - q >= 4) {
        memcpy(&nrecords, q, 4);
        q += 4;
        uint32_t i = 0;
        for (; i < nrecords; i++) {
            uint32_t size = entry_size(q, end), source;
            int32_t level;
            if (size == 0 || (memcpy(&source, q + 24, 4), source >= top) || !defined[source]) {
                break;
            }
            memcpy(&level, q + 20, 4);
            *lowest = i == 0 || level < *lowest ? level : *lowest;
            *highest = i == 0 || level > *highest ? level : *highest;
            q += size;
        }
        count = i == nrecords && q == end ? (long long)nrecords : -1;
    }
    PyMem_Free(defined);
    if (count < 0) {
        PyErr_SetString(PyExc_ValueError, "lane frame: a damaged entry");
    }
    return count;
}

#endif /* HFT_LANE_FRAME_H */
