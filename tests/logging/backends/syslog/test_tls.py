"""TLS settings of the syslog backend: anything that would end in plain text is refused."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from hft.config import ConfigError, SyslogBackendSettings
from hft.logging import SyslogBackend, create_backend_from_config
from hft.logging.backends.syslog._tls import client_context, explain_refusal
from tests.servers import TlsFiles, free_port

_KEY = "logging.backends.syslog"


def _backend(tmp_path: Path, **settings: Any) -> SyslogBackend:
    return SyslogBackend(port=free_port(), spool_dir=tmp_path / "spool", **settings)


class TestPlainTextRefused:
    @pytest.mark.parametrize(
        "tls",
        [
            {"tls_cert_file": "client.pem", "tls_key_file": "client-key.pem"},
            {"tls_cert_file": "client.pem"},
            {"tls_verify": False},
        ],
    )
    def test_relp_with_tls_settings_but_no_ca(self, tmp_path: Path, tls: dict[str, Any]) -> None:
        """relp with a client certificate (or tls_verify off) and no CA: an error naming
        tls_ca_file, not a plain-text session; nothing is created."""
        with pytest.raises(ConfigError, match=rf"^{_KEY}\.tls_ca_file: .*plain text"):
            _backend(tmp_path, transport="relp", **tls)
        assert not (tmp_path / "spool").exists()

    def test_tls_with_a_client_certificate_but_no_ca(self, tmp_path: Path) -> None:
        """tls with a client certificate and no CA: an error naming tls_ca_file."""
        with pytest.raises(ConfigError, match=rf"^{_KEY}\.tls_ca_file: a client certificate"):
            _backend(tmp_path, transport="tls", tls_cert_file="c.pem", tls_key_file="k.pem")

    def test_tcp_with_tls_settings(self, tmp_path: Path, tls_files: TlsFiles) -> None:
        """tls_* keys with transport tcp (plain text) name the transport key."""
        with pytest.raises(ConfigError, match=rf"^{_KEY}\.transport: tcp sends plain text"):
            _backend(tmp_path, transport="tcp", tls_ca_file=str(tls_files.ca))

    def test_from_settings_too(self, tmp_path: Path) -> None:
        """The same error when the backend is built from its settings section."""
        settings = SyslogBackendSettings(
            transport="relp", tls_cert_file="c.pem", spool_dir=str(tmp_path / "s")
        )
        with pytest.raises(ConfigError, match=rf"{_KEY}\.tls_ca_file"):
            create_backend_from_config("syslog", settings)

    def test_relp_with_a_ca_is_tls(self, tls_files: TlsFiles) -> None:
        """relp with tls_ca_file gets a verifying TLS context."""
        context = client_context("relp", str(tls_files.ca), None, None)
        assert context is not None
        assert context.verify_mode == ssl.CERT_REQUIRED


class TestUnusableFiles:
    def test_missing_ca_file(self, tmp_path: Path) -> None:
        """A CA file that cannot be read is an error naming tls_ca_file."""
        with pytest.raises(ConfigError, match=rf"^{_KEY}\.tls_ca_file: cannot load"):
            _backend(tmp_path, transport="tls", tls_ca_file=str(tmp_path / "none.pem"))

    def test_ca_file_without_a_certificate(self, tmp_path: Path) -> None:
        """A CA file holding no certificate (here a private key) is an error too."""
        key = tmp_path / "key.pem"
        key.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        with pytest.raises(ConfigError, match=rf"^{_KEY}\.tls_ca_file"):
            _backend(tmp_path, transport="tls", tls_ca_file=str(key))

    def test_key_without_certificate(self, tmp_path: Path, tls_files: TlsFiles) -> None:
        """tls_key_file alone names tls_cert_file."""
        with pytest.raises(ConfigError, match=rf"^{_KEY}\.tls_cert_file"):
            _backend(tmp_path, transport="tls", tls_ca_file=str(tls_files.ca),
                     tls_key_file=str(tls_files.key))  # fmt: skip

    def test_certificate_that_does_not_load(self, tmp_path: Path, tls_files: TlsFiles) -> None:
        """A client certificate with the wrong key names tls_cert_file and the key file."""
        with pytest.raises(ConfigError, match=rf"^{_KEY}\.tls_cert_file: .*tls_key_file"):
            _backend(tmp_path, transport="tls", tls_ca_file=str(tls_files.ca),
                     tls_cert_file=str(tls_files.cert), tls_key_file=str(tls_files.ca))  # fmt: skip


class TestStrictVerification:
    def test_strict_on_every_python(self, tls_files: TlsFiles) -> None:
        """The context verifies X.509 strictly, as CPython 3.13's default does."""
        context = client_context("tls", str(tls_files.ca), None, None)
        assert context is not None
        assert context.verify_flags & ssl.VERIFY_X509_STRICT

    def test_refusal_explained(self) -> None:
        """A strictness refusal is explained: the error, tls_ca_file, how to issue the CA."""
        error = ssl.SSLCertVerificationError(1, "certificate verify failed")
        error.verify_message = "CA cert does not include key usage extension"
        explained = explain_refusal(error)
        assert explained is not None
        assert explained["setting"] == f"{_KEY}.tls_ca_file"
        assert "keyUsage" in explained["fix"]
        assert "3.13" in explained["fix"]

    def test_other_errors_not_explained_as_certificates(self) -> None:
        """A refused connection is not a certificate problem."""
        assert explain_refusal(ConnectionRefusedError(111, "refused")) is None
