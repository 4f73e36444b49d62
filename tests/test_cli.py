"""The ``hft`` command: config show/validate, clean errors, and the main job."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

import hft as hft_package

REPO = Path(__file__).resolve().parents[1]
#: The tree under test, so a child runs this code, not whatever ``hft`` is installed.
SRC = str(Path(hft_package.__file__).resolve().parents[1])


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder holding a copy of the repository's settings/, as a user's checkout would."""
    shutil.copytree(REPO / "settings", tmp_path / "settings")
    return tmp_path


def hft(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``hft ARGS`` in *workdir* as a separate process, as a user would."""
    variables = {k: v for k, v in os.environ.items() if not k.startswith("HFT_")}
    variables.update(env, PYTHONPATH=SRC)
    return subprocess.run(
        [sys.executable, "-m", "hft.cli", *args],
        cwd=workdir,
        env=variables,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class TestConfigCommands:
    def test_validate_ok(self, workdir: Path) -> None:
        """``config validate`` says OK and names the layers it read."""
        result = hft(workdir, "config", "validate", "--env", "prod")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("OK: environment 'prod'")
        assert "settings/prod.yaml" in result.stdout

    def test_typo_is_one_clear_error_without_traceback(self, workdir: Path) -> None:
        """A misspelt key names the file and key path; no traceback; exit status 2."""
        dev = workdir / "settings" / "dev.yaml"
        dev.write_text(dev.read_text().replace("flush_interval_ms", "flush_intervall_ms"))
        result = hft(workdir, "config", "validate", "--env", "dev")
        assert result.returncode == 2
        assert "settings/dev.yaml: logging.hft_settings.flush_intervall_ms" in result.stderr
        assert "Traceback" not in result.stderr

    def test_rule_violation_from_a_variable(self, workdir: Path) -> None:
        """A variable that breaks an HFT rule is named in the error."""
        result = hft(
            workdir, "run", "--env", "dev", HFT_LOGGING__HFT_SETTINGS__RING_BUFFER_SIZE="10"
        )
        assert result.returncode == 2
        assert "HFT_LOGGING__HFT_SETTINGS__RING_BUFFER_SIZE" in result.stderr
        assert "Traceback" not in result.stderr

    def test_show_masks_secrets_and_names_sources(self, workdir: Path) -> None:
        """``config show`` masks a secret set by a variable and says which layer set each key."""
        leaked = "sk-live-123"
        result = hft(
            workdir, "config", "show", "--env", "prod", HFT_EXCHANGES__MEXC__API_KEY=leaked
        )
        assert result.returncode == 0, result.stderr
        assert leaked not in result.stdout
        line = next(x for x in result.stdout.splitlines() if x.startswith("exchanges.mexc.api_key"))
        assert "**********" in line
        assert "HFT_EXCHANGES__MEXC__API_KEY" in line
        assert "env file (settings/prod.yaml)" in result.stdout


class TestRun:
    def test_run_dev_writes_the_log_and_prints_a_summary(self, workdir: Path) -> None:
        """``hft run --env dev`` logs through injected loggers, shuts down and summarises."""
        result = hft(workdir, "run", "--env", "dev", "--duration", "0.5")
        assert result.returncode == 0, result.stderr
        assert "records dropped" in result.stdout
        assert "file" in result.stdout
        lines = (workdir / "logs" / "hft.log").read_bytes().splitlines()
        loggers = {orjson.loads(line)["logger"] for line in lines}
        assert any(name.startswith("exchange.") for name in loggers)
        assert any(name.startswith("strategy.") for name in loggers)
