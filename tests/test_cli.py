"""The ``hft`` command: config show/validate, clean errors, and the main job."""

from __future__ import annotations

import os
import shutil
import socket
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


class TestEdges:
    @pytest.mark.parametrize("duration", ["-1", "0", "nan", "inf", "soon"])
    def test_duration_must_be_positive(self, workdir: Path, duration: str) -> None:
        """--duration takes a positive, finite number of seconds; anything else is a usage error."""
        result = hft(workdir, "run", "--duration", duration)
        assert result.returncode == 2
        assert "argument --duration" in result.stderr
        assert not (workdir / "logs").exists()

    def test_unknown_environment_lists_those_that_exist(self, workdir: Path) -> None:
        """--env staging without settings/staging.yaml: one line naming dev and prod."""
        result = hft(workdir, "config", "validate", "--env", "staging")
        assert result.returncode == 2
        assert (
            "settings/staging.yaml: no settings for environment 'staging' "
            "(environments in settings: dev, prod)"
        ) in result.stderr

    def test_a_path_that_cannot_be_opened_is_one_line_at_start(self, workdir: Path) -> None:
        """hft run with a log path under a plain file: the key and path, exit 2, no traceback."""
        (workdir / "blocker").write_text("")
        path = str(workdir / "blocker" / "hft.log")
        result = hft(workdir, "run", "--duration", "1", HFT_LOGGING__BACKENDS__FILE__FILE_PATH=path)
        assert result.returncode == 2
        assert f"logging.backends.file.file_path: cannot open '{path}'" in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 2  # "configuration error:" + the line

    def test_validate_check_tries_paths_without_starting(self, workdir: Path) -> None:
        """config validate passes a bad path; --check names it (exit 2) and creates nothing."""
        (workdir / "blocker").write_text("")
        audit = str(workdir / "blocker" / "a.log")
        env = {"HFT_LOGGING__BACKENDS__AUDIT__ENABLED": "true",
               "HFT_LOGGING__BACKENDS__AUDIT__FILE_PATH": audit}  # fmt: skip
        assert hft(workdir, "config", "validate", **env).returncode == 0
        result = hft(workdir, "config", "validate", "--check", **env)
        assert result.returncode == 2
        assert "logging.backends.audit.file_path: cannot open" in result.stderr
        assert "is not a folder" in result.stderr
        assert not (workdir / "logs").exists()

    def test_validate_check_names_a_port_in_use(self, workdir: Path) -> None:
        """A scrape port another socket holds is named with its address."""
        with socket.socket() as held:
            held.bind(("127.0.0.1", 0))
            held.listen()
            port = str(held.getsockname()[1])
            env = {"HFT_LOGGING__BACKENDS__PROMETHEUS__ENABLED": "true",
                   "HFT_LOGGING__BACKENDS__PROMETHEUS__SCRAPE_ENABLED": "true",
                   "HFT_LOGGING__BACKENDS__PROMETHEUS__SCRAPE_PORT": port}  # fmt: skip
            result = hft(workdir, "config", "validate", "--check", **env)
        assert result.returncode == 2
        assert f"logging.backends.prometheus.scrape_port: cannot listen on 127.0.0.1:{port}" in (
            result.stderr
        )

    def test_validate_check_passes_good_settings(self, workdir: Path) -> None:
        """The shipped prod settings pass --check in a fresh folder, and it creates nothing."""
        result = hft(workdir, "config", "validate", "--check", "--env", "prod")
        assert result.returncode == 0, result.stderr
        assert "(paths and ports checked)" in result.stdout
        assert not (workdir / "logs").exists()


class TestInit:
    def test_init_writes_the_shipped_settings(self, tmp_path: Path) -> None:
        """hft init writes base (with its comments), dev and prod, equal to the shipped ones."""
        result = hft(tmp_path, "init")
        assert result.returncode == 0, result.stderr
        for name in ("base.yaml", "dev.yaml", "prod.yaml"):
            assert (tmp_path / "settings" / name).read_bytes() == (
                REPO / "settings" / name
            ).read_bytes()

    def test_init_leaves_existing_files_alone_unless_forced(self, tmp_path: Path) -> None:
        """A second init names the files it would replace and exits 2; --force replaces them."""
        assert hft(tmp_path, "init").returncode == 0
        base = tmp_path / "settings" / "base.yaml"
        base.write_text("# mine\n")
        again = hft(tmp_path, "init")
        assert again.returncode == 2
        assert "settings/base.yaml" in again.stderr
        assert "--force" in again.stderr
        assert base.read_text() == "# mine\n"
        assert hft(tmp_path, "init", "--force").returncode == 0
        assert base.read_bytes() == (REPO / "settings" / "base.yaml").read_bytes()


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
