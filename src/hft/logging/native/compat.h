/* Python.h, and what the C modules need from newer CPython headers, for every CPython hft
 * supports (3.11+). Every header here includes it first, so Python.h (and the feature macros
 * of pyconfig.h: _GNU_SOURCE, _POSIX_C_SOURCE) comes before any system header in every unit,
 * whatever the order of a unit's own includes.
 *
 * 3.12 moved PyMemberDef and its type codes and flags into Python.h (Py_T_OBJECT_EX,
 * Py_READONLY) and deprecated structmember.h; 3.11 has them only there, under the old names
 * (same values). So only a 3.11 build includes structmember.h, here, and the modules use the
 * new names everywhere.
 */
#ifndef HFT_COMPAT_H
#define HFT_COMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stddef.h> /* offsetof */

#if PY_VERSION_HEX < 0x030C0000
#include <structmember.h> /* 3.11: the only home of PyMemberDef */
#define Py_T_OBJECT_EX T_OBJECT_EX
#define Py_T_PYSSIZET T_PYSSIZET
#define Py_T_LONGLONG T_LONGLONG
#define Py_T_INT T_INT
#define Py_READONLY READONLY
#endif

/* The module slots every hft extension declares besides Py_mod_exec (caller.c, writer.c).
 *
 * Per-interpreter GIL (3.12+): each module keeps all its state in its module object and its
 * types are heap types of that module, so a subinterpreter with its own GIL gets its own copy.
 * Py_mod_gil (3.13+): the modules rely on the GIL (the kept buffer's busy flag, the ring and
 * dict operations of the call site are not atomic), so a free-threaded build keeps it on. */
#if PY_VERSION_HEX >= 0x030C0000
#define HFT_SLOT_INTERPRETERS \
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#else
#define HFT_SLOT_INTERPRETERS
#endif
#if PY_VERSION_HEX >= 0x030D0000
#define HFT_SLOT_GIL {Py_mod_gil, Py_MOD_GIL_USED},
#else
#define HFT_SLOT_GIL
#endif

#endif /* HFT_COMPAT_H */
