"""SIGTERM drains the pipeline: it becomes ``SystemExit(143)``, so ``atexit`` runs.

Python's default for SIGTERM kills the process at once: no ``finally``, no ``atexit``, and
every record still in the ring is gone. When a pipeline starts on the main thread and nobody
has chosen a SIGTERM handler (it is still ``SIG_DFL``), this module installs one that raises
``SystemExit(128 + SIGTERM)`` in the main thread instead: the stack unwinds, the interpreter
exits normally, the pipelines' ``atexit`` hook drains the rings and closes the backends, and
the exit status is still 143, as a shell expects of a terminated process.

An application that installs its own handler keeps it (ours is never installed over it), and
when the last pipeline that installed ours closes, ``SIG_DFL`` is put back.
"""

from __future__ import annotations

import signal
import threading
import weakref
from types import FrameType
from typing import Any, Final

_EXIT_STATUS: Final = 128 + signal.SIGTERM
_owners: weakref.WeakSet[Any] = weakref.WeakSet()


def exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """The handler: leave the way an unhandled ``SystemExit`` does, so ``atexit`` runs."""
    del signum, frame
    raise SystemExit(_EXIT_STATUS)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def install_sigterm_exit(owner: object) -> bool:
    """Install :func:`exit_on_sigterm` for *owner* if SIGTERM is still at its default.

    Returns True when our handler is in place for *owner* (installed now or before).
    """
    if not _on_main_thread():
        return False
    current = signal.getsignal(signal.SIGTERM)
    if current is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, exit_on_sigterm)
    elif current is not exit_on_sigterm:
        return False  # the application chose its own handler: leave it alone
    _owners.add(owner)
    return True


def restore_sigterm(owner: object) -> None:
    """*owner* is done; when no owner is left, put ``SIG_DFL`` back (if ours is still there)."""
    _owners.discard(owner)
    if _owners or not _on_main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is exit_on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


__all__ = ["exit_on_sigterm", "install_sigterm_exit", "restore_sigterm"]
