"""The lab's fleet for real: hosts of their own (network namespace, Docker engine, sshd) reached with
the lab's key and known_hosts, pulling from the lab registry, isolated from each other, behind a
load balancer on 127.0.0.1 that spreads requests and retries on another host."""

from __future__ import annotations

import shlex
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import paramiko
import pytest

from lab import fleet, lifecycle
from lab.keys import known_hosts_name
from lab.readiness import sshd_answers
from lab.settings import DEMO_REPOSITORY, lab_name, lab_paths
from lab.traffic import Traffic, describe_failures, failures, get_once
from tests.lab.remote import paramiko_client, paramiko_run, ssh_run

pytestmark = pytest.mark.lab

PUBLISHED_PORT = 21450
"""A port a test container publishes on 127.0.0.1 inside a fleet host."""


@pytest.fixture(scope="module")
def fleet_info(lab: dict[str, Any]) -> dict[str, Any]:
    if fleet.plan(lab_paths()).settings.size == 0:
        pytest.skip("the lab runs no fleet (BLUEGREEN_LAB_FLEET=0)")
    assert lab.get("fleet"), "the lab's JSON has no fleet"
    info: dict[str, Any] = lab["fleet"]
    return info


def address_and_port(target: str) -> tuple[str, int]:
    address, port = target.rsplit(":", 1)
    return address, int(port)


def run_on(lab: dict[str, Any], target: str, command: str) -> tuple[int, str, str]:
    address, port = address_and_port(target)
    client = paramiko_client(lab, port, host=address)
    try:
        return paramiko_run(client, command)
    finally:
        client.close()


def checked(lab: dict[str, Any], target: str, command: str) -> str:
    code, out, err = run_on(lab, target, command)
    assert code == 0, f"{target}: {command}: {err}"
    return out


def http_through_ssh(lab: dict[str, Any], target: str, port: int) -> bytes:
    """GET / sent to 127.0.0.1:port of the fleet host, through its sshd (direct-tcpip)."""
    address, ssh_port = address_and_port(target)
    client = paramiko_client(lab, ssh_port, host=address)
    try:
        transport = client.get_transport()
        assert transport is not None
        channel = transport.open_channel("direct-tcpip", ("127.0.0.1", port), ("", 0))
        channel.sendall(b"GET / HTTP/1.0\r\nHost: fleet\r\n\r\n")
        answer = b""
        while chunk := channel.recv(4096):
            answer += chunk
        channel.close()
        return answer
    finally:
        client.close()


# --- the hosts -------------------------------------------------------------------------------


def test_lab_json_describes_the_fleet(lab: dict[str, Any], fleet_info: dict[str, Any]) -> None:
    hosts = fleet_info["hosts"]
    assert len(hosts) == fleet.plan(lab_paths()).settings.size >= 2
    assert len(set(hosts)) == len(hosts)
    assert fleet_info["lb_url"].startswith("http://127.0.0.1:")
    assert (fleet_info["http_port"], fleet_info["blue_port"], fleet_info["green_port"]) == (
        lab["http_port"],
        lab["blue_port"],
        lab["green_port"],
    )
    assert [engine["host"] for engine in fleet_info["engines"]] == hosts
    assert lifecycle.info()["fleet"] == fleet_info


def test_each_host_answers_with_the_lab_key_and_known_hosts(
    lab: dict[str, Any], fleet_info: dict[str, Any], ssh_binary: str
) -> None:
    known = Path(lab["known_hosts_file"]).read_text().splitlines()
    for index, target in enumerate(fleet_info["hosts"], start=1):
        address, port = address_and_port(target)
        assert sum(line.split()[0] == known_hosts_name(address, port) for line in known) == 1
        done = ssh_run(ssh_binary, lab, port, "id -un; hostname; pwd", host=address)
        assert done.returncode == 0, done.stderr.decode()
        user, hostname, cwd = done.stdout.decode().split()
        assert (user, hostname, cwd) == ("deploy", f"{lab_name()}-h{index}", fleet_info["remote_dir"])


