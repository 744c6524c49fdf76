"""The lab itself, for real: ssh into its three servers (stock sshd; one forbids TCP forwarding), the
registry, compose v2 and v1, the demo app images, loopback-only listeners, and `lab down`."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import docker
import paramiko
import pytest

from lab import lifecycle
from lab.keys import write_key_pair, write_known_hosts
from lab.netns import NETNS_DIR
from lab.registry import registry_tags
from lab.settings import (
    DEMO_REPOSITORY,
    DEMO_VERSIONS,
    LAB_LABEL,
    NGINX_REPOSITORY,
    fleet_names,
    lab_name,
    lab_paths,
    ports,
)
from tests.lab.demo_containers import free_port, get, running_demo, wait_for_answer
from tests.lab.listeners import listening_sockets_of
from tests.lab.remote import paramiko_client, paramiko_run, ssh_run, write_remote

pytestmark = pytest.mark.lab

FLAVOURS = ("v2", "v1")
SERVERS = (*FLAVOURS, "nofwd")
"""Every lab server: the compose flavours, and compose v2 behind an sshd with AllowTcpForwarding no."""
_PORT_KEYS = {"v2": "port", "v1": "compose_v1_port", "nofwd": "no_forwarding_port"}
_DIR_KEYS = {"v2": "remote_dir", "v1": "compose_v1_remote_dir", "nofwd": "no_forwarding_remote_dir"}


def port_of(lab: dict[str, Any], flavour: str) -> int:
    return int(lab[_PORT_KEYS[flavour]])


def remote_dir_of(lab: dict[str, Any], flavour: str) -> Path:
    return Path(lab[_DIR_KEYS[flavour]])


def compose_of(flavour: str) -> str:
    return "docker compose" if flavour == "v2" else "docker-compose"


# --- ssh -------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", SERVERS)
def test_ssh_binary_logs_in_with_strict_host_key_checking(
    lab: dict[str, Any], ssh_binary: str, flavour: str
) -> None:
    done = ssh_run(ssh_binary, lab, port_of(lab, flavour), "id -un; echo $HOME; pwd")
    assert done.returncode == 0, done.stderr.decode()
    user, home, cwd = done.stdout.decode().split()
    assert (user, home, cwd) == ("deploy", str(remote_dir_of(lab, flavour)), home)


@pytest.mark.parametrize("flavour", ["v2", "nofwd"])
def test_compose_v2_servers_run_docker_compose(lab: dict[str, Any], ssh_binary: str, flavour: str) -> None:
    done = ssh_run(ssh_binary, lab, port_of(lab, flavour), "docker compose version")
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().startswith("Docker Compose version")


def test_compose_v1_server_has_only_docker_compose_1_29(lab: dict[str, Any], ssh_binary: str) -> None:
    v1 = ssh_run(ssh_binary, lab, lab["compose_v1_port"], "docker-compose version --short")
    assert v1.returncode == 0, v1.stderr.decode()
    assert v1.stdout.decode().startswith("1.29.")
    plugin = ssh_run(ssh_binary, lab, lab["compose_v1_port"], "docker compose version")
    assert plugin.returncode != 0


@pytest.mark.parametrize("flavour", SERVERS)
def test_server_has_what_the_product_needs(lab: dict[str, Any], ssh_binary: str, flavour: str) -> None:
    tools = "sh mv mkdir cat rm flock docker"
    script = f"for t in {tools}; do command -v $t >/dev/null || echo missing $t; done"
    done = ssh_run(ssh_binary, lab, port_of(lab, flavour), script)
    assert (done.returncode, done.stdout.decode()) == (0, "")
    engine = ssh_run(ssh_binary, lab, port_of(lab, flavour), "docker info --format '{{.ID}}'")
    assert engine.returncode == 0, engine.stderr.decode()


def test_compose_v2_server_has_neither_python_nor_curl(lab: dict[str, Any], ssh_binary: str) -> None:
    done = ssh_run(ssh_binary, lab, lab["port"], "command -v python3; command -v curl; true")
    assert done.stdout.decode() == ""


@pytest.mark.parametrize("flavour", SERVERS)
def test_docker_system_dial_stdio_reaches_the_engine(
    lab: dict[str, Any], ssh_binary: str, flavour: str
) -> None:
    """What the Docker SDK's ssh:// transport runs on the server."""
    request = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n"
    done = ssh_run(ssh_binary, lab, port_of(lab, flavour), "docker system dial-stdio", stdin=request)
    assert done.stdout.startswith(b"HTTP/1.0 200 OK"), done.stderr.decode()
    assert done.stdout.endswith(b"OK")


