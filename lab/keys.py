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


def key_pair_exists(private: Path) -> bool:
    return private.is_file() and private.with_name(private.name + ".pub").is_file()


def public_key_line(private_path: Path) -> str:
    return private_path.with_name(private_path.name + ".pub").read_text().strip()


def write_authorized_keys(path: Path, public_lines: list[str]) -> None:
    _write(path, "".join(f"{line}\n" for line in public_lines).encode(), 0o644)


def known_hosts_name(host: str, port: int) -> str:
    """How known_hosts names a host: port 22 without brackets."""
    return host if port == 22 else f"[{host}]:{port}"


def _known_hosts_lines(entries: list[tuple[str, int, str]]) -> list[str]:
    lines = []
    for host, port, public in entries:
        algorithm, blob = public.split()[:2]
        lines.append(f"{known_hosts_name(host, port)} {algorithm} {blob}\n")
    return lines


def write_known_hosts(path: Path, entries: list[tuple[str, int, str]]) -> None:
    """entries: (host, port, host public key line). Port 22 is written without brackets."""
    _write(path, "".join(_known_hosts_lines(entries)).encode(), 0o644)


def replace_known_hosts(path: Path, entries: list[tuple[str, int, str]]) -> None:
    """Sets the lines of the hosts in `entries`, keeping every other host's line."""
    names = {known_hosts_name(host, port) for host, port, _ in entries}
    current = path.read_text().splitlines(keepends=True) if path.is_file() else []
    kept = [line for line in current if line.strip() and line.split()[0] not in names]
    lines = kept + _known_hosts_lines(entries)
    if lines != current:
        _write(path, "".join(lines).encode(), 0o644)
