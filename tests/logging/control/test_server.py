"""The control socket in this process: its modes, who it refuses, its file's life, SIGHUP."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hft.logging import LoggingPipeline
from hft.logging.control import control_socket, request
from hft.logging.factory import create_pipeline_from_config
from hft.logging.testing import CapturingBackend
from tests.needs import cannot

#: A peer that connects and prints the reply, or the error it got (system Python: no hft).
PEER = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as exc:
    sys.exit(print(type(exc).__name__))
try:
    s.sendall(b'{"op": "list"}\\n')
except BrokenPipeError:
    pass  # a refused peer is answered before it speaks
print(s.recv(4096).decode())
"""


@pytest.fixture
def runtime() -> Iterator[Path]:
    """A short runtime folder (a socket path must fit in 108 bytes); the pipelines a test
    started with :func:`serving` are closed after it, even when it fails."""
    folder = Path(tempfile.mkdtemp(prefix="hft-rt-", dir="/tmp"))
    yield folder
    for pipeline in _started:
        pipeline.close()
    _started.clear()
    shutil.rmtree(folder, ignore_errors=True)


_started: list[LoggingPipeline] = []


def serving(runtime: Path, backend: CapturingBackend | None = None) -> LoggingPipeline:
    """A started pipeline serving the control channel from *runtime*/hft."""
    config = {"backends": {"console": {}}, "control": {"runtime_dir": str(runtime / "hft")}}
    pipeline = create_pipeline_from_config(config, [backend or CapturingBackend()]).start()
    _started.append(pipeline)
    return pipeline


def system_python_as_nobody() -> str:
    """A Python that user ``nobody`` may run, or skip (the test's own may sit under /root)."""
    if os.getuid() != 0:
        cannot("needs root to run a peer as another user")
    python = shutil.which("python3", path="/usr/bin:/bin")
    probe = [python or "python3", "-I", "-c", "pass"]
    if python is None or subprocess.run(probe, user="nobody", check=False).returncode:
        cannot("no Python that user nobody may run (Debian's python3)")
    return python


class TestSocket:
    def test_folder_0700_socket_0600_removed_at_close(self, runtime: Path) -> None:
        """The folder is the user's alone, the socket too; close removes the socket file."""
        pipeline = serving(runtime)
        path = Path(control_socket() or "")
        assert path == runtime / "hft" / f"{os.getpid()}.sock"
        assert stat.S_IMODE(os.stat(runtime / "hft").st_mode) == 0o700
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        pipeline.close()
        assert not path.exists()
        assert control_socket() is None

    def test_a_stale_socket_of_this_pid_is_replaced(self, runtime: Path) -> None:
        """A socket file left under this pid (a dead process's) does not stop the channel."""
        folder = runtime / "hft"
        folder.mkdir(mode=0o700)
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(str(folder / f"{os.getpid()}.sock"))
        stale.close()  # the file stays, nobody listens
        pipeline = serving(runtime)
        assert request(os.getpid(), {"op": "list"}, str(folder))["ok"]
        pipeline.close()

    def test_sockets_nobody_listens_on_are_removed_live_ones_kept(self, runtime: Path) -> None:
        """A process killed with SIGKILL leaves its socket file: the next channel opened in the
        folder removes it (a connection is refused), and leaves a live process's alone."""
        folder = runtime / "hft"
        folder.mkdir(mode=0o700)
        code = "import os, signal, socket, sys; s = socket.socket(socket.AF_UNIX); "
        code += "s.bind(sys.argv[1]); s.listen(1); print(flush=True); signal.pause()"
        dead = subprocess.Popen(["python3", "-c", code, str(folder / "1000001.sock")], stdout=-1)
        live = subprocess.Popen(["python3", "-c", code, str(folder / "1000002.sock")], stdout=-1)
        with dead, live:
            try:
                for child in (dead, live):
                    assert child.stdout is not None
                    assert child.stdout.readline() == b"\n"
                dead.kill()
                dead.wait()
                assert (folder / "1000001.sock").exists()  # SIGKILL: nobody removed it
                serving(runtime)
                assert not (folder / "1000001.sock").exists()
                assert stat.S_ISSOCK(os.stat(folder / "1000002.sock").st_mode)
            finally:
                live.kill()

    def test_a_folder_others_may_enter_is_refused_and_said(self, runtime: Path) -> None:
        """A runtime folder open to others: no socket, a warning, logging goes on."""
        (runtime / "hft").mkdir(mode=0o755)
        os.chmod(runtime / "hft", 0o755)  # noqa: S103 - the unsafe folder under test
        backend = CapturingBackend()
        pipeline = serving(runtime, backend)
        assert control_socket() is None
        assert pipeline.flush()
        warning = next(r for r in backend.records if r.msg == "control channel not opened")
        assert "lets other users in" in warning.fields["error"]
        pipeline.close()

    def test_a_bad_request_gets_an_error_reply(self, runtime: Path) -> None:
        """An unknown op or a request that is not JSON is answered with the reason."""
        pipeline = serving(runtime)
        folder = str(runtime / "hft")
        assert request(os.getpid(), {"op": "drop"}, folder)["error"].startswith("unknown op")
        with socket.socket(socket.AF_UNIX) as peer:
            peer.connect(control_socket() or "")
            peer.sendall(b"levels please\n")
            assert b"not a JSON request" in peer.recv(4096)
        pipeline.close()

    def test_the_socket_is_refused_to_another_uid(self, runtime: Path) -> None:
        """As made, user nobody cannot reach it; with the modes opened by mistake, the
        server still refuses nobody (SO_PEERCRED) and says so."""
        python = system_python_as_nobody()
        pipeline = serving(runtime)
        path = control_socket() or ""
        as_nobody = [python, "-I", "-c", PEER, path]
        denied = subprocess.run(
            as_nobody, user="nobody", capture_output=True, text=True, check=False
        )
        assert denied.stdout.strip() == "PermissionError"
        for folder in (runtime, runtime / "hft"):
            os.chmod(folder, 0o711)  # noqa: S103 - the mistake the uid check outlives
        os.chmod(path, 0o666)  # noqa: S103 - idem
        refused = subprocess.run(
            as_nobody, user="nobody", capture_output=True, text=True, check=False
        )
        assert '"ok":false' in refused.stdout
        assert "refused: uid 65534" in refused.stdout
        pipeline.close()


class TestSighup:
    def test_a_pipeline_without_files_says_so_and_the_handler_is_restored(
        self, runtime: Path
    ) -> None:
        """SIGHUP to a pipeline built from a dict: levels left alone, a warning says why;
        close puts the previous handler back."""
        previous = signal.getsignal(signal.SIGHUP)
        backend = CapturingBackend()
        pipeline = serving(runtime, backend)
        if signal.getsignal(signal.SIGHUP) == previous:
            pipeline.close()
            pytest.skip("not on the main thread: no SIGHUP handler is installed there")
        os.kill(os.getpid(), signal.SIGHUP)
        deadline = time.monotonic() + 20
        while not any(r.msg.startswith("SIGHUP") for r in backend.records):
            assert time.monotonic() < deadline
            pipeline.flush()
        warning = next(r for r in backend.records if r.msg.startswith("SIGHUP"))
        assert warning.msg == "SIGHUP: levels not reloaded: this pipeline has no settings files"
        pipeline.close()
        assert signal.getsignal(signal.SIGHUP) == previous
