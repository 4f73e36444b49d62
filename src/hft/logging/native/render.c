/* JsonLineRenderer.many's fast path: records (tuples) as JSON lines (see render.h).
 *
 * render_lines(records, levels, messages, dumps, long_line, state[, yield_every])
 *   -> (bytes, slow)
 *
 * Renders every record that the Python fast path would render without an exception and
 * without a long line, byte for byte as
 *     b'{"ts":"%s.%09dZ","level":"%s",%s"seq":%d,"msg":%s,"fields":%s}\n'
 * and returns them joined. Every other record (not an exact 6-tuple, a timestamp or seq that is
 * not an int64, an unknown level, a message that is not a str, dumps raising, a long line...)
 * is left out; its (index, byte offset in the joined bytes) is appended to `slow`, so the
 * caller re-renders it with the Python path and splices it in. Only MemoryError and
 * KeyboardInterrupt propagate.
 *
 * A record whose fields (an exact dict) carry TRACE_FIELD as 50 lowercase hex digits has the
 * trace's keys after seq and its fields dumped without it (split_trace); any other value
 * there takes the Python path, which decides as split_trace does.
 *
 * state is a list [second_start_ns: int, prefix: bytes] caching the rendered second.
 * yield_every (render_lines and render_lane): after each that many records, offer the CPU
 * (sched_yield, the GIL released); 0, the default: never. A writer process sets it.
 */
#include "render.h"
#include "buffer.h"
#include "line.h"
#include "writer.h"
#include <string.h>

/* Renders one record into b. Returns 0 when written, 1 for the slow path, -1 on error. */
/* The trace a record's fields carry (*ids: its 50 digits, borrowed from *rest) and its fields
 * without it (*rest: a new dict); 0 none, 1 the slow path, -1 error. */