@pytest.mark.parametrize("flavour", SERVERS)
def test_host_keys_are_generated_by_the_lab_not_baked(
    lab: dict[str, Any], ssh_binary: str, flavour: str
) -> None:
    done = ssh_run(ssh_binary, lab, port_of(lab, flavour), "ls /etc/ssh")
    assert "ssh_host_" not in done.stdout.decode()
    assert f"[127.0.0.1]:{port_of(lab, flavour)} ssh-ed25519 " in Path(lab["known_hosts_file"]).read_text()
    key = Path(lab["ssh_key_file"])
    assert key.stat().st_mode & 0o777 == 0o600
    assert key.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")


@pytest.mark.parametrize("flavour", SERVERS)
def test_paramiko_logs_in_runs_commands_and_sftp(lab: dict[str, Any], flavour: str) -> None:
    started = time.monotonic()
    client = paramiko_client(lab, port_of(lab, flavour))
    try:
        assert time.monotonic() - started < 5
        assert paramiko_run(client, "id -un")[:2] == (0, "deploy\n")
        target = str(remote_dir_of(lab, flavour) / "labtest-sftp.txt")
        with client.open_sftp() as sftp:
            with sftp.open(target, "w") as handle:
                handle.write(b"hello sftp\n")
            with sftp.open(target, "r") as handle:
                assert handle.read() == b"hello sftp\n"
            sftp.remove(target)
    finally:
        client.close()


def test_paramiko_forwards_tcp_to_the_servers_loopback(lab: dict[str, Any]) -> None:
    """A direct-tcpip channel carries HTTP to a port on the server's 127.0.0.1 (the registry)."""
    client = paramiko_client(lab, lab["port"])
    try:
        transport = client.get_transport()
        assert transport is not None
        registry_port = int(lab["registry"].rsplit(":", 1)[1])
        channel = transport.open_channel("direct-tcpip", ("127.0.0.1", registry_port), ("", 0))
        channel.sendall(b"GET /v2/ HTTP/1.0\r\nHost: registry\r\n\r\n")
        answer = b""
        while chunk := channel.recv(4096):
            answer += chunk
        channel.close()
        assert answer.startswith(b"HTTP/1.0 200 OK")
    finally:
        client.close()


@pytest.mark.parametrize("flavour", SERVERS)
def test_sshd_keeps_openssh_default_of_10_sessions_per_connection(lab: dict[str, Any], flavour: str) -> None:
    client = paramiko_client(lab, port_of(lab, flavour))
    transport = client.get_transport()
    assert transport is not None
    try:
        sessions = []
        for _ in range(10):
            sessions.append(transport.open_session(timeout=5))
            sessions[-1].exec_command("sleep 10")
        with pytest.raises(paramiko.ChannelException) as refused:
            transport.open_session(timeout=5)
        assert refused.value.code == 2  # SSH2_OPEN_CONNECT_FAILED: sshd logs "no more sessions"
    finally:
        client.close()


@pytest.mark.parametrize(("flavour", "forwards"), [("v2", True), ("v1", True), ("nofwd", False)])
def test_only_the_hardened_server_refuses_tcp_forwarding(
    lab: dict[str, Any], flavour: str, forwards: bool
) -> None:
    client = paramiko_client(lab, port_of(lab, flavour))
    transport = client.get_transport()
    assert transport is not None
    registry_port = int(lab["registry"].rsplit(":", 1)[1])
    try:
        if forwards:
            transport.open_channel("direct-tcpip", ("127.0.0.1", registry_port), ("", 0)).close()
            with pytest.raises(paramiko.ChannelException) as closed_port:
                transport.open_channel("direct-tcpip", ("127.0.0.1", 1), ("", 0))
            assert closed_port.value.code == 2  # SSH2_OPEN_CONNECT_FAILED
        else:
            with pytest.raises(paramiko.ChannelException) as forbidden:
                transport.open_channel("direct-tcpip", ("127.0.0.1", registry_port), ("", 0))
            assert forbidden.value.code == 1  # SSH2_OPEN_ADMINISTRATIVELY_PROHIBITED
    finally:
        client.close()


