"""A self-signed certificate for the sandbox's loopback TLS (SMTP STARTTLS and SMTPS).

SES only speaks SMTP over TLS, so the sandbox does too: clients exercise the same STARTTLS and
AUTH steps they will use against ``email-smtp.<region>.amazonaws.com``. The certificate is made
at start-up (an ECDSA P-256 key: generation takes about a millisecond and handshakes are cheap),
names ``localhost`` and ``127.0.0.1``, and can be kept in a state directory so a client that pinned
it keeps working across restarts.

Usage::

    cert = SelfSignedCertificate.generate()          # or .load_or_create(state_dir)
    server_ctx = cert.server_context()
    client_ctx = cert.client_context()               # verifies against this certificate only
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["SelfSignedCertificate"]

CERT_FILE = "smtp-cert.pem"
_KEY_FILE = "smtp-key.pem"
_VALIDITY = dt.timedelta(days=365)
# Regenerate a cached certificate this long before it expires.
_RENEW_BEFORE = dt.timedelta(days=7)


@dataclass(frozen=True)
class SelfSignedCertificate:
    """A PEM certificate and its private key (the key never appears in the repr)."""

    cert_pem: bytes
    key_pem: bytes = field(repr=False)

    @classmethod
    def generate(
        cls, hostname: str = "localhost", *, also: Sequence[str] = ()
    ) -> SelfSignedCertificate:
        """Make a new certificate for ``hostname`` (and the names in ``also``) and 127.0.0.1,
        valid for one year."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        *(x509.DNSName(name) for name in (hostname, *also)),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )

    @classmethod
    def load_or_create(cls, directory: str | os.PathLike[str]) -> SelfSignedCertificate:
        """Reuse the certificate kept in ``directory``, or make and keep a new one.

        A missing, unreadable, mismatched or nearly expired pair is replaced. The key file is
        written with mode 0600.
        """
        folder = Path(directory)
        cert_path, key_path = folder / CERT_FILE, folder / _KEY_FILE
        try:
            cert_pem, key_pem = cert_path.read_bytes(), key_path.read_bytes()
            cert = x509.load_pem_x509_certificate(cert_pem)
            key = serialization.load_pem_private_key(key_pem, password=None)
            spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            matches = key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)
            fresh = cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > _RENEW_BEFORE
            if matches and fresh:
                return cls(cert_pem=cert_pem, key_pem=key_pem)
        except (OSError, ValueError, TypeError):
            pass  # missing, unreadable, mismatched: make a new pair below
        made = cls.generate()
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(made.key_pem)
        cert_path.write_bytes(made.cert_pem)
        return made

    def server_context(self) -> ssl.SSLContext:
        """A TLS 1.2+ server context presenting this certificate (what SES's SMTP accepts)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        # ssl can only load a key chain from files: write them to a private temporary folder.
        with tempfile.TemporaryDirectory(prefix="toolkit-tls-") as tmp:
            cert_path, key_path = Path(tmp) / CERT_FILE, Path(tmp) / _KEY_FILE
            cert_path.write_bytes(self.cert_pem)
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(self.key_pem)
            ctx.load_cert_chain(cert_path, key_path)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts exactly this certificate (host name checked)."""
        return ssl.create_default_context(cadata=self.cert_pem.decode("ascii"))