static int
split_trace(PyObject *fields, PyObject *trace_key, PyObject **rest, const char **ids)
{
    PyObject *value = PyDict_CheckExact(fields) ? PyDict_GetItemWithError(fields, trace_key)
                                                : NULL;
    if (value == NULL) {
        return PyErr_Occurred() ? (soft_error() < 0 ? -1 : 1) : 0;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_CheckExact(value) ? PyUnicode_AsUTF8AndSize(value, &n) : NULL;
    if (s == NULL || !trace_ok(s, (size_t)n)) {
        return s == NULL && PyErr_Occurred() ? (soft_error() < 0 ? -1 : 1) : 1;
    }
    *rest = PyDict_Copy(fields);
    if (*rest == NULL || PyDict_DelItem(*rest, trace_key) < 0) {
        Py_XDECREF(*rest);
        return -1;
    }
    *ids = s; /* value's utf-8, alive while fields holds value: the caller holds the record */
    return 0;
}

static int
render_one(Buf *b, PyObject *record, PyObject *levels, PyObject *messages, PyObject *dumps,
           Py_ssize_t long_line, Stamp *stamp, PyObject *trace_key)
{
    if (!PyTuple_CheckExact(record) || PyTuple_GET_SIZE(record) != 6) {
        return 1;
    }
    PyObject *seq = PyTuple_GET_ITEM(record, 0);
    PyObject *ts_obj = PyTuple_GET_ITEM(record, 1);
    PyObject *level = PyTuple_GET_ITEM(record, 2);
    PyObject *source = PyTuple_GET_ITEM(record, 3);
    PyObject *msg = PyTuple_GET_ITEM(record, 4);
    PyObject *fields = PyTuple_GET_ITEM(record, 5);

    if (!PyLong_CheckExact(ts_obj) || !PyLong_CheckExact(seq) || !PyUnicode_CheckExact(msg)) {
        return 1;
    }
    int overflow = 0;
    long long ts = PyLong_AsLongLongAndOverflow(ts_obj, &overflow);
    if (overflow || (ts == -1 && PyErr_Occurred())) {
        return PyErr_Occurred() ? (soft_error() < 0 ? -1 : 1) : 1;
    }
    long long seq_v = PyLong_AsLongLongAndOverflow(seq, &overflow);
    if (overflow || (seq_v == -1 && PyErr_Occurred())) {
        return PyErr_Occurred() ? (soft_error() < 0 ? -1 : 1) : 1;
    }
    /* source[3]: its json_prefix; a tuple (NamedTuple) whose indexing is tuple's own. */
    if (!PyTuple_Check(source) || PyTuple_GET_SIZE(source) <= 3) {
        return 1;
    }
    if (!PyTuple_CheckExact(source) &&
        (Py_TYPE(source)->tp_as_mapping == NULL ||
         Py_TYPE(source)->tp_as_mapping->mp_subscript !=
             PyTuple_Type.tp_as_mapping->mp_subscript)) {
        return 1;
    }
    PyObject *json_prefix = PyTuple_GET_ITEM(source, 3);
    if (!PyBytes_CheckExact(json_prefix)) {
        return 1;
    }
    if (stamp_cover(stamp, ts)) {
        return 1;
    }
    long long nanos = ts - stamp->start;

    PyObject *level_bytes = PyDict_GetItemWithError(levels, level); /* borrowed */
    if (level_bytes == NULL) {
        if (PyErr_Occurred()) {
            return soft_error() < 0 ? -1 : 1;
        }
        return 1;
    }
    if (!PyBytes_CheckExact(level_bytes)) {
        return 1;
    }
    Py_INCREF(level_bytes); /* the dumps calls below may run arbitrary code */

    PyObject *text = PyDict_GetItemWithError(messages, msg); /* borrowed */
    if (text != NULL) {
        Py_INCREF(text);
    }
    else {
        if (PyErr_Occurred()) {
            Py_DECREF(level_bytes);
            return soft_error() < 0 ? -1 : 1;
        }
        text = PyObject_CallOneArg(dumps, msg);
        if (text == NULL) {
            Py_DECREF(level_bytes);
            return soft_error() < 0 ? -1 : 1;
        }
        if (PyDict_SetItem(messages, msg, text) < 0) {
            Py_DECREF(text);
            Py_DECREF(level_bytes);
            return soft_error() < 0 ? -1 : 1;
        }
    }
    PyObject *rest = NULL;
    const char *ids = NULL;
    int traced = split_trace(fields, trace_key, &rest, &ids);
    if (traced != 0) {
        Py_DECREF(text);
        Py_DECREF(level_bytes);
        return traced;
    }
    PyObject *fields_json = PyObject_CallOneArg(dumps, rest != NULL ? rest : fields);
    Py_XDECREF(rest);
    if (fields_json == NULL) {
        Py_DECREF(text);
        Py_DECREF(level_bytes);
        return soft_error() < 0 ? -1 : 1;
    }
    int rc = 1;
    if (!PyBytes_CheckExact(text) || !PyBytes_CheckExact(fields_json)) {
        goto done;
    }
    char seq_buf[24];
    Py_ssize_t seq_len = write_int64(seq_buf, seq_v);
    Py_ssize_t level_len = PyBytes_GET_SIZE(level_bytes);
    Py_ssize_t prefix_len = PyBytes_GET_SIZE(json_prefix);
    Py_ssize_t text_len = PyBytes_GET_SIZE(text);
    Py_ssize_t fields_len = PyBytes_GET_SIZE(fields_json);
    Py_ssize_t total = (Py_ssize_t)FIXED + stamp->prefix_len + level_len + prefix_len + seq_len +
                       text_len + fields_len + (ids != NULL ? (Py_ssize_t)TRACE_EXTRA : 0);
    if (total > long_line) {
        goto done; /* render_long, in Python */
    }
    if (buf_reserve(b, total) < 0) {
        rc = -1;
        goto done;
    }
    char *p = b->data + b->len;
    PUT(p, P_TS, LIT(P_TS));
    PUT(p, stamp->prefix, stamp->prefix_len);
    *p++ = '.';
    write_nanos(p, nanos);
    p += 9;
    PUT(p, P_LEVEL, LIT(P_LEVEL));
    PUT(p, PyBytes_AS_STRING(level_bytes), level_len);
    PUT(p, P_SOURCE, LIT(P_SOURCE));
    PUT(p, PyBytes_AS_STRING(json_prefix), prefix_len);
    PUT(p, P_SEQ, LIT(P_SEQ));
    PUT(p, seq_buf, seq_len);
    if (ids != NULL) {
        p = put_trace(p, ids);
    }
    PUT(p, P_MSG, LIT(P_MSG));
    PUT(p, PyBytes_AS_STRING(text), text_len);
    PUT(p, P_FIELDS, LIT(P_FIELDS));
    PUT(p, PyBytes_AS_STRING(fields_json), fields_len);
    PUT(p, P_END, LIT(P_END));
    b->len += total;
    rc = 0;
done:
    Py_DECREF(fields_json);
    Py_DECREF(text);
    Py_DECREF(level_bytes);
    return rc;
}

PyObject *
hft_render_lines(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    WriterState *mstate = PyModule_GetState(module); /* a pointer away: once per batch */
    if (nargs != 6 && nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "render_lines() takes 6 or 7 arguments");
        return NULL;
    }
    Py_ssize_t every = hft_yield_every(args, nargs, 6), left = every;
    if (every < 0) {
        return NULL;
    }
    PyObject *records = args[0];
    PyObject *levels = args[1];
    PyObject *messages = args[2];
    PyObject *dumps = args[3];
    Py_ssize_t long_line = PyNumber_AsSsize_t(args[4], PyExc_OverflowError);
    PyObject *state = args[5];
    if (long_line == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (!PyList_Check(records) && !PyTuple_Check(records)) {
        PyErr_SetString(PyExc_TypeError, "records must be a list or a tuple");
        return NULL;
    }
    if (!PyDict_Check(levels) || !PyDict_Check(messages)) {
        PyErr_SetString(PyExc_TypeError, "levels and messages must be dicts");
        return NULL;
    }
    if (!PyList_Check(state)) {
        PyErr_SetString(PyExc_TypeError, "state must be a list");
        return NULL;
    }
    Stamp stamp;
    if (hft_stamp_load(&stamp, state) < 0) {
        return NULL;
    }
    PyObject *slow = PyList_New(0);
    PyObject *trace_key = slow == NULL ? NULL : PyUnicode_FromString(TRACE_KEY);
    if (trace_key == NULL) {
        Py_XDECREF(slow);
        return NULL;
    }
    /* A fast sequence of the records: the list itself may change while dumps runs. */
    PyObject *seq = PySequence_Tuple(records);
    if (seq == NULL) {
        Py_DECREF(slow);
        Py_DECREF(trace_key);
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    PyObject *data = NULL;
    Buf b;
    buf_open(&b, &mstate->keeper);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i) {
            offer_cpu(&left, every);
        }
        int rc = render_one(&b, PyTuple_GET_ITEM(seq, i), levels, messages, dumps, long_line,
                            &stamp, trace_key);
        if (rc < 0) {
            goto error;
        }
        if (rc > 0) {
            PyObject *item = Py_BuildValue("(nn)", i, b.len);
            if (item == NULL) {
                goto error;
            }
            int err = PyList_Append(slow, item);
            Py_DECREF(item);
            if (err < 0) {
                goto error;
            }
        }
    }
    data = PyBytes_FromStringAndSize(b.data, b.len);
    if (data == NULL || hft_stamp_store(&stamp, state) < 0) {
        goto error;
    }
    PyObject *result = PyTuple_Pack(2, data, slow);
    Py_DECREF(data);
    data = NULL;
    if (result == NULL) {
        goto error;
    }
    Py_DECREF(seq);
    Py_DECREF(slow);
    Py_DECREF(trace_key);
    buf_close(&b);
    return result;
error:
    Py_XDECREF(data);
    Py_DECREF(seq);
    Py_DECREF(slow);
    Py_DECREF(trace_key);
    buf_close(&b);
    return NULL;
}
