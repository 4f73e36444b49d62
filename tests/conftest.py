"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import Pushgateway, run_pushgateway


@pytest.fixture
def pushgateway() -> Iterator[Pushgateway]:
    """A real ``prometheus-pushgateway`` on a free loopback port (fails if not installed)."""
    yield from run_pushgateway()
