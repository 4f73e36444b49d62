"""The writer process: the backends that render (file, console, syslog) as sinks of a child.

The parent's side: ``backend`` is what the pipeline sees (:class:`ProcessBackend`), composing
``link`` (the frames in flight: kept until acknowledged, resent after a restart),
``supervisor`` (the writer process's life: start, watch, restart, fork, close with the drain
deadline), ``tally`` (what became of the records, by sink) and ``fallback`` (the sinks in this
process when no writer can be had); ``handle`` is its handle on one writer's pipes. Both
sides: ``wire``, the frames and replies. The child's side: ``serve``, its loop
(``python -m hft.logging.writer``), and ``sinks``, its backends each with its own bound.
"""

from hft.logging.writer.backend import ProcessBackend

__all__ = ["ProcessBackend"]
