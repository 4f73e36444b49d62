/* Sequence (sequence.c): a pipeline's record numbers. The Emitter (callsite.c) takes its
 * numbers from it in place, and reads and clears its idle flag. */
#ifndef HFT_SEQUENCE_H
#define HFT_SEQUENCE_H

#include "compat.h"

/* Sequence(start=0): the pipeline's record numbers. Called, it gives the next one, as
 * itertools.count().__next__ does; a call site holding one takes its number in C, without a
 * call or an int object (the lane stores it as 8 bytes). */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    long long next;
    int idle; /* set by a dispatcher that sleeps long (only the lane's mover is busy): the next
               * record onto a ring clears it and wakes the dispatcher */
} Sequence;

extern PyType_Spec hft_sequence_spec;

#endif /* HFT_SEQUENCE_H */