@pytest.mark.parametrize("flavour", SERVERS)
def test_a_wrong_key_is_refused(lab: dict[str, Any], ssh_binary: str, flavour: str, tmp_path: Path) -> None:
    wrong = tmp_path / "id_wrong"
    write_key_pair(wrong, "wrong")
    done = ssh_run(ssh_binary, lab, port_of(lab, flavour), "true", key=str(wrong))
    assert done.returncode == 255
    assert b"Permission denied" in done.stderr
    with pytest.raises(paramiko.AuthenticationException):
        paramiko_client(lab, port_of(lab, flavour), key_file=str(wrong)).close()


def test_an_unknown_host_key_is_refused(lab: dict[str, Any], ssh_binary: str, tmp_path: Path) -> None:
    other = tmp_path / "other_host_key"
    public = write_key_pair(other, "other")
    known = tmp_path / "known_hosts"
    write_known_hosts(known, [("127.0.0.1", int(lab["port"]), public)])
    done = ssh_run(ssh_binary, lab, lab["port"], "true", known=str(known))
    assert done.returncode == 255
    assert b"Host key verification failed" in done.stderr


# --- registry --------------------------------------------------------------------------------


def test_registry_serves_the_pushed_tags(lab: dict[str, Any]) -> None:
    port = int(lab["registry"].rsplit(":", 1)[1])
    assert set(lab["images"]) == set(DEMO_VERSIONS) == {"v1", "v2", "slow-start", "broken", "flaky", "slow"}
    assert set(registry_tags(port, DEMO_REPOSITORY)) >= set(lab["images"])
    proxy_tag = lab["proxy_image"].rsplit(":", 1)[1]
    assert proxy_tag in registry_tags(port, NGINX_REPOSITORY)
    assert lab["proxy_image"] == f"{lab['registry']}/{NGINX_REPOSITORY}:{proxy_tag}"


@pytest.mark.parametrize(("flavour", "version"), [("v2", "broken"), ("v1", "slow-start")])
def test_servers_pull_from_the_registry(
    lab: dict[str, Any], ssh_binary: str, flavour: str, version: str
) -> None:
    image = lab["images"][version]
    # Untag first, so that the pull must fetch the manifest and make the tag again.
    script = f"docker image rm {image} >/dev/null; docker pull {image}"
    done = ssh_run(ssh_binary, lab, port_of(lab, flavour), script)
    assert done.returncode == 0, done.stderr.decode()
    assert f"Status: Downloaded newer image for {image}" in done.stdout.decode()


# --- the example app through compose on both servers ----------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_example_compose_file_runs_healthy_on_both_compose_versions(
    lab: dict[str, Any], ssh_binary: str, flavour: str
) -> None:
    port = port_of(lab, flavour)
    project = f"{lab_name()}-t{flavour}"
    workdir = remote_dir_of(lab, flavour) / "labtest-example"
    write_remote(ssh_binary, lab, port, workdir / "compose.yml", Path(lab["compose_file"]).read_bytes())
    app_port = free_port()
    env = f"BLUEGREEN_IMAGE={lab['images']['v1']} BLUEGREEN_COLOR=green BLUEGREEN_PORT={app_port}"
    compose = f"cd {workdir} && {env} {compose_of(flavour)} -p {project}"
    client = docker.from_env()
    try:
        config = ssh_run(ssh_binary, lab, port, f"{compose} config")
        assert config.returncode == 0, config.stderr.decode()
        started = ssh_run(ssh_binary, lab, port, f"{compose} up -d")
        assert started.returncode == 0, started.stderr.decode()
        (container,) = client.containers.list(filters={"label": f"com.docker.compose.project={project}"})
        labels = container.labels
        assert labels["com.docker.compose.project.working_dir"] == str(workdir)
        deadline = time.monotonic() + 30
        while container.attrs["State"].get("Health", {}).get("Status") != "healthy":
            assert time.monotonic() < deadline, "the example's healthcheck never passed"
            time.sleep(0.5)
            container.reload()
        status, body, headers = get(f"http://127.0.0.1:{app_port}/")
        assert (status, body) == (200, {"version": "v1", "color": "green"})
        assert headers["X-App-Color"] == "green"
    finally:
        ssh_run(ssh_binary, lab, port, f"{compose} down --remove-orphans && rm -r {workdir}")


