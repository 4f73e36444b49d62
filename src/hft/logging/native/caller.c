/* hft.logging.native._caller: the C of the process that logs (the trading process), on its
 * hot path. Its types: the call site's Emitter (callsite.c), the pipeline's Sequence
 * (sequence.c) and Counter (counter.c), the rate limits' Limiter and LimitSites (limiter.c,
 * limit_sites.c), the byte Lane (lane.c and its lane_*.c) and the mover
 * thread it runs (mover.c); its functions: nop (callsite.c) and the dispatcher's scan (scan.c).
 *
 * The writer side is the other extension, _writer (writer.c): the two share the bytes of a lane
 * entry (entry.h), never code or state.
 */
#include "caller.h"
#include "callsite.h"
#include "counter.h"
#include "lane.h"
#include "limiter.h"
#include "scan.h"
#include "sequence.h"

static int
caller_exec(PyObject *module)
{
    CallerState *state = PyModule_GetState(module);
    state->exc_info_key = PyUnicode_InternFromString("exc_info");
    state->trace_field = PyUnicode_InternFromString("\x1ftrace");
    if (state->exc_info_key == NULL || state->trace_field == NULL) {
        return -1;
    }
    state->emitter_type = PyType_FromModuleAndSpec(module, &hft_emitter_spec, NULL);
    state->lane_type = PyType_FromModuleAndSpec(module, &hft_lane_spec, NULL);
    state->sequence_type = PyType_FromModuleAndSpec(module, &hft_sequence_spec, NULL);
    state->counter_type = PyType_FromModuleAndSpec(module, &hft_counter_spec, NULL);
    PyObject *limiter = PyType_FromModuleAndSpec(module, &hft_limiter_spec, NULL);
    PyObject *sites = PyType_FromModuleAndSpec(module, &hft_limit_sites_spec, NULL);
    int added = limiter != NULL && sites != NULL &&
                PyModule_AddObjectRef(module, "Limiter", limiter) == 0 &&
                PyModule_AddObjectRef(module, "LimitSites", sites) == 0;
    Py_XDECREF(limiter); /* the module holds them: nothing on their hot path looks them up */
    Py_XDECREF(sites);
    if (!added || state->emitter_type == NULL || state->lane_type == NULL ||
        state->sequence_type == NULL || state->counter_type == NULL) {
        return -1;
    }
    if (PyModule_AddObjectRef(module, "Lane", state->lane_type) < 0 ||
        PyModule_AddObjectRef(module, "Sequence", state->sequence_type) < 0 ||
        PyModule_AddObjectRef(module, "Counter", state->counter_type) < 0) {
        return -1;
    }
    return PyModule_AddObjectRef(module, "Emitter", state->emitter_type);
}

static int
caller_traverse(PyObject *module, visitproc visit, void *arg)
{
    CallerState *state = PyModule_GetState(module);
    if (state != NULL) { /* NULL before the state was made */
        Py_VISIT(state->emitter_type);
        Py_VISIT(state->lane_type);
        Py_VISIT(state->sequence_type);
        Py_VISIT(state->counter_type);
        Py_VISIT(state->exc_info_key);
        Py_VISIT(state->trace_field);
    }
    return 0;
}

static int
caller_clear(PyObject *module)
{
    CallerState *state = PyModule_GetState(module);
    if (state != NULL) {
        Py_CLEAR(state->emitter_type);
        Py_CLEAR(state->lane_type);
        Py_CLEAR(state->sequence_type);
        Py_CLEAR(state->counter_type);
        Py_CLEAR(state->exc_info_key);
        Py_CLEAR(state->trace_field);
    }
    return 0;
}

static void
caller_free(void *module)
{
    (void)caller_clear((PyObject *)module);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, caller_exec},
    HFT_SLOT_INTERPRETERS HFT_SLOT_GIL {0, NULL},
};

static PyMethodDef module_methods[] = {
    {"nop", (PyCFunction)(void (*)(void))hft_nop, METH_FASTCALL | METH_KEYWORDS,
     "nop(*args, **fields) -> None: what a disabled logging level is"},
    {"scan", (PyCFunction)(void (*)(void))hft_scan, METH_FASTCALL,
     "scan(batch, harmless, debug, secrets=()) -> (max_seq, lowest, highest, plain, hit) or None\n\n"
     "One pass over a dispatcher slice: see hft.logging.pipeline.prepare.scan."},
    {NULL, NULL, 0, NULL},
};

struct PyModuleDef hft_caller_module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_methods = module_methods,
    .m_name = "hft.logging.native._caller",
    .m_doc = "The C fast paths of the process that logs: call sites, the byte lane, its mover, "
             "the dispatcher's scan.",
    .m_size = sizeof(CallerState),
    .m_slots = slots,
    .m_traverse = caller_traverse,
    .m_clear = caller_clear,
    .m_free = caller_free,
};

PyMODINIT_FUNC
PyInit__caller(void)
{
    return PyModuleDef_Init(&hft_caller_module);
}
