/* Optional C fast paths: JsonLineRenderer.many (render_lines) and the dispatcher's look at a
 * slice (scan, in _scan.h).
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
 * state is a list [second_start_ns: int, prefix: bytes] caching the rendered second.
 * yield_every (render_lines and render_lane): after each that many records, offer the CPU
 * (sched_yield, the GIL released); 0, the default: never. A writer process sets it.
 */
#include "_buffer.h" /* includes _compat.h and Python.h */
#include "_lane_frame.h" /* render_lane reads lane frames */
#include "_scan.h"
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define NS_PER_S 1000000000LL

/* The module's state: no global mutable state, so each interpreter has its own. */
typedef struct {
    BufKeeper keeper; /* the buffer render_lines keeps across calls (see _buffer.h) */
} SpeedupsState;

/* Writes v in decimal at p; returns the number of characters. */
static Py_ssize_t
write_int64(char *p, long long v)
{
    char tmp[24];
    int n = 0;
    Py_ssize_t len = 0;
    unsigned long long u;
    if (v < 0) {
        p[len++] = '-';
        u = 0ULL - (unsigned long long)v;
    }
    else {
        u = (unsigned long long)v;
    }
    do {
        tmp[n++] = (char)('0' + (u % 10));
        u /= 10;
    } while (u);
    while (n) {
        p[len++] = tmp[--n];
    }
    return len;
}

static void
write_nanos(char *p, long long nanos)
{
    for (int i = 8; i >= 0; i--) {
        p[i] = (char)('0' + (nanos % 10));
        nanos /= 10;
    }
}

/* An error that means "this record takes the slow path" (cleared), or one to propagate (-1). */
static int
soft_error(void)
{
    if (PyErr_ExceptionMatches(PyExc_MemoryError) ||
        PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
        return -1;
    }
    PyErr_Clear();
    return 0;
}

typedef struct {
    long long start; /* start of the cached second, ns since the epoch */
    int valid;
    char prefix[64];
    Py_ssize_t prefix_len;
} Stamp;

/* Caches the second of ts; returns 0, or 1 when the second cannot be rendered here. */
static int
stamp_set(Stamp *s, long long ts)
{
    if (ts < LLONG_MIN + NS_PER_S) {
        return 1; /* its second's start would not fit in an int64 */
    }
    long long second = ts / NS_PER_S;
    if (ts % NS_PER_S < 0) {
        second -= 1; /* floor division, as Python's // */
    }
    time_t t = (time_t)second;
    if ((long long)t != second) {
        return 1;
    }
    struct tm tm;
#ifdef _WIN32
    if (gmtime_s(&tm, &t) != 0) {
        return 1;
    }
#else
    if (gmtime_r(&t, &tm) == NULL) {
        return 1;
    }
#endif
    size_t n = strftime(s->prefix, sizeof(s->prefix), "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0) {
        return 1;
    }
    s->prefix_len = (Py_ssize_t)n;
    s->start = second * NS_PER_S;
    s->valid = 1;
    return 0;
}

static const char P_TS[] = "{\"ts\":\"";
static const char P_LEVEL[] = "Z\",\"level\":\"";
static const char P_SOURCE[] = "\",";
static const char P_SEQ[] = "\"seq\":";
static const char P_MSG[] = ",\"msg\":";
static const char P_FIELDS[] = ",\"fields\":";
static const char P_END[] = "}\n";
#define LIT(s) (sizeof(s) - 1)
/* All fixed parts, the '.' and the 9 digits of nanoseconds. */
#define FIXED                                                                                   \
    (LIT(P_TS) + 1 + 9 + LIT(P_LEVEL) + LIT(P_SOURCE) + LIT(P_SEQ) + LIT(P_MSG) + LIT(P_FIELDS) + \
     LIT(P_END))

#define PUT(p, s, n)          \
    do {                      \
        memcpy((p), (s), (n)); \
        (p) += (n);           \
    } while (0)

