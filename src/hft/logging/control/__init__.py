"""The operator's control channel: ``hft level --pid N`` over a Unix socket, and SIGHUP."""

from hft.logging.control.client import request
from hft.logging.control.hub import ControlSpec, control_socket
from hft.logging.control.paths import ControlError, runtime_folder, socket_path
from hft.logging.control.reload import levels_from

__all__ = [
    "ControlError",
    "ControlSpec",
    "control_socket",
    "levels_from",
    "request",
    "runtime_folder",
    "socket_path",
]
