"""The process's control channel: one socket and one thread for every pipeline that asks.

The socket is named by the pid, so it belongs to the process, not to a pipeline: the first
pipeline that starts with ``logging.control.enabled`` opens it (in the folder its settings
name), the last one to close removes it. A request applies to every attached pipeline (an
application has one). In a forked child the parent's socket and thread are forgotten; the
child's pipelines, restarted, open a socket under the child's pid.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from hft.logging.control.paths import (
    ControlError,
    open_folder,
    remove_stale,
    runtime_folder,
    socket_path,
)
from hft.logging.control.reload import LevelsSource, SighupHook
from hft.logging.control.server import ControlServer, Peer


@dataclass(frozen=True, slots=True)
class ControlSpec:
    """``logging.control`` for one pipeline, and where SIGHUP re-reads its levels from
    (``None``: the pipeline was built from a dict or a model, with no files behind it)."""

    enabled: bool = True
    runtime_dir: str | None = None
    reload: LevelsSource | None = None


class Steerable(Protocol):
    """What the channel asks of a pipeline (``LoggingPipeline`` through ``LoggerLevels``)."""

    def levels(self) -> dict[str, str]: ...
    def logger_levels(self) -> dict[str, str]: ...
    def set_level(self, prefix: str, level: int | str | None, *, by: str = "api") -> None: ...
    def replace_levels(self, levels: Mapping[str, int | str], *, by: str) -> int: ...
    def _warn(self, msg: str, **fields: Any) -> None: ...


class _Hub:
    """The attached pipelines, the server and the SIGHUP hook of this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pipelines: weakref.WeakKeyDictionary[Any, ControlSpec] = weakref.WeakKeyDictionary()
        self.server: ControlServer | None = None
        self.sighup = SighupHook(self._wake_reload)

    def attach(self, pipeline: Steerable, spec: ControlSpec) -> None:
        with self.lock:
            self.pipelines[pipeline] = spec
            if self.server is None:
                self.server = _open_server(pipeline, spec, self)
            if self.server is not None:
                self.sighup.install()

    def detach(self, pipeline: Steerable) -> None:
        with self.lock:
            self.pipelines.pop(pipeline, None)
            if self.pipelines or self.server is None:
                return
            server, self.server = self.server, None
            self.sighup.restore()
        server.close()

    def _wake_reload(self) -> None:
        server = self.server
        if server is not None:
            server.wake(b"H")

    def handle(self, request: dict[str, Any], peer: Peer) -> dict[str, Any]:
        """Answer one request: ``{"op": "list"}`` or ``{"op": "set", "prefix", "level"}``."""
        pipelines = list(self.pipelines)
        op = request.get("op")
        if op == "set":
            prefix, level = request.get("prefix"), request.get("level")
            if not isinstance(prefix, str) or not isinstance(level, str | None):
                return {"ok": False, "error": "set takes a prefix and a level (strings)"}
            level = None if level is None or level.upper() == "NOTSET" else level
            for pipeline in pipelines:
                pipeline.set_level(prefix, level, by=str(peer))
        elif op != "list":
            return {"ok": False, "error": f"unknown op {op!r} (known: list, set)"}
        return {"ok": True, "pid": os.getpid(), "pipelines": [_describe(p) for p in pipelines]}

    def reload(self) -> None:
        """SIGHUP, in the control thread: each pipeline re-reads its settings' levels."""
        for pipeline, spec in list(self.pipelines.items()):
            reload_levels(pipeline, spec)

    def after_fork_in_child(self) -> None:
        self.lock = threading.Lock()
        if self.server is not None:
            self.server.forget()
        self.server = None
        self.pipelines.clear()


def reload_levels(pipeline: Steerable, spec: ControlSpec) -> None:
    """Apply the levels *spec*'s source holds now to *pipeline*, or say why not."""
    if spec.reload is None:
        pipeline._warn("SIGHUP: levels not reloaded: this pipeline has no settings files")
        return
    try:
        levels = spec.reload()
    except Exception as exc:  # noqa: BLE001 - a bad edit keeps the levels in force, said
        pipeline._warn("SIGHUP: levels not reloaded: settings invalid", error=str(exc))
        return
    if not pipeline.replace_levels(levels, by="SIGHUP"):
        pipeline._warn("SIGHUP: levels reloaded, none changed", levels=pipeline.levels())


def _describe(pipeline: Steerable) -> dict[str, Any]:
    return {"levels": pipeline.levels(), "loggers": pipeline.logger_levels()}


def _open_server(pipeline: Steerable, spec: ControlSpec, hub: _Hub) -> ControlServer | None:
    """The process's server, listening; None (said in the log) when it cannot be opened."""
    try:
        folder = open_folder(runtime_folder(spec.runtime_dir))
        remove_stale(folder)  # what killed processes left: nobody listens there
        server = ControlServer(socket_path(folder, os.getpid()), hub.handle, hub.reload)
        server.start()
    except (ControlError, OSError) as exc:
        pipeline._warn("control channel not opened", error=str(exc))
        return None
    return server


_hub = _Hub()


def attach(pipeline: Steerable, spec: ControlSpec) -> None:
    """Serve *pipeline* on the process's control channel (opened on first use)."""
    _hub.attach(pipeline, spec)


def detach(pipeline: Steerable) -> None:
    """Stop serving *pipeline*; the last one out closes the socket and removes its file."""
    _hub.detach(pipeline)


def control_socket() -> str | None:
    """The path of this process's control socket, None while none is open."""
    server = _hub.server
    return None if server is None else str(server.path)


os.register_at_fork(after_in_child=_hub.after_fork_in_child)

__all__ = ["ControlSpec", "Steerable", "attach", "control_socket", "detach", "reload_levels"]