def test_nginx_template_proxies_to_the_demo_app(lab: dict[str, Any], ssh_binary: str) -> None:
    from bluegreen.render import Route, render_nginx

    app_port, proxy_port = free_port(), free_port()
    conf_dir = Path(lab["remote_dir"]) / "labtest-proxy"
    route = Route("labtest", "blue", "", "127.0.0.1", app_port, proxy_port)  # reload-mode variables
    rendered = render_nginx(Path(lab["nginx_template"]).read_text(), route)
    write_remote(ssh_binary, lab, lab["port"], conf_dir / "nginx.conf", rendered.encode())
    client = docker.from_env()
    with running_demo(client, lab["images"]["v2"], app_port, color="blue"):
        proxy = client.containers.run(
            lab["proxy_image"],
            ["nginx", "-g", "daemon off;", "-c", str(conf_dir / "nginx.conf")],
            detach=True,
            network_mode="host",
            volumes={str(conf_dir): {"bind": str(conf_dir), "mode": "ro"}},
            labels={LAB_LABEL: lab_name()},
        )
        try:
            wait_for_answer(f"http://127.0.0.1:{proxy_port}/")
            status, body, headers = get(f"http://127.0.0.1:{proxy_port}/")
            assert (status, body) == (200, {"version": "v2", "color": "blue"})
            assert headers["X-Bluegreen-Upstream"] == f"127.0.0.1:{app_port}"
            reload = proxy.exec_run(["nginx", "-s", "reload"])
            assert reload.exit_code == 0, reload.output
        finally:
            proxy.remove(force=True)
            ssh_run(ssh_binary, lab, lab["port"], f"rm -r {conf_dir}")


# --- the demo app images ---------------------------------------------------------------------


def test_demo_app_v1_answers_and_exits_at_once_on_sigterm(lab: dict[str, Any]) -> None:
    port = free_port()
    client = docker.from_env()
    with running_demo(client, lab["images"]["v1"], port, color="blue") as container:
        status, body, headers = get(f"http://127.0.0.1:{port}/")
        assert (status, body) == (200, {"version": "v1", "color": "blue"})
        assert (headers["X-App-Version"], headers["X-App-Color"]) == ("v1", "blue")
        assert get(f"http://127.0.0.1:{port}/health")[0] == 200
        started = time.monotonic()
        status, body, _ = get(f"http://127.0.0.1:{port}/slow?ms=200")
        assert 0.2 <= time.monotonic() - started < 2
        assert (status, body) == (200, {"version": "v1", "color": "blue"})
        started = time.monotonic()
        container.stop(timeout=10)
        assert time.monotonic() - started < 1.0
        container.reload()
        assert container.attrs["State"]["ExitCode"] == 0


def test_demo_app_keeps_connections_alive(lab: dict[str, Any]) -> None:
    import http.client

    port = free_port()
    with running_demo(docker.from_env(), lab["images"]["v2"], port, color="green"):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            for _ in range(3):
                connection.request("GET", "/")
                response = connection.getresponse()
                assert json.loads(response.read()) == {"version": "v2", "color": "green"}
                assert response.version == 11 and not response.will_close
        finally:
            connection.close()


def test_demo_app_broken_fails_its_health(lab: dict[str, Any]) -> None:
    port = free_port()
    with running_demo(docker.from_env(), lab["images"]["broken"], port):
        assert get(f"http://127.0.0.1:{port}/health")[0] == 500
        assert get(f"http://127.0.0.1:{port}/")[1] == {"version": "broken", "color": "none"}


