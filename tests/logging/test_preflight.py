"""hft.logging.preflight: what the settings name is tried without creating anything."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hft.config import LoggingSettings
from hft.logging.preflight import check_resources


def _settings(tmp_path: Path, **backends: dict[str, object]) -> LoggingSettings:
    sections = {"file": {"file_path": str(tmp_path / "logs" / "hft.log")}, **backends}
    return LoggingSettings.model_validate(
        {"hft_settings": {"spill_dir": str(tmp_path / "spill")}, "backends": sections}
    )


class TestCheckResources:
    def test_folders_yet_to_be_made_pass_and_are_not_made(self, tmp_path: Path) -> None:
        """A log path in folders that do not exist yet passes; nothing is created."""
        assert check_resources(_settings(tmp_path)) == []
        assert list(tmp_path.iterdir()) == []

    def test_a_symlinked_log_file_is_refused(self, tmp_path: Path) -> None:
        """A log path that is a symbolic link is named: hft writes only files of its own."""
        (tmp_path / "logs").mkdir()
        (tmp_path / "elsewhere").write_text("keep")
        (tmp_path / "logs" / "hft.log").symlink_to(tmp_path / "elsewhere")
        [problem] = check_resources(_settings(tmp_path))
        assert problem.startswith("logging.backends.file.file_path: cannot open ")
        assert "symbolic link" in problem

    def test_a_folder_that_is_a_file_is_named(self, tmp_path: Path) -> None:
        """A spool folder under a plain file names the key and the file in the way."""
        (tmp_path / "plain").write_text("")
        syslog = {"enabled": True, "spool_dir": str(tmp_path / "plain" / "spool")}
        [problem] = check_resources(_settings(tmp_path, syslog=syslog))
        assert problem == (
            f"logging.backends.syslog.spool_dir: cannot use folder '{tmp_path}/plain/spool': "
            f"'{tmp_path}/plain' is not a folder"
        )

    def test_a_missing_ca_file_is_named(self, tmp_path: Path) -> None:
        """A TLS file that cannot be read names its key and the system's reason."""
        missing = str(tmp_path / "ca.pem")
        syslog = {"enabled": True, "spool_dir": str(tmp_path / "s"), "tls_ca_file": missing}
        [problem] = check_resources(_settings(tmp_path, syslog=syslog))
        assert problem == (
            f"logging.backends.syslog.tls_ca_file: cannot read {missing!r}: "
            "No such file or directory"
        )

    def test_disabled_backends_are_not_checked(self, tmp_path: Path) -> None:
        """Only enabled backends' resources are tried."""
        (tmp_path / "plain").write_text("")
        audit = {"enabled": False, "file_path": str(tmp_path / "plain" / "audit.log")}
        assert check_resources(_settings(tmp_path, audit=audit)) == []

    def test_trace_context_without_opentelemetry_is_named(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """trace_context: true needs opentelemetry-api: its absence is named, with the extra."""
        settings = _settings(tmp_path).model_copy(update={"trace_context": True})
        assert check_resources(settings) == []
        monkeypatch.setitem(sys.modules, "opentelemetry.trace", None)
        assert check_resources(settings) == [
            "logging.trace_context: opentelemetry-api is not installed (pip install 'hft[otel]')"
        ]
