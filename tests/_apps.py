"""A dev application whose backends are one capturing fake and whose exchanges are instant."""

from __future__ import annotations

from pathlib import Path

from dependency_injector import providers

from hft.containers import Application, create_application
from hft.logging.testing import CapturingBackend

REPO_SETTINGS = Path(__file__).resolve().parents[1] / "settings"


def dev_app(capture: CapturingBackend) -> Application:
    """The dev application, backends overridden by *capture*, simulated latency zero.

    Overrides come before ``init_resources`` (a singleton made earlier would keep the real
    backends).
    """
    app = create_application("dev", REPO_SETTINGS, env={})
    app.logging.backends.override(providers.Object([capture]))
    for name in ("mexc", "gateio"):
        app.config.exchanges[name].simulated_latency_ms.override(0.0)
    return app
