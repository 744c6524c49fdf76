"""Self-signed TLS certificates for the lab's https sites (e.g. `shop.lab.test`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Certificate:
    certificate: Path
    """PEM certificate (nginx `ssl_certificate`)."""
    key: Path
    """PEM private key, mode 0600 (nginx `ssl_certificate_key`)."""
    not_after: datetime
    """When it expires (UTC, whole seconds, as the certificate says)."""


def make_certificate(directory: Path, names: Sequence[str], days: int = 30) -> Certificate:
    """A self-signed certificate for the DNS names (the first is also its CN), valid from a minute
    ago for `days`, written as `<first name>.crt` and `<first name>.key` in `directory`."""
    if not names:
        raise ValueError("a certificate needs at least one DNS name")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC).replace(microsecond=0)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    certificate_path, key_path = directory / f"{names[0]}.crt", directory / f"{names[0]}.key"
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write(key_path, key_pem, 0o600)
    _write(certificate_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return Certificate(certificate_path, key_path, certificate.not_valid_after_utc)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write through a new file created with `mode` (never briefly readable by others), then rename."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.chmod(temporary, mode)  # the umask may have taken bits away
    temporary.replace(path)