def test_demo_app_slow_start_is_healthy_only_after_its_delay(lab: dict[str, Any]) -> None:
    port = free_port()
    env = {"SLOW_START_SECONDS": "3"}
    with running_demo(docker.from_env(), lab["images"]["slow-start"], port, env=env):
        assert get(f"http://127.0.0.1:{port}/health")[0] == 503
        deadline = time.monotonic() + 10
        while get(f"http://127.0.0.1:{port}/health")[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)


# --- the lab as a whole ----------------------------------------------------------------------


def test_lab_listens_on_loopback_only(lab: dict[str, Any]) -> None:
    client = docker.from_env()
    containers = client.containers.list(filters={"label": f"{LAB_LABEL}={lab_name()}"})
    assert len(containers) >= 3
    sockets = listening_sockets_of(containers)
    p = ports()
    assert {p.server_v2, p.server_v1, p.server_nofwd, p.registry} <= {port for _, port in sockets}
    assert {address for address, _ in sockets} == {"127.0.0.1"}, sockets


def test_lab_json_matches_what_up_printed(lab: dict[str, Any]) -> None:
    assert lifecycle.info() == lab
    for key in ("compose_file", "nginx_template", "ssh_key_file", "known_hosts_file"):
        assert Path(lab[key]).is_absolute() and Path(lab[key]).is_file()
    assert (lab["host"], lab["username"], lab["http_url"]) == (
        "127.0.0.1",
        "deploy",
        f"http://127.0.0.1:{lab['http_port']}",
    )


def test_lab_up_again_reuses_the_running_lab(lab: dict[str, Any]) -> None:
    key_before = Path(lab["ssh_key_file"]).read_bytes()
    started = time.monotonic()
    assert lifecycle.up() == lab
    assert time.monotonic() - started < 30
    assert Path(lab["ssh_key_file"]).read_bytes() == key_before


def test_lab_down_removes_the_lab_and_what_deploys_left(
    lab: dict[str, Any], ssh_binary: str, tmp_path: Path
) -> None:
    """Runs last: takes the lab down for real, then brings it up again for later tests."""
    from lab.settings import keep_lab

    if keep_lab():
        pytest.skip("BLUEGREEN_LAB_KEEP=1: the lab is shared, not taking it down")
    client = docker.from_env()
    # What a deploy through the v1 server leaves: a compose project (its own network too) ...
    workdir = Path(lab["compose_v1_remote_dir"]) / "labtest-leftover"
    port = lab["compose_v1_port"]
    write_remote(ssh_binary, lab, port, workdir / "compose.yml", Path(lab["compose_file"]).read_bytes())
    env = f"BLUEGREEN_IMAGE={lab['images']['v1']} BLUEGREEN_COLOR=blue BLUEGREEN_PORT={free_port()}"
    up = ssh_run(
        ssh_binary, lab, port, f"cd {workdir} && {env} docker-compose -p {lab_name()}-leftover up -d"
    )
    assert up.returncode == 0, up.stderr.decode()
    # ... and a proxy container the product labels as managed.
    client.containers.run(
        lab["images"]["v1"],
        detach=True,
        labels={"bluegreen.managed": "proxy"},
        name=f"{lab_name()}-t-managed",
        volumes={str(workdir): {"bind": str(workdir), "mode": "ro"}},
    )

    lifecycle.down()

    left = [
        c.name
        for c in client.containers.list(all=True)
        if (c.name or "").startswith(lab_name()) or c.labels.get(LAB_LABEL) == lab_name()
    ]
    assert left == []
    assert f"{lab_name()}-leftover_default" not in [n.name for n in client.networks.list()]
    paths = lab_paths()
    assert not paths.ssh_dir.exists() and not (paths.root / "home").exists()
    assert not paths.info_file.exists()
    # The fleet: namespaces (engines stopped with them), the root's veth end, engines' data.
    bridge, root_end, _ = fleet_names(lab_name(), 0)
    assert [ns.name for ns in NETNS_DIR.glob(f"{bridge[: -len('br')]}*")] == []
    assert subprocess.run(["ip", "link", "show", root_end], capture_output=True).returncode != 0
    assert not paths.fleet_dir.exists()

    again = lifecycle.up()
    assert again == lab
