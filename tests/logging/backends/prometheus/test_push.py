"""The pusher's delete at shutdown: tried again after a failure, counted."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest
from prometheus_client import CollectorRegistry

from hft.logging.backends.prometheus._push import DELETE_ATTEMPTS, Pusher


class _Gateway(http.server.BaseHTTPRequestHandler):
    """A gateway that fails the first ``fail`` deletes (500), then accepts them (202)."""

    fail: ClassVar[int] = 0
    deletes: ClassVar[list[int]] = []  # each test's handler class has its own list

    def do_DELETE(self) -> None:
        type(self).deletes.append(len(type(self).deletes) + 1)
        ok = len(type(self).deletes) > type(self).fail
        self.send_response(202 if ok else 500)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        """Quiet: the test reads the counts."""


@pytest.fixture
def gateway() -> Iterator[tuple[str, type[_Gateway]]]:
    handler = type("Handler", (_Gateway,), {"fail": 0, "deletes": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()
    thread.join()


def _pusher(url: str) -> Pusher:
    return Pusher(
        CollectorRegistry(), url=url, job="hft_test", key={"bot": "a"}, interval=3600, timeout=1.0
    )


class TestDelete:
    def test_a_failed_delete_is_tried_again(self, gateway: tuple[str, type[_Gateway]]) -> None:
        """A gateway that refuses the first delete gets a second one: the group goes, the
        failure is counted."""
        url, handler = gateway
        handler.fail = 1
        pusher = _pusher(url)
        assert pusher.delete()
        assert (handler.deletes, pusher.failures) == ([1, 2], 1)

    def test_attempts_are_bounded(self, gateway: tuple[str, type[_Gateway]]) -> None:
        """A gateway that refuses every delete gets DELETE_ATTEMPTS of them, each counted."""
        url, handler = gateway
        handler.fail = 10
        pusher = _pusher(url)
        assert not pusher.delete()
        assert len(handler.deletes) == pusher.failures == DELETE_ATTEMPTS
        assert "500" in pusher.last_error
