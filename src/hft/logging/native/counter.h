/* Counter (counter.c): the calls of one logger at one level in a pipeline. The Emitter
 * (callsite.c) adds to its value in place. */
#ifndef HFT_COUNTER_H
#define HFT_COUNTER_H

#include "compat.h"

/* Counter(): the calls of one logger at one level in a pipeline, added to by each of their call
 * sites (a uint64, one add per call, under the GIL: nothing else writes it); value is read when
 * Prometheus pushes or is scraped. It holds no reference, so it is not a GC container. */
typedef struct {
    PyObject_HEAD
    unsigned long long value;
} Counter;

extern PyType_Spec hft_counter_spec;

#endif /* HFT_COUNTER_H */
