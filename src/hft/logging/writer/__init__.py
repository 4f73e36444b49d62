"""The writer process: the backends that render (file, console, syslog) as sinks of a child.

``_backend`` is the parent's side (:class:`ProcessBackend`, keeping frames until they are
acknowledged), ``_handle`` its handle on one writer, ``_wire`` the frames and replies, and
``_serve`` the child's loop (``python -m hft.logging.writer``).
"""

from hft.logging.writer.backend import ProcessBackend

__all__ = ["ProcessBackend"]
