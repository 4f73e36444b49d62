/* A lane frame (entry.h) read in the writer: its records made back (unpack_lane, for every
 * sink but the JSON file), or checked and counted without making them (lane_count, when the
 * writer takes a frame); see frame.h. */
#include "frame.h"
#include "entry.h"
#include "plain.h"
#include <string.h>

#define STR_CACHE_MAX 64 /* longer strings are not looked up */

void
hft_reader_clear(Reader *r)
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

void
hft_frame_sources_clear(FrameSources *fs)
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

/* The head of a frame's payload (p to end): its source definitions, checked to lie inside it
 * with ids in range, start at *defs; *top is one past the highest id. Returns where its
 * nrecords lies, or NULL with a ValueError. */
static const char *
frame_head(const char *p, const char *end, const char **defs, uint32_t *top)
{
    if (end - p < 5 || p[0] != FRAME_TAG) {
        PyErr_SetString(PyExc_ValueError, "not a lane frame");
        return NULL;
    }
    uint32_t ndefs = entry_u32(p + 1);
    const char *q = *defs = p + 5;
    *top = 0;
    for (uint32_t i = 0; i < ndefs; i++) {
        uint32_t id, len;
        if (end - q < FRAME_DEF_FIXED ||
            (len = entry_u32(q + 4), (size_t)(end - q) - FRAME_DEF_FIXED < len)) {
            PyErr_SetString(PyExc_ValueError, "lane frame cut short");
            return NULL;
        }
        id = entry_u32(q);
        if (id >= FRAME_IDS) {
            PyErr_Format(PyExc_ValueError, "lane frame: source id %u out of range", id);
            return NULL;
        }
        *top = id + 1 > *top ? id + 1 : *top;
        q += FRAME_DEF_FIXED + len;
    }
    return q;
}

int
hft_frame_open(Reader *r, PyObject *load_source, FrameSources *fs, uint32_t *nrecords)
{
    const char *defs;
    uint32_t top;
    const char *q = frame_head(r->p, r->end, &defs, &top);
    if (q == NULL) {
        return -1;
    }
    fs->by_id = PyMem_Calloc(top ? top : 1, sizeof(PyObject *)); /* one array, sized once */
    if (fs->by_id == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    fs->n = top;
    for (const char *d = defs; d < q;) { /* in bounds: frame_head checked them */
        uint32_t id = entry_u32(d), len = entry_u32(d + 4);
        d += FRAME_DEF_FIXED;
        PyObject *pickled = PyBytes_FromStringAndSize(d, len);
        PyObject *source = pickled == NULL ? NULL : PyObject_CallOneArg(load_source, pickled);
        Py_XDECREF(pickled);
        d += len;
        if (source == NULL) {
            return -1;
        }
        Py_XSETREF(fs->by_id[id], source);
    }
    if (r->end - q < 4) {
        PyErr_SetString(PyExc_ValueError, "lane frame cut short");
        return -1;
    }
    *nrecords = entry_u32(q);
    r->p = q + 4;
    return 0;
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

/* A field's value (of an entry entry_size checked: its tag is one of the six). */
static PyObject *
field_value(Reader *r, const EntryField *f)
{
    switch (f->tag) {
    case TAG_NONE: Py_RETURN_NONE;
    case TAG_FALSE: Py_RETURN_FALSE;
    case TAG_TRUE: Py_RETURN_TRUE;
    case TAG_INT: return PyLong_FromLongLong(f->i);
    case TAG_FLOAT: return PyFloat_FromDouble(f->f);
    case TAG_STR: return cached_str(r, f->str, f->str_len); /* values too: a side, a symbol */
    default: PyErr_Format(PyExc_ValueError, "lane frame: unknown value tag %d", f->tag); return NULL;
    }
}

PyObject *
hft_take_record(Reader *r, const FrameSources *sources)
{
    const char *e = r->p;
    uint32_t size = entry_size(e, r->end), nfields;
    if (size == 0) {
        PyErr_SetString(PyExc_ValueError, "lane frame: a damaged entry");
        return NULL;
    }
    EntryHead h;
    entry_get_head(e, &h);
    PyObject *src = frame_source(sources, h.source);
    if (src == NULL) {
        return NULL;
    }
    PyObject *context = source_context(src);
    PyObject *msg = cached_str(r, e + ENTRY_AT_MSG, h.msg_len);
    PyObject *fields = msg == NULL ? NULL : new_fields(context);
    if (fields == NULL) {
        Py_XDECREF(msg);
        return NULL;
    }
    const char *q = entry_fields(e, &h, &nfields);
    for (uint32_t i = 0; i < nfields; i++) {
        EntryField f;
        q = entry_get_field(q, &f);
        PyObject *name = cached_str(r, f.key, f.key_len);
        PyObject *value = name == NULL ? NULL : field_value(r, &f);
        int rc = value == NULL ? -1 : PyDict_SetItem(fields, name, value);
        Py_XDECREF(name);
        Py_XDECREF(value);
        if (rc < 0) {
            Py_DECREF(msg);
            Py_DECREF(fields);
            return NULL;
        }
    }
    r->p = e + size;
    PyObject *record = PyTuple_New(6);
    PyObject *seq_obj = PyLong_FromLongLong(h.seq), *ts_obj = PyLong_FromLongLong(h.ts);
    PyObject *lvl = PyLong_FromLong(h.level); /* a small int: CPython's shared object */
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

/* How many records the frame holds, its every entry checked (no object made); -1 with a
 * ValueError when it is damaged. Lets the writer hold a frame as bytes, sure it reads, and
 * route it by its records' *lowest* and *highest* level (left as they were for no record). */
static long long
frame_count(const char *p, const char *end, int32_t *lowest, int32_t *highest)
{
    const char *defs;
    uint32_t top;
    const char *q = frame_head(p, end, &defs, &top);
    if (q == NULL) {
        return -1;
    }
    char *defined = PyMem_Calloc(top ? top : 1, 1);
    if (defined == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (const char *d = defs; d < q; d += FRAME_DEF_FIXED + entry_u32(d + 4)) {
        defined[entry_u32(d)] = 1;
    }
    long long count = -1;
    if (end - q >= 4) {
        uint32_t nrecords = entry_u32(q), i = 0;
        q += 4;
        for (; i < nrecords; i++) {
            uint32_t size = entry_size(q, end);
            EntryHead h;
            if (size == 0 || (entry_get_head(q, &h), h.source >= top) || !defined[h.source]) {
                break;
            }
            *lowest = i == 0 || h.level < *lowest ? h.level : *lowest;
            *highest = i == 0 || h.level > *highest ? h.level : *highest;
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

PyObject *
hft_unpack_lane(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
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
    if (hft_frame_open(&r, args[1], &sources, &nrecords) < 0 ||
        (records = PyList_New(nrecords)) == NULL) {
        goto done;
    }
    for (uint32_t i = 0; i < nrecords; i++) {
        PyObject *record = hft_take_record(&r, &sources);
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
    hft_frame_sources_clear(&sources);
    hft_reader_clear(&r);
    PyBuffer_Release(&view);
    return records;
}

PyObject *
hft_lane_count(PyObject *module, PyObject *payload)
{
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    int32_t lowest = 0, highest = 0;
    long long count = frame_count((const char *)view.buf, (const char *)view.buf + view.len,
                                  &lowest, &highest);
    PyBuffer_Release(&view);
    return count < 0 ? NULL : Py_BuildValue("(Lii)", count, (int)lowest, (int)highest);
}
