"""Ask a process's control socket: ``hft level --pid N`` is built on :func:`request`."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Mapping
from typing import Any

import orjson

from hft.logging.control.paths import ControlError, runtime_folder, socket_path
from hft.logging.control.server import MAX_REQUEST


def request(
    pid: int, message: Mapping[str, Any], runtime_dir: str | None = None, timeout: float = 5.0
) -> dict[str, Any]:
    """Send *message* to process *pid*'s control socket; its reply.

    :class:`ControlError` when there is no socket for *pid*, it is not ours to use, or the
    process does not answer in *timeout* seconds.
    """
    path = socket_path(runtime_folder(runtime_dir), pid)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
            with contextlib.suppress(BrokenPipeError):  # refused: the reply is there to read
                sock.sendall(orjson.dumps(dict(message)) + b"\n")
            reply = _read_reply(sock)
        except (FileNotFoundError, ConnectionRefusedError):
            raise ControlError(
                f"no control socket for pid {pid} at {path} (is it an hft process with"
                " logging.control enabled, run by you?)"
            ) from None
        except PermissionError:
            raise ControlError(f"{path}: not yours to use (permission denied)") from None
        except OSError as exc:
            raise ControlError(f"{path}: {exc}") from None
    try:
        answer = orjson.loads(reply)
    except orjson.JSONDecodeError:
        raise ControlError(f"{path}: not a control reply: {reply[:80]!r}") from None
    if not isinstance(answer, dict):
        raise ControlError(f"{path}: not a control reply: {reply[:80]!r}")
    return answer


def _read_reply(sock: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data and len(data) < 64 * MAX_REQUEST:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.partition(b"\n")[0]


__all__ = ["request"]
