/* scan() (scan.c): the dispatcher's look at a slice, in one pass. */
#ifndef HFT_SCAN_H
#define HFT_SCAN_H

#include "compat.h"

/* scan(batch, harmless, debug[, secrets]) -> (max_seq, lowest, highest, plain, hit) | None
 *
 * What the dispatcher learns about a slice in one pass instead of several C-level map passes
 * (each ~25 ns a record): the largest sequence number, the lowest and highest level, whether
 * one of `secrets` (a tuple of non-empty str, none holding "\0": the settings' secrets) is in
 * the text of a log record (level >= debug, fields an exact dict): its exact-str message,
 * field values or bound-context values, and whether the slice is "plain": no hit, and every
 * record a log record of a source with no bound context, with an exact-str message, whose
 * field names are all in the set `harmless` and values all exact str, int, float, bool or None
 * (anything else is rendered once by the Preparer). None for anything unusual (an empty batch,
 * not a list of 6-tuples of ints...): the caller then takes the Python path.
 */
PyObject *hft_scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

#endif /* HFT_SCAN_H */
