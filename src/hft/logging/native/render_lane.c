/* JSON lines straight from a lane frame's bytes (see render_lane.h): each entry rendered as
 * render_lines renders its record, without making the record; an entry that render_lines would
 * leave to Python (a long line, a float orjson writes otherwise than repr, a call field over a
 * bound one) is made a record (frame.c) and left for the Python path. A traced call's entry
 * carries its span's ids as its first field, TRACE_KEY (lane_push.c): written after seq. */
#include "render_lane.h"
#include "buffer.h"
#include "entry.h"
#include "frame.h"
#include "line.h"
#include "writer.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

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

/* Whether a field is named TRACE_KEY. */
static inline int
is_trace(const EntryField *f)
{
    return f->key_len == LIT(TRACE_KEY) && memcmp(f->key, TRACE_KEY, LIT(TRACE_KEY)) == 0;
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
    uint32_t size = entry_size(e, r->end), nfields;
    if (size == 0) {
        return 1; /* damaged: take_record says how */
    }
    /* Checked whole by entry_size: every length below lies inside the entry. */
    EntryHead h;
    entry_get_head(e, &h);
    if (h.source >= fs->n || fs->by_id[h.source] == NULL) {
        return 1;
    }
    const char *q = entry_fields(e, &h, &nfields);
    const char *ids = NULL; /* the span's ids: the first field, TRACE_KEY */
    if (nfields) {
        EntryField f;
        const char *next = entry_get_field(q, &f);
        if (is_trace(&f)) {
            if (f.tag != TAG_STR || !trace_ok(f.str, f.str_len)) {
                return 1; /* split_trace decides, in Python */
            }
            ids = f.str;
            q = next;
            nfields--;
        }
    }
    PyObject *src = fs->by_id[h.source];
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
    if (lr->level_name == NULL || h.level != lr->level) {
        PyObject *key = PyLong_FromLong(h.level);
        PyObject *name = key == NULL ? NULL : PyDict_GetItemWithError(lr->levels, key);
        Py_XDECREF(key);
        if (name == NULL || !PyBytes_CheckExact(name)) {
            return PyErr_Occurred() ? (soft_error() < 0 ? -1 : 1) : 1;
        }
        Py_XSETREF(lr->level_name, Py_NewRef(name));
        lr->level = h.level;
    }
    Stamp *stamp = &lr->stamp;
    if (stamp_cover(stamp, h.ts)) {
        return 1;
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
    write_nanos(p, h.ts - stamp->start);
    p += 9;
    PUT(p, P_LEVEL, LIT(P_LEVEL));
    PUT(p, PyBytes_AS_STRING(lr->level_name), level_len);
    PUT(p, P_SOURCE, LIT(P_SOURCE));
    PUT(p, PyBytes_AS_STRING(prefix), prefix_len);
    PUT(p, P_SEQ, LIT(P_SEQ));
    p += write_int64(p, h.seq);
    if (ids != NULL) {
        p = put_trace(p, ids);
    }
    PUT(p, P_MSG, LIT(P_MSG));
    p = json_str(p, e + ENTRY_AT_MSG, h.msg_len);
    PUT(p, P_FIELDS, LIT(P_FIELDS));
    *p++ = '{';
    if (bound_len) {
        PUT(p, bound, bound_len);
    }
    for (uint32_t i = 0; i < nfields; i++) {
        EntryField f;
        q = entry_get_field(q, &f);
        if (is_trace(&f)) {
            return 1; /* a second one: a call's own, which the Python path merges */
        }
        if (bound_len && (lr->names & name_bit(f.key, f.key_len)) &&
            binds(context, f.key, f.key_len)) {
            return 1; /* the call overrides a bound field: {**context, **fields} in Python */
        }
        if (i || bound_len) {
            *p++ = ',';
        }
        p = json_str(p, f.key, f.key_len);
        *p++ = ':';
        switch (f.tag) {
        case TAG_NONE: PUT(p, "null", 4); break;
        case TAG_FALSE: PUT(p, "false", 5); break;
        case TAG_TRUE: PUT(p, "true", 4); break;
        case TAG_INT: p += write_int64(p, f.i); break;
        case TAG_FLOAT:
            p = json_float(p, f.f);
            if (p == NULL) {
                return PyErr_Occurred() ? (soft_error() < 0 ? -1 : 1) : 1;
            }
            break;
        case TAG_STR: p = json_str(p, f.str, f.str_len); break;
        default: return 1;
        }
    }
    *p++ = '}';
    PUT(p, P_END, LIT(P_END));
    if (p - line > lr->long_line) {
        return 1; /* a long line: render_long, in Python */
    }
    b->len += p - line;
    r->p = e + size;
    return 0;
}

PyObject *
hft_render_lane(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    WriterState *mstate = PyModule_GetState(module);
    if ((nargs != 5 && nargs != 6) || !PyDict_Check(args[1]) || !PyList_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "render_lane(payload, levels: dict, long_line, "
                                         "state: list, load_source[, yield_every])");
        return NULL;
    }
    Py_ssize_t long_line = PyNumber_AsSsize_t(args[2], PyExc_OverflowError);
    if (long_line == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t every = hft_yield_every(args, nargs, 5), left = every;
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
    if (slow == NULL || hft_stamp_load(&lr.stamp, args[3]) < 0 ||
        hft_frame_open(&r, args[4], &fs, &nrecords) < 0) {
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
            PyObject *record = hft_take_record(&r, &fs);
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
    if (data != NULL && hft_stamp_store(&lr.stamp, args[3]) == 0) {
        result = PyTuple_Pack(2, data, slow);
    }
    Py_XDECREF(data);
done:
    Py_XDECREF(lr.level_name);
    Py_XDECREF(slow);
    hft_frame_sources_clear(&fs);
    hft_reader_clear(&r);
    buf_close(&b);
    PyBuffer_Release(&view);
    return result;
}
