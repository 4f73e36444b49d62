/* The _writer extension's module state (writer.c): what its renderers keep across calls. */
#ifndef HFT_WRITER_H
#define HFT_WRITER_H

#include "compat.h"
#include "buffer.h"

/* No global mutable state, so each interpreter has its own. */
typedef struct {
    BufKeeper keeper; /* the buffer render_lines and render_lane keep across calls */
} WriterState;

#endif /* HFT_WRITER_H */
