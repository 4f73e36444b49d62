/* Reading a lane frame (entry.h) in the writer: frame.c makes its records back (unpack_lane)
 * and checks and counts them without making any (lane_count); render_lane.c renders JSON lines
 * straight from its bytes, reading the frame's head and its odd records with these. */
#ifndef HFT_FRAME_H
#define HFT_FRAME_H

#include "compat.h"
#include <stdint.h>

/* Decoded strings of one frame, by their bytes: a frame repeats a few field names and
 * messages thousands of times, so each is made once (and shared, as the caller's were). */
#define STR_CACHE 256

/* Where a frame is read (p, up to end), and its strings made so far. */
typedef struct {
    const char *p, *end;
    PyObject *cache[STR_CACHE];
} Reader;

/* The sources a frame defines, by id (ids are small: a pipeline's loggers, numbered from 0). */
typedef struct {
    PyObject **by_id; /* strong references; NULL where the frame defines no such id */
    uint32_t n;
} FrameSources;

/* Read a frame's head ('L', its sources made by load_source(pickled), once each) up to its
 * first entry; 0, or -1 with an error set. */
int hft_frame_open(Reader *r, PyObject *load_source, FrameSources *fs, uint32_t *nrecords);

/* The entry at r->p as the record tuple the dispatcher would have sent on (the call's fields
 * over its logger's bound context); r->p moved past it. NULL with a ValueError if damaged. */
PyObject *hft_take_record(Reader *r, const FrameSources *sources);

void hft_reader_clear(Reader *r);
void hft_frame_sources_clear(FrameSources *fs);

/* The source's bound context (a Source is a tuple: index 2) when it may hold anything: borrowed;
 * NULL for none or an empty dict. The parent prepared it once (Preparer.context). */
static inline PyObject *
source_context(PyObject *source)
{
    if (!PyTuple_Check(source) || PyTuple_GET_SIZE(source) <= 2) {
        return NULL;
    }
    PyObject *context = PyTuple_GET_ITEM(source, 2);
    return PyDict_CheckExact(context) && PyDict_GET_SIZE(context) == 0 ? NULL : context;
}

/* unpack_lane(payload, load_source) -> list of records: a frame's payload ('L' ...) back into
 * record tuples; load_source(bytes) makes a Source of a pickled one (once per frame). */
PyObject *hft_unpack_lane(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

/* lane_count(payload) -> (count, lowest level, highest level): the records of a lane frame,
 * every entry checked, and the range of their levels (0, 0 for none). */
PyObject *hft_lane_count(PyObject *module, PyObject *payload);

#endif /* HFT_FRAME_H */