/* Renders one record into b. Returns 0 when written, 1 for the slow path, -1 on error. */
static int
render_one(Buf *b, PyObject *record, PyObject *levels, PyObject *messages, PyObject *dumps,
           Py_ssize_t long_line, Stamp *stamp)
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
    if (!stamp->valid || ts < stamp->start ||
        (unsigned long long)ts - (unsigned long long)stamp->start >= (unsigned long long)NS_PER_S) {
        if (stamp_set(stamp, ts)) {
            return 1;
        }
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
    PyObject *fields_json = PyObject_CallOneArg(dumps, fields);
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
                       text_len + fields_len;
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

static int
stamp_load(Stamp *s, PyObject *state)
{
    s->valid = 0;
    if (PyList_GET_SIZE(state) != 2) {
        return 0;
    }
    PyObject *start = PyList_GET_ITEM(state, 0);
    PyObject *prefix = PyList_GET_ITEM(state, 1);
    if (!PyLong_CheckExact(start) || !PyBytes_CheckExact(prefix) ||
        PyBytes_GET_SIZE(prefix) >= (Py_ssize_t)sizeof(s->prefix)) {
        return 0;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(start, &overflow);
    if (overflow || (v == -1 && PyErr_Occurred())) {
        return PyErr_Occurred() ? soft_error() : 0;
    }
    s->start = v;
    s->prefix_len = PyBytes_GET_SIZE(prefix);
    memcpy(s->prefix, PyBytes_AS_STRING(prefix), (size_t)s->prefix_len);
    s->valid = 1;
    return 0;
}

static int
stamp_store(const Stamp *s, PyObject *state)
{
    if (!s->valid) {
        return 0;
    }
    PyObject *start = PyLong_FromLongLong(s->start);
    if (start == NULL) {
        return -1;
    }
    PyObject *prefix = PyBytes_FromStringAndSize(s->prefix, s->prefix_len);
    if (prefix == NULL) {
        Py_DECREF(start);
        return -1;
    }
    PyObject *pair[2] = {start, prefix};
    int rc = PyList_SetSlice(state, 0, PyList_GET_SIZE(state), NULL);
    for (int i = 0; i < 2 && rc == 0; i++) {
        rc = PyList_Append(state, pair[i]);
    }
    Py_DECREF(start);
    Py_DECREF(prefix);
    return rc;
}

/* A renderer's optional yield_every (records between offers of the CPU; 0: never); -1 with an
 * error set. */
static Py_ssize_t
yield_every_arg(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t at)
{
    Py_ssize_t every = nargs > at ? PyNumber_AsSsize_t(args[at], PyExc_OverflowError) : 0;
    if (every < 0 && !PyErr_Occurred()) {
        PyErr_SetString(PyExc_ValueError, "yield_every must be 0 or more");
    }
    return every < 0 ? -1 : every;
}

/* Called before each record but the first: once `every` records are rendered, offer the CPU
 * to whoever waits for it (*left counts down from every; 0: never). A writer process woken on
 * a busy application thread's CPU would otherwise hold it for a whole frame. The GIL is kept:
 * the CPU is offered to other processes, not to the writer's own threads. Releasing it here
 * handed it to a console sink's thread 16 times a frame, and the file (the lossless sink) then
 * waited a switch interval for it each time: 0.18 M records/s instead of 2.5 M. */
static inline void
offer_cpu(Py_ssize_t *left, Py_ssize_t every)
{
    if (*left > 0 && --*left == 0) {
        *left = every;
        sched_yield();
    }
}

static PyObject *
render_lines(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    SpeedupsState *mstate = PyModule_GetState(module); /* a pointer away: once per batch */
    if (nargs != 6 && nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "render_lines() takes 6 or 7 arguments");
        return NULL;
    }
    Py_ssize_t every = yield_every_arg(args, nargs, 6), left = every;
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
    if (stamp_load(&stamp, state) < 0) {
        return NULL;
    }
    PyObject *slow = PyList_New(0);
    if (slow == NULL) {
        return NULL;
    }
    /* A fast sequence of the records: the list itself may change while dumps runs. */
    PyObject *seq = PySequence_Tuple(records);
    if (seq == NULL) {
        Py_DECREF(slow);
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
                            &stamp);
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
    if (data == NULL || stamp_store(&stamp, state) < 0) {
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
    buf_close(&b);
    return result;
error:
    Py_XDECREF(data);
    Py_DECREF(seq);
    Py_DECREF(slow);
    buf_close(&b);
    return NULL;
}

/* -- render_lane: JSON lines straight from a lane frame ------------------------------------- */

static const char HEX[] = "0123456789abcdef";

/* s (n bytes of valid utf-8) as a JSON string, escaped as orjson escapes it: '"', '\\' and
 * control characters (\n \r \t \b \f by name, the others as \u00XX); the rest as it is. */
static char *
json_str(char *p, const char *s, uint32_t n)
{
    *p++ = '"';
    uint32_t i = 0;
    while (i < n) {
        uint32_t run = i;
        while (run < n) {
            unsigned char c = (unsigned char)s[run];
            if (c < 0x20 || c == '"' || c == '\\') {
                break;
            }
            run++;
        }
        memcpy(p, s + i, run - i);
        p += run - i;
        i = run;
        if (i == n) {
            break;
        }
        unsigned char c = (unsigned char)s[i++];
        *p++ = '\\';
        switch (c) {
        case '"': *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\n': *p++ = 'n'; break;
        case '\r': *p++ = 'r'; break;
        case '\t': *p++ = 't'; break;
        case '\b': *p++ = 'b'; break;
        case '\f': *p++ = 'f'; break;
        default:
            *p++ = 'u';
            *p++ = '0';
            *p++ = '0';
            *p++ = HEX[c >> 4];
            *p++ = HEX[c & 15];
        }
    }
    *p++ = '"';
    return p;
}

/* A float as orjson writes it, when that is Python's repr (finite, no exponent: the shortest
 * digits that read back the same, as both write them); NULL when orjson must say (1e-05 is
 * 0.00001 there, nan is null), or on an error (set).
 *
 * Prices and quantities have few decimals: the fewest k for which m = a * 10^k, rounded, reads
 * back as a (m / 10^k, both exact, divided with one rounding as strtod does) gives the digits
 * at once. Below 10^15 two decimals of at most 15 digits never read as the same double, so
 * that m is the only candidate and the shortest (repr's). Anything else asks PyOS. */
static char *
json_float(char *p, double f)
{
    if (!isfinite(f)) {
        return NULL;
    }
    double a = fabs(f);
    if (a == 0.0 || (a >= 1e-4 && a < 1e15)) {
        double scale = 1.0;
        for (int k = 0; k <= 19; k++, scale *= 10.0) {
            double y = a * scale;
            if (y >= 1e15) {
                break;
            }
            double m = nearbyint(y);
            if (m / scale != a) {
                continue;
            }
            char digits[24];
            Py_ssize_t n = write_int64(digits, (long long)m);
            if (signbit(f)) {
                *p++ = '-';
            }
            if (k == 0) {
                PUT(p, digits, n);
                PUT(p, ".0", 2);
            } else if (k >= n) {
                PUT(p, "0.", 2);
                memset(p, '0', (size_t)(k - n));
                p += k - n;
                PUT(p, digits, n);
            } else {
                PUT(p, digits, n - k);
                *p++ = '.';
                PUT(p, digits + n - k, k);
            }
            return p;
        }
    }
    char *text = PyOS_double_to_string(f, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (text == NULL) {
        return NULL;
    }
    size_t n = strlen(text);
    char *out = NULL;
    if (memchr(text, 'e', n) == NULL && n < 40) {
        memcpy(p, text, n);
        out = p + n;
    }
    PyMem_Free(text);
    return out;
}

/* A name's bit in a context's name mask: from its length and first and last bytes. */
static inline uint64_t
name_bit(const char *s, Py_ssize_t n)
{
    unsigned h = n ? (unsigned)n + 7u * (unsigned char)s[0] + 13u * (unsigned char)s[n - 1] : 0;
    return 1ull << (h & 63);
}

/* The name mask of a bound context (an exact dict): a call field whose bit is not in it is
 * surely not bound; ~0 when a name is odd (not a str Preparer.context would pass). */
static uint64_t
names_mask(PyObject *context)
{
    Py_ssize_t pos = 0, len;
    PyObject *name, *value;
    uint64_t mask = 0;
    while (PyDict_Next(context, &pos, &name, &value)) {
        const char *s = PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, &len) : NULL;
        if (s == NULL) {
            PyErr_Clear();
            return ~0ull;
        }
        mask |= name_bit(s, len);
    }
    return mask;
}

/* Whether the bound context (an exact dict) holds the call's field name (n bytes of utf-8). */
static int
binds(PyObject *context, const char *key, uint32_t n)
{
    Py_ssize_t pos = 0, len;
    PyObject *name, *value;
    while (PyDict_Next(context, &pos, &name, &value)) {
        const char *s = PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, &len) : NULL;
        if (s == NULL) {
            PyErr_Clear(); /* a name Preparer.context would not pass: the slow path */
            return 1;
        }
        if (len == (Py_ssize_t)n && memcmp(s, key, n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Everything the renderer holds across the entries of one frame. */
typedef struct {
    PyObject *levels;  /* dict: level (int) -> name (bytes) */
    int32_t level;     /* the last level looked up, and its name (held) */
    PyObject *level_name;
    Stamp stamp;
    Py_ssize_t long_line;
    PyObject *named;  /* the last bound context looked at (the frame holds it), and its mask */
    uint64_t names;
} LaneRender;

/* Render the entry at r->p into b as render_lines renders its record; 0 written (r->p moved
 * past it), 1 for the slow path (r->p and b left as they were), -1 error. */
static int
render_entry(LaneRender *lr, Reader *r, const FrameSources *fs, Buf *b)
{
    const char *e = r->p;
    uint32_t size = entry_size(e, r->end), source, msg_len, nfields;
    long long seq, ts;
    int32_t level;
    if (size == 0) {
        return 1; /* damaged: take_record says how */
    }
    /* Checked whole by entry_size: every length below lies inside the entry. */
    const char *end = e + size;
    memcpy(&seq, e + 4, 8);
    memcpy(&ts, e + 12, 8);
    memcpy(&level, e + 20, 4);
    memcpy(&source, e + 24, 4);
    memcpy(&msg_len, e + 28, 4);
    if (source >= fs->n || fs->by_id[source] == NULL) {
        return 1;
    }
    const char *msg = e + 32;
    memcpy(&nfields, msg + msg_len, 4);
    PyObject *src = fs->by_id[source];
    if (!PyTuple_Check(src) || PyTuple_GET_SIZE(src) <= 3 ||
        !PyBytes_CheckExact(PyTuple_GET_ITEM(src, 3))) {
        return 1;
    }
    /* A bound context: its fields' JSON (Source index 4) goes first; without one, or when
     * a call field overrides one of them (below), take_record merges them in Python. */
    const char *bound = NULL;
    Py_ssize_t bound_len = 0;
    PyObject *context = source_context(src);
    if (context != NULL) {
        PyObject *json = PyTuple_GET_SIZE(src) > 4 ? PyTuple_GET_ITEM(src, 4) : NULL;
        if (!PyDict_CheckExact(context) || json == NULL || !PyBytes_CheckExact(json) ||
            PyBytes_GET_SIZE(json) == 0) {
            return 1;
        }
        bound = PyBytes_AS_STRING(json);
        bound_len = PyBytes_GET_SIZE(json);
        if (lr->named != context) {
            lr->named = context;
            lr->names = names_mask(context);
        }
    }
    PyObject *prefix = PyTuple_GET_ITEM(src, 3);
    if (lr->level_name == NULL || level != lr->level) {
        PyObject *key = PyLong_FromLong(level);
        PyObject *name = key == NULL ? NULL : PyDict_GetItemWithError(lr->levels, key);
        Py_XDECREF(key);
        if (name == NULL || !PyBytes_CheckExact(name)) {
            return PyErr_Occurred() ? (soft_error() < 0 ? -1 : 1) : 1;
        }
        Py_XSETREF(lr->level_name, Py_NewRef(name));
        lr->level = level;
    }
    Stamp *stamp = &lr->stamp;
    if (!stamp->valid || ts < stamp->start ||
        (unsigned long long)ts - (unsigned long long)stamp->start >= (unsigned long long)NS_PER_S) {
        if (stamp_set(stamp, ts)) {
            return 1;
        }
    }
    Py_ssize_t level_len = PyBytes_GET_SIZE(lr->level_name);
    Py_ssize_t prefix_len = PyBytes_GET_SIZE(prefix);
    /* Every string at most 6 bytes a byte, every number at most 40 characters for its 9 bytes
     * of entry: the entry's size bounds the line. */
    size_t most = FIXED + (size_t)stamp->prefix_len + (size_t)level_len + (size_t)prefix_len +
                  (size_t)bound_len + 24 + 6 * (size_t)size + 16;
    if (buf_reserve(b, (Py_ssize_t)most) < 0) {
        return -1;
    }
    char *line = b->data + b->len, *p = line;
    PUT(p, P_TS, LIT(P_TS));
    PUT(p, stamp->prefix, stamp->prefix_len);
    *p++ = '.';
    write_nanos(p, ts - stamp->start);
    p += 9;
    PUT(p, P_LEVEL, LIT(P_LEVEL));
    PUT(p, PyBytes_AS_STRING(lr->level_name), level_len);
    PUT(p, P_SOURCE, LIT(P_SOURCE));
    PUT(p, PyBytes_AS_STRING(prefix), prefix_len);
    PUT(p, P_SEQ, LIT(P_SEQ));
    p += write_int64(p, seq);
    PUT(p, P_MSG, LIT(P_MSG));
    p = json_str(p, msg, msg_len);
    PUT(p, P_FIELDS, LIT(P_FIELDS));
    *p++ = '{';
    if (bound_len) {
        PUT(p, bound, bound_len);
    }
    const char *q = msg + msg_len + 4;
    for (uint32_t i = 0; i < nfields; i++) {
        uint32_t key_len, str_len;
        unsigned char tag;
        memcpy(&key_len, q, 4);
        if (bound_len && (lr->names & name_bit(q + 4, key_len)) &&
            binds(context, q + 4, key_len)) {
            return 1; /* the call overrides a bound field: {**context, **fields} in Python */
        }
        if (i || bound_len) {
            *p++ = ',';
        }
        p = json_str(p, q + 4, key_len);
        *p++ = ':';
        q += 4 + key_len;
        tag = (unsigned char)*q++;
        long long iv;
        double fv;
        switch (tag) {
        case TAG_NONE: PUT(p, "null", 4); break;
        case TAG_FALSE: PUT(p, "false", 5); break;
        case TAG_TRUE: PUT(p, "true", 4); break;
        case TAG_INT:
            memcpy(&iv, q, 8);
            q += 8;
            p += write_int64(p, iv);
            break;
        case TAG_FLOAT:
            memcpy(&fv, q, 8);
            q += 8;
            p = json_float(p, fv);
            if (p == NULL) {
                return PyErr_Occurred() ? (soft_error() < 0 ? -1 : 1) : 1;
            }
            break;
        case TAG_STR:
            memcpy(&str_len, q, 4);
            p = json_str(p, q + 4, str_len);
            q += 4 + str_len;
            break;
        default: return 1;
        }
    }
    *p++ = '}';
    PUT(p, P_END, LIT(P_END));
    if (p - line > lr->long_line) {
        return 1; /* a long line: render_long, in Python */
    }
    b->len += p - line;
    r->p = end;
    return 0;
}

/* render_lane(payload, levels, long_line, state, load_source[, yield_every]) -> (bytes, slow) */
static PyObject *
render_lane(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    SpeedupsState *mstate = PyModule_GetState(module);
    if ((nargs != 5 && nargs != 6) || !PyDict_Check(args[1]) || !PyList_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "render_lane(payload, levels: dict, long_line, "
                                         "state: list, load_source[, yield_every])");
        return NULL;
    }
    Py_ssize_t long_line = PyNumber_AsSsize_t(args[2], PyExc_OverflowError);
    if (long_line == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t every = yield_every_arg(args, nargs, 5), left = every;
    if (every < 0) {
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    LaneRender lr = {args[1], 0, NULL, {0, 0, {0}, 0}, long_line, NULL, 0};
    Reader r = {(const char *)view.buf, (const char *)view.buf + view.len, {NULL}};
    FrameSources fs = {NULL, 0};
    PyObject *slow = PyList_New(0), *result = NULL;
    uint32_t nrecords;
    Buf b;
    buf_open(&b, &mstate->keeper);
    if (slow == NULL || stamp_load(&lr.stamp, args[3]) < 0 ||
        frame_open(&r, args[4], &fs, &nrecords) < 0) {
        goto done;
    }
    for (uint32_t i = 0; i < nrecords; i++) {
        if (i) {
            offer_cpu(&left, every);
        }
        int rc = render_entry(&lr, &r, &fs, &b);
        if (rc < 0) {
            goto done;
        }
        if (rc > 0) { /* the record itself, for the Python path (which raises if damaged) */
            PyObject *record = take_record(&r, &fs);
            PyObject *item = record == NULL ? NULL : Py_BuildValue("(Nn)", record, b.len);
            if (item == NULL || PyList_Append(slow, item) < 0) {
                Py_XDECREF(item);
                goto done;
            }
            Py_DECREF(item);
        }
    }
    if (r.p != r.end) {
        PyErr_SetString(PyExc_ValueError, "lane frame: bytes after its last record");
        goto done;
    }
    PyObject *data = PyBytes_FromStringAndSize(b.data, b.len);
    if (data != NULL && stamp_store(&lr.stamp, args[3]) == 0) {
        result = PyTuple_Pack(2, data, slow);
    }
    Py_XDECREF(data);
done:
    Py_XDECREF(lr.level_name);
    Py_XDECREF(slow);
    frame_sources_clear(&fs);
    reader_clear(&r);
    buf_close(&b);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"render_lane", (PyCFunction)(void (*)(void))render_lane, METH_FASTCALL,
     "render_lane(payload, levels, long_line, state, load_source, yield_every=0)\n"
     "-> (bytes, slow)\n\n"
     "A lane frame's payload as render_lines renders its records, without making them; slow is\n"
     "a list of (record, offset) of the records left for the Python path (long lines, floats\n"
     "orjson writes otherwise than repr, a call field overriding a bound one). A bound\n"
     "context's fields come first, from the source's json_context."},
    {"render_lines", (PyCFunction)(void (*)(void))render_lines, METH_FASTCALL,
     "render_lines(records, levels, messages, dumps, long_line, state, yield_every=0)\n"
     "-> (bytes, slow)\n\n"
     "The fast path of JsonLineRenderer.many; slow is a list of (index, offset) of the records\n"
     "left for the Python path to render and splice in at that byte offset. yield_every: after\n"
     "each that many records, offer the CPU (0: never)."},
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL,
     "scan(batch, harmless, debug, secrets=()) -> (max_seq, lowest, highest, plain, hit) or None\n\n"
     "One pass over a dispatcher slice: see hft.logging.pipeline.prepare.scan."},
    {NULL, NULL, 0, NULL},
};

static int
speedups_exec(PyObject *module)
{
    SpeedupsState *mstate = PyModule_GetState(module);
    mstate->keeper = (BufKeeper){NULL, 0, 0};
    return 0;
}

static void
speedups_free(void *module)
{
    SpeedupsState *mstate = PyModule_GetState((PyObject *)module);
    if (mstate != NULL) { /* NULL when the module failed before its state was made */
        buf_keeper_free(&mstate->keeper);
    }
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, speedups_exec},
    HFT_SLOT_INTERPRETERS HFT_SLOT_GIL {0, NULL},
};

static struct PyModuleDef module_def = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "hft.logging.native._speedups",
    .m_doc = "C fast paths for the dispatcher and JSON line rendering.",
    .m_size = sizeof(SpeedupsState),
    .m_methods = methods,
    .m_slots = slots,
    .m_free = speedups_free, /* the state holds no Python object: no m_traverse, m_clear */
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&module_def);
}