def test_each_host_runs_docker_on_an_engine_of_its_own(
    lab: dict[str, Any], fleet_info: dict[str, Any]
) -> None:
    ids = {}
    for target in fleet_info["hosts"]:
        ids[target] = checked(lab, target, "docker info --format '{{.ID}}'").strip()
        names = checked(lab, target, "docker ps --format '{{.Names}}'").split()
        assert fleet.server_name() in names
        assert f"{lab_name()}-registry" not in names  # the machine's engine runs that one
    main_engine = str(docker.from_env().info()["ID"])
    assert len(set(ids.values())) == len(ids), ids
    assert main_engine not in ids.values()
    lab_server = paramiko_client(lab, lab["port"])
    try:
        assert paramiko_run(lab_server, "docker info --format '{{.ID}}'")[1].strip() == main_engine
    finally:
        lab_server.close()


def test_each_host_has_its_own_files_at_the_same_remote_dir(
    lab: dict[str, Any], fleet_info: dict[str, Any]
) -> None:
    remote = Path(fleet_info["remote_dir"])
    marker = remote / "fleettest-whoami"
    try:
        for target in fleet_info["hosts"]:
            checked(lab, target, f"echo {shlex.quote(target)} > {marker}")
        for engine, target in zip(fleet_info["engines"], fleet_info["hosts"], strict=True):
            assert checked(lab, target, f"cat {marker}").strip() == target
            assert (Path(engine["deploy_dir"]) / marker.name).read_text().strip() == target
    finally:
        for target in fleet_info["hosts"]:
            run_on(lab, target, f"rm -f {marker}")


@pytest.fixture
def published_on_first_host(lab: dict[str, Any], fleet_info: dict[str, Any]) -> Iterator[str]:
    """The demo image, pulled on host 1 from the registry, published on 127.0.0.1:PUBLISHED_PORT."""
    first = fleet_info["hosts"][0]
    image = lab["images"]["v1"]
    name = f"{lab_name()}-fleettest-published"
    run_on(lab, first, f"docker rm -f {name}; docker image rm {image}")
    pulled = checked(lab, first, f"docker pull {image}")
    assert image in pulled
    digests = checked(lab, first, f"docker image inspect --format '{{{{json .RepoDigests}}}}' {image}")
    assert f"{lab['registry']}/{DEMO_REPOSITORY}@sha256:" in digests
    checked(lab, first, f"docker run -d --name {name} -p 127.0.0.1:{PUBLISHED_PORT}:8000 {image}")
    try:
        deadline = time.monotonic() + 20
        while not http_through_ssh(lab, first, PUBLISHED_PORT).startswith(b"HTTP/1.1 200 "):
            assert time.monotonic() < deadline, "the pulled image never answered"
            time.sleep(0.2)
        yield first
    finally:
        run_on(lab, first, f"docker rm -f {name}")


def test_an_image_pulled_from_the_registry_runs_and_stays_on_its_host(
    lab: dict[str, Any], fleet_info: dict[str, Any], published_on_first_host: str
) -> None:
    answer = http_through_ssh(lab, published_on_first_host, PUBLISHED_PORT)
    assert b'"version": "v1"' in answer
    for other in fleet_info["hosts"][1:]:
        with pytest.raises(paramiko.ChannelException) as refused:
            http_through_ssh(lab, other, PUBLISHED_PORT)
        assert refused.value.code == 2  # SSH2_OPEN_CONNECT_FAILED: nothing listens there
    assert not sshd_answers(PUBLISHED_PORT)  # nor on this machine's 127.0.0.1


def test_up_again_reuses_the_running_fleet(lab: dict[str, Any], fleet_info: dict[str, Any]) -> None:
    pids = [Path(engine["pid_file"]).read_text() for engine in fleet_info["engines"]]
    started = time.monotonic()
    with lifecycle.lab_lock(lab_paths()):
        assert fleet.up(lab_paths()) == fleet_info
    assert time.monotonic() - started < 10
    assert [Path(engine["pid_file"]).read_text() for engine in fleet_info["engines"]] == pids


