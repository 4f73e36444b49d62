"""What a test needs from the machine: skipped on a developer's machine, failed in CI.

CI (``.ci/run`` exports ``CI=true``) installs and runs as root everything the suite uses, so a
missing piece there is a broken install step, never a reason to leave a test out silently.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def cannot(message: str) -> NoReturn:
    """Skip the test for *message*, or fail it where ``CI`` is set."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI installs it: a missing install step)")
    pytest.skip(message)
