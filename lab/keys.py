"""SSH keys of one lab: a client key pair, one host key per server, known_hosts."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    tmp.replace(path)


def write_key_pair(private_path: Path, comment: str) -> str:
    """Writes an ed25519 key (OpenSSH format, no passphrase, mode 0600) and its .pub;
    returns the public key line."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
    public = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    line = f"{public} {comment}"
    _write(private_path, private, 0o600)
    _write(private_path.with_name(private_path.name + ".pub"), f"{line}\n".encode(), 0o644)
    return line


def public_key_line(private_path: Path) -> str:
    return private_path.with_name(private_path.name + ".pub").read_text().strip()


def write_authorized_keys(path: Path, public_lines: list[str]) -> None:
    _write(path, "".join(f"{line}\n" for line in public_lines).encode(), 0o644)


def write_known_hosts(path: Path, entries: list[tuple[str, int, str]]) -> None:
    """entries: (host, port, host public key line). Port 22 is written without brackets."""
    lines = []
    for host, port, public in entries:
        algorithm, blob = public.split()[:2]
        name = host if port == 22 else f"[{host}]:{port}"
        lines.append(f"{name} {algorithm} {blob}\n")
    _write(path, "".join(lines).encode(), 0o644)
