"""TLS for the syslog backend: a checked client context, and why a handshake was refused.

Settings that ask for TLS never end in plain text: ``tls_*`` keys with ``transport: tcp``, or
with ``relp`` but no ``tls_ca_file`` (RELP runs over TLS only with a CA), are configuration
errors naming the key, and so are a client certificate without ``tls_ca_file`` and a CA file
that cannot be read or holds no certificate. ``tls`` with no TLS key at all trusts the
system's CAs.

Certificates are verified strictly on every Python, as CPython 3.13 does by default
(``VERIFY_X509_STRICT``): a CA without the key usage extension, or without its basic
constraints marked critical, is refused on 3.11 as on 3.13, so an upgrade changes nothing.
"""

from __future__ import annotations

import os
import ssl
from typing import Final

KEY: Final = "logging.backends.syslog"
_STRICT: Final = ("key usage", "basic constraints", "key identifier", "critical")
_RENEW: Final = (
    "issue the CA as a CA should be (basicConstraints critical CA:TRUE, keyUsage keyCertSign, "
    "subject and authority key identifiers): hft verifies strictly on every Python, as "
    "CPython 3.13 does by default (VERIFY_X509_STRICT)"
)


def settings_error(key: str, problem: str) -> ValueError:
    """A :class:`hft.config.ConfigError` for ``logging.backends.syslog.<key>``."""
    from hft.config._errors import ConfigError  # only on the error path: no pydantic import

    return ConfigError(f"{KEY}.{key}: {problem}")


def client_context(
    transport: str,
    ca_file: str | None,
    cert_file: str | None,
    key_file: str | None,
    *,
    verify: bool = True,
) -> ssl.SSLContext | None:
    """The TLS context *transport* needs (None: plain TCP or RELP), or a settings error."""
    asked = [f"tls_{k}" for k, v in (("ca_file", ca_file), ("cert_file", cert_file),
             ("key_file", key_file), ("verify", not verify)) if v]  # fmt: skip
    if transport == "tcp" and asked:
        raise settings_error(
            "transport", f"tcp sends plain text, yet {', '.join(asked)} is set: use tls"
        )
    if transport == "relp" and asked and not ca_file:
        raise settings_error(
            "tls_ca_file",
            f"relp runs over TLS only with a CA, and {', '.join(asked)} is set without one, "
            "which would send plain text: set tls_ca_file to the CA that signed the "
            "collector's certificate (or remove the other tls_* keys for plain RELP)",
        )
    if transport == "tcp" or (transport == "relp" and not ca_file):
        return None
    if (cert_file or key_file) and verify and not ca_file:
        raise settings_error(
            "tls_ca_file",
            "a client certificate (tls_cert_file) without tls_ca_file: set tls_ca_file to the "
            "CA that signed the collector's certificate",
        )
    if key_file and not cert_file:
        raise settings_error("tls_cert_file", "tls_key_file is set without a certificate")
    context = _with_ca(ca_file, verify)
    if cert_file:
        try:
            context.load_cert_chain(cert_file, key_file)
        except (OSError, ssl.SSLError) as exc:
            raise settings_error(
                "tls_cert_file", f"cannot load the client certificate {cert_file!r} "
                f"(key: tls_key_file {key_file!r}): {exc}"
            ) from None  # fmt: skip
    return context


def _with_ca(ca_file: str | None, verify: bool) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise settings_error("tls_ca_file", f"cannot load {ca_file!r}: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_flags |= ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif not context.cert_store_stats()["x509"] and not (ca_file or _system_ca_folder()):
        where = repr(ca_file) if ca_file else "this system's trust store (tls_ca_file is unset)"
        raise settings_error(
            "tls_ca_file", f"no CA certificate in {where}: the collector cannot be verified"
        )
    return context


def _system_ca_folder() -> bool:
    """True if the system's CA folder (loaded lazily, so not counted yet) holds any file."""
    folder = ssl.get_default_verify_paths().capath
    return bool(folder) and os.path.isdir(folder) and bool(os.listdir(folder))


def explain_refusal(error: BaseException | None) -> dict[str, str] | None:
    """What to tell the operator when *error* is a refused certificate (else None): the
    certificate error, the setting involved, and what to fix."""
    if not isinstance(error, ssl.SSLCertVerificationError):
        return None
    why = str(error.verify_message or error)
    lower = why.lower()
    if "hostname mismatch" in lower or "ip address mismatch" in lower:
        fix = "connect by a name or address the collector's certificate holds"
        return {"error": why, "setting": f"{KEY}.host", "fix": fix}
    fix = "set tls_ca_file to the CA that signed the collector's certificate"
    if any(word in lower for word in _STRICT):
        fix = _RENEW
    return {"error": why, "setting": f"{KEY}.tls_ca_file", "fix": fix}
