"""Running commands on the lab's servers the way a user would: the ssh binary, or paramiko."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import paramiko


def ssh_argv(
    ssh_binary: str,
    lab: dict[str, Any],
    port: int,
    key: str | None = None,
    known: str | None = None,
    host: str | None = None,
) -> list[str]:
    """`host`: another address than the lab's (a fleet host's)."""
    return [
        ssh_binary,
        "-i",
        key or lab["ssh_key_file"],
        "-o",
        f"UserKnownHostsFile={known or lab['known_hosts_file']}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "ConnectTimeout=10",
        "-p",
        str(port),
        f"{lab['username']}@{host or lab['host']}",
    ]


def ssh_run(
    ssh_binary: str,
    lab: dict[str, Any],
    port: int,
    command: str,
    stdin: bytes | None = None,
    key: str | None = None,
    known: str | None = None,
    timeout: float = 120,
    host: str | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """`ssh ... deploy@127.0.0.1 COMMAND` (or deploy@host); never raises on the exit code."""
    argv = [*ssh_argv(ssh_binary, lab, port, key, known, host), command]
    return subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout, check=False)


def paramiko_client(
    lab: dict[str, Any], port: int, key_file: str | None = None, host: str | None = None
) -> paramiko.SSHClient:
    """A connected paramiko client that accepts only the host keys of the lab's known_hosts."""
    client = paramiko.SSHClient()
    client.load_host_keys(lab["known_hosts_file"])
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    key = paramiko.Ed25519Key.from_private_key_file(key_file or lab["ssh_key_file"])
    client.connect(
        host or lab["host"],
        port=port,
        username=lab["username"],
        pkey=key,
        allow_agent=False,
        look_for_keys=False,
        timeout=10,
    )
    return client


def paramiko_run(client: paramiko.SSHClient, command: str) -> tuple[int, str, str]:
    _, stdout, stderr = client.exec_command(command, timeout=60)
    out = stdout.read().decode()
    err = stderr.read().decode()
    return stdout.channel.recv_exit_status(), out, err


def write_remote(ssh_binary: str, lab: dict[str, Any], port: int, path: Path, data: bytes) -> None:
    done = ssh_run(ssh_binary, lab, port, f"mkdir -p '{path.parent}' && cat > '{path}'", stdin=data)
    assert done.returncode == 0, done.stderr.decode()
