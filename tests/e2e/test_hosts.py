"""The Host interface's contract, held by both backends: SshHost (the lab server) and LocalHost."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bluegreen import commands
from bluegreen.config import load_private_key
from bluegreen.errors import TunnelForbidden, UnreadableFile
from bluegreen.health import http_get
from bluegreen.host import CommandResult, Host, LocalHost
from bluegreen.ssh import HostKeyCheck, connect
from tests.concurrently import in_threads

pytestmark = pytest.mark.lab


@pytest.fixture(params=["ssh", "local"])
def host_and_dir(
    request: pytest.FixtureRequest, lab: dict[str, Any], tmp_path: Path
) -> Iterator[tuple[Host, str]]:
    host: Host
    if request.param == "ssh":
        key = load_private_key(Path(lab["ssh_key_file"]).read_text(), "")
        check = HostKeyCheck(known_hosts=Path(lab["known_hosts_file"]).read_text())
        host = connect(lab["host"], int(lab["port"]), lab["username"], key, check, 10)
        directory = f"{lab['remote_dir']}/host-contract-{secrets.token_hex(3)}"
    else:
        host, directory = LocalHost(), str(tmp_path / "contract")
    host.run(commands.make_dirs(directory)).check("mkdir")
    yield host, directory
    host.run(["rm", "-rf", "--", directory])
    host.close()


def test_run_returns_exit_code_output_and_takes_stdin(host_and_dir: tuple[Host, str]) -> None:
    host, _ = host_and_dir
    assert host.run(["printf", "%s|", "a b", "$(id)"]).stdout == "a b|$(id)|"
    failed = host.run(["sh", "-c", "echo oops >&2; exit 3"])
    assert (failed.exit_code, failed.stderr, failed.ok) == (3, "oops\n", False)
    assert host.run(["cat"], stdin=b"piped\n").stdout == "piped\n"


def test_files_are_written_atomically_with_their_mode(host_and_dir: tuple[Host, str]) -> None:
    host, directory = host_and_dir
    path = f"{directory}/secret.env"
    assert host.read_file(path) is None
    host.write_file(path, b"A=1\n", mode=0o600)
    host.write_file(path, b"A=2\n", mode=0o600)
    assert host.read_file(path) == b"A=2\n"
    assert host.run(["stat", "-c", "%a", path]).stdout.strip() == "600"
    assert host.run(["ls", "-A", directory]).stdout.split() == ["secret.env"]  # no temporary left
    host.append_file(f"{directory}/audit.log", b"one\n")
    host.append_file(f"{directory}/audit.log", b"two\n")
    assert host.read_file(f"{directory}/audit.log") == b"one\ntwo\n"
    host.rename(path, f"{directory}/moved.env")
    assert (host.read_file(path), host.read_file(f"{directory}/moved.env")) == (None, b"A=2\n")


def test_a_held_lock_excludes_others_until_closed(host_and_dir: tuple[Host, str]) -> None:
    host, directory = host_and_dir
    lock = f"{directory}/.lock"
    held = host.hold(commands.take_lock(lock, 5), commands.LOCK_ACQUIRED, 5)
    assert not isinstance(held, CommandResult)
    refused = host.hold(commands.take_lock(lock, 0.5), commands.LOCK_ACQUIRED, 0.5)
    assert isinstance(refused, CommandResult) and refused.exit_code == 75
    held.close()
    again = host.hold(commands.take_lock(lock, 5), commands.LOCK_ACQUIRED, 5)
    assert not isinstance(again, CommandResult)
    again.close()


def test_tcp_and_docker_reach_the_hosts_loopback_and_engine(
    host_and_dir: tuple[Host, str], lab: dict[str, Any]
) -> None:
    host, _ = host_and_dir
    registry_port = int(lab["registry"].rsplit(":", 1)[1])
    answer = http_get(lambda: host.connect_tcp(registry_port, 5), "/v2/", 5)
    assert answer.status == 200
    with pytest.raises(ConnectionRefusedError):
        host.connect_tcp(1, 5)
    assert host.docker().ping()
    assert os.path.isabs(host.home())


def test_read_file_refuses_what_it_must_not_read(host_and_dir: tuple[Host, str]) -> None:
    host, directory = host_and_dir
    host.run(["ln", "-s", "/dev/zero", f"{directory}/zero"]).check("ln")
    host.run(["mkfifo", f"{directory}/fifo"]).check("mkfifo")
    host.write_file(f"{directory}/big", b"x" * 11)
    for path, why in [
        (f"{directory}/zero", "not a regular file"),
        (f"{directory}/fifo", "not a regular file"),
        (directory, "a directory"),
    ]:
        with pytest.raises(UnreadableFile, match=f"cannot read {path} on the host: it is {why}"):
            host.read_file(path)
    with pytest.raises(UnreadableFile, match="larger than 10 bytes"):
        host.read_file(f"{directory}/big", limit=10)
    assert host.read_file(f"{directory}/big", limit=11) == b"x" * 11
    host.run(["ln", "-s", "missing", f"{directory}/dangling"]).check("ln")
    assert host.read_file(f"{directory}/dangling") is None


def test_a_held_lock_sftp_docker_and_many_commands_at_once(host_and_dir: tuple[Host, str]) -> None:
    """More than sshd's default MaxSessions (10) at once: the host waits for a free session instead."""
    host, directory = host_and_dir
    held = host.hold(commands.take_lock(f"{directory}/.lock", 5), commands.LOCK_ACQUIRED, 5)
    assert not isinstance(held, CommandResult)
    host.write_file(f"{directory}/file", b"data")

    def busy() -> None:
        assert host.run(["sh", "-c", "sleep 0.2; echo done"]).stdout == "done\n"
        assert host.docker().ping()
        assert host.read_file(f"{directory}/file") == b"data"

    errors = in_threads(16, busy)
    held.close()
    assert errors == []


def test_check_tunnels_passes_where_connections_can_be_made(host_and_dir: tuple[Host, str]) -> None:
    host, _ = host_and_dir
    host.check_tunnels(1)  # nothing listens there: refused, yet the tunnel itself works


def test_a_server_forbidding_forwarding_is_tunnel_forbidden(lab: dict[str, Any]) -> None:
    key = load_private_key(Path(lab["ssh_key_file"]).read_text(), "")
    check = HostKeyCheck(known_hosts=Path(lab["known_hosts_file"]).read_text())
    host = connect(lab["host"], int(lab["no_forwarding_port"]), lab["username"], key, check, 10)
    registry_port = int(lab["registry"].rsplit(":", 1)[1])
    try:
        with pytest.raises(TunnelForbidden, match="AllowTcpForwarding"):
            host.connect_tcp(registry_port, 5)
        with pytest.raises(TunnelForbidden, match="Match User deploy"):
            host.check_tunnels(registry_port)
        assert host.run(["true"]).ok and host.docker().ping()  # the rest works
    finally:
        host.close()
