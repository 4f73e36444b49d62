/* hft.logging.native._writer: the C of the side that reads frames and writes lines. Mostly the
 * writer process runs it: a lane frame checked and counted (lane_count) and decoded back into
 * records (unpack_lane) in frame.c, and JSON lines rendered from records (render_lines, in
 * render.c) or straight from a lane frame's bytes (render_lane, in render_lane.c). A JSON file
 * sink in the trading process renders with it too, and so does ProcessBackend's last resort.
 *
 * The trading process's hot path is the other extension, _caller (caller.c): the two share
 * the bytes of a lane entry (entry.h), never code or state.
 */
#include "writer.h"
#include "frame.h"
#include "render.h"
#include "render_lane.h"

static PyMethodDef methods[] = {
    {"lane_count", hft_lane_count, METH_O,
     "lane_count(payload) -> (count, lowest, highest): a lane frame's records, all checked"},
    {"render_lane", (PyCFunction)(void (*)(void))hft_render_lane, METH_FASTCALL,
     "render_lane(payload, levels, long_line, state, load_source, yield_every=0)\n"
     "-> (bytes, slow)\n\n"
     "A lane frame's payload as render_lines renders its records, without making them; slow is\n"
     "a list of (record, offset) of the records left for the Python path (long lines, floats\n"
     "orjson writes otherwise than repr, a call field overriding a bound one). A bound\n"
     "context's fields come first, from the source's json_context."},
    {"render_lines", (PyCFunction)(void (*)(void))hft_render_lines, METH_FASTCALL,
     "render_lines(records, levels, messages, dumps, long_line, state, yield_every=0)\n"
     "-> (bytes, slow)\n\n"
     "The fast path of JsonLineRenderer.many; slow is a list of (index, offset) of the records\n"
     "left for the Python path to render and splice in at that byte offset. yield_every: after\n"
     "each that many records, offer the CPU (0: never)."},
    {"unpack_lane", (PyCFunction)(void (*)(void))hft_unpack_lane, METH_FASTCALL,
     "unpack_lane(payload, load_source) -> list of records: a lane frame's payload decoded"},
    {NULL, NULL, 0, NULL},
};

static int
writer_exec(PyObject *module)
{
    WriterState *state = PyModule_GetState(module);
    state->keeper = (BufKeeper){NULL, 0, 0};
    return 0;
}

static void
writer_free(void *module)
{
    WriterState *state = PyModule_GetState((PyObject *)module);
    if (state != NULL) { /* NULL when the module failed before its state was made */
        buf_keeper_free(&state->keeper);
    }
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, writer_exec},
    HFT_SLOT_INTERPRETERS HFT_SLOT_GIL {0, NULL},
};

static struct PyModuleDef module_def = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "hft.logging.native._writer",
    .m_doc = "C fast paths of the writer side: lane frames read, JSON lines rendered.",
    .m_size = sizeof(WriterState),
    .m_methods = methods,
    .m_slots = slots,
    .m_free = writer_free, /* the state holds no Python object: no m_traverse, m_clear */
};

PyMODINIT_FUNC
PyInit__writer(void)
{
    return PyModuleDef_Init(&module_def);
}
