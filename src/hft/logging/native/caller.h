/* The _caller extension's module (caller.c): its state, where the call site finds the types it
 * checks its arguments against. */
#ifndef HFT_CALLER_H
#define HFT_CALLER_H

#include "compat.h"

/* The module's state: no global mutable state, so each interpreter has its own. */
typedef struct {
    PyObject *emitter_type;  /* the Emitter heap type of this module object */
    PyObject *lane_type;     /* the Lane heap type */
    PyObject *sequence_type; /* the Sequence heap type */
    PyObject *counter_type;  /* the Counter heap type */
    PyObject *exc_info_key;  /* "exc_info", interned */
    PyObject *trace_field;   /* hft.logging.record.TRACE_FIELD, interned */
} CallerState;

/* The module's definition: PyType_GetModuleByDef finds a type's module (and its state) by it. */
extern struct PyModuleDef hft_caller_module;

#endif /* HFT_CALLER_H */