# --- the load balancer -----------------------------------------------------------------------


@pytest.fixture
def backends(lab: dict[str, Any], fleet_info: dict[str, Any]) -> Iterator[dict[str, str]]:
    """The demo app on every host's http_port (host network), its color naming the host: {color: target}."""
    name = f"{lab_name()}-fleettest-backend"
    image = lab["images"]["v1"]
    port = fleet_info["http_port"]
    by_color = {f"h{i}": target for i, target in enumerate(fleet_info["hosts"], start=1)}
    try:
        for color, target in by_color.items():
            run_on(lab, target, f"docker rm -f {name}")
            options = f"--name {name} --network host -e APP_PORT={port} -e BLUEGREEN_COLOR={color}"
            checked(lab, target, f"docker pull -q {image} && docker run -d {options} {image}")
        for target in by_color.values():
            address = address_and_port(target)[0]
            deadline = time.monotonic() + 20
            while True:
                try:
                    if get_once(f"http://{address}:{port}")[0] == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, f"no backend answers on {address}:{port}"
                time.sleep(0.2)
        yield by_color
    finally:
        for target in by_color.values():
            run_on(lab, target, f"docker rm -f {name}")


def test_load_balancer_spreads_requests_over_every_host(
    fleet_info: dict[str, Any], backends: dict[str, str]
) -> None:
    with Traffic(fleet_info["lb_url"], clients=3, rate=90, slow_clients=0) as traffic:
        time.sleep(2)
    records = traffic.stop()
    assert not failures(records), describe_failures(records)
    served = Counter(record.color for record in records)
    assert set(served) == set(backends), served
    assert min(served.values()) >= len(records) / (2 * len(backends)), served


def test_load_balancer_retries_on_another_host_when_one_host_is_down(
    lab: dict[str, Any], fleet_info: dict[str, Any], backends: dict[str, str]
) -> None:
    lb_url, port = fleet_info["lb_url"], fleet_info["http_port"]
    down_color, down_target = "h2", backends["h2"]
    down_address = f"{address_and_port(down_target)[0]}:{port}"
    name = f"{lab_name()}-fleettest-backend"
    # One host's backend stops: the balancer's next request there is refused, and retried elsewhere.
    checked(lab, down_target, f"docker kill {name}")
    answers = [get_once(lb_url) for _ in range(2 * len(backends))]
    assert [status for status, _ in answers] == [200] * len(answers)
    assert down_color not in {headers["x-app-color"] for _, headers in answers}
    upstreams = [headers["x-fleet-upstream"] for _, headers in answers]
    assert any(upstream.startswith(f"{down_address}, ") for upstream in upstreams), upstreams
    # Back again: once its fail_timeout is over, the balancer sends it requests again.
    checked(lab, down_target, f"docker start {name}")
    deadline = time.monotonic() + 20
    while get_once(lb_url)[1].get("x-app-color") != down_color:
        assert time.monotonic() < deadline, "the balancer never took the host back"
        time.sleep(0.2)
    # Killed while GETs (fast and slow, keep-alive) flow: a request in flight there is retried.
    with Traffic(lb_url, clients=3, rate=60, slow_clients=2, slow_ms=300) as during_kill:
        time.sleep(1.5)
        checked(lab, down_target, f"docker kill {name}")
        time.sleep(2)
    killed = during_kill.stop()
    assert not failures(killed), describe_failures(killed)
    assert set(Counter(record.color for record in killed)) == set(backends)
    # The host down, under load with POSTs too: nothing fails, nothing comes from that host.
    with Traffic(lb_url, clients=3, rate=60, slow_clients=1, slow_ms=300, post_clients=2) as while_down:
        time.sleep(3)
    records = while_down.stop()
    assert not failures(records), describe_failures(records)
    assert any(record.method == "POST" for record in records)
    assert down_color not in {record.color for record in records}
    print(f"fleet LB: kill under load {len(killed)} requests, 0 failed; host down {len(records)}, 0 failed")
