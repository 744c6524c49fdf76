"""Deploys through OpenSSH configured as on users' servers: its defaults (MaxSessions 10 per
connection), a hardened server with `AllowTcpForwarding no`, and a user who may not use Docker."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from lab.settings import lab_name
from lab.traffic import Traffic, describe_failures, failures
from tests.e2e.apps import App, error_lines, reset

pytestmark = pytest.mark.lab

LOAD = {"clients": 8, "rate": 150.0, "slow_clients": 4, "slow_ms": 1000}


def sshd_log(server: str, since: float) -> str:
    """What the lab server's sshd logged (sshd -e: to stderr) since `since` (epoch seconds)."""
    client = docker.from_env()
    logs: bytes = client.containers.get(f"{lab_name()}-server-{server}").logs(since=int(since))
    client.close()
    return logs.decode(errors="replace")


def app_containers(name: str) -> list[str]:
    client = docker.from_env()
    found = [
        container.name or ""
        for suffix in ("blue", "green", "proxy")
        for container in client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={name}-{suffix}"}
        )
    ]
    client.close()
    return found


def reset_around(app: App) -> Iterator[App]:
    reset(app)
    yield app
    reset(app)


@pytest.fixture
def stock(lab: dict[str, Any]) -> Iterator[App]:
    yield from reset_around(App(lab, name="stock", http_port=18600, blue_port=18601, green_port=18602))


def test_deploys_under_load_stay_within_stock_max_sessions_and_lose_nothing(
    stock: App, lab: dict[str, Any]
) -> None:
    since = time.time() - 1
    stock.deploy(lab["images"]["v1"]).expect_ok()
    with Traffic(stock.url, **LOAD) as load:  # type: ignore[arg-type]
        time.sleep(0.5)
        runs = [stock.deploy(lab["images"][version]) for version in ("v2", "v1")]
        time.sleep(1.0)
    for run in runs:
        run.expect_ok()
        assert "Traceback" not in run.stderr
    assert failures(load.records) == [], describe_failures(load.records)
    assert stock.get("/")[1] == {"version": "v1", "color": "blue"}
    log = sshd_log("v2", since)
    assert "Accepted publickey for deploy" in log, "the log read is not the deploys' sshd"
    assert "no more sessions" not in log, log
    assert "open failed" not in log, log


@pytest.fixture
def no_forwarding(lab: dict[str, Any]) -> Iterator[App]:
    server = {"port": str(lab["no_forwarding_port"]), "remote-dir": lab["no_forwarding_remote_dir"]}
    app = App(lab, name="stocknofwd", http_port=18603, blue_port=18604, green_port=18605, extra=server)
    app_dir = Path(lab["no_forwarding_remote_dir"]) / app.name
    reset(app)
    shutil.rmtree(app_dir, ignore_errors=True)
    yield app
    reset(app)
    shutil.rmtree(app_dir, ignore_errors=True)


def test_a_server_forbidding_tcp_forwarding_fails_before_changing_anything(
    no_forwarding: App, lab: dict[str, Any]
) -> None:
    since = time.time() - 1
    run = no_forwarding.deploy(lab["images"]["v1"])
    assert run.exit_code == 1, run.stderr
    assert "Traceback" not in run.stderr
    (line,) = error_lines(run)
    assert "AllowTcpForwarding" in line and "Match User deploy" in line, line
    assert app_containers(no_forwarding.name) == []
    app_dir = Path(lab["no_forwarding_remote_dir"]) / no_forwarding.name
    assert not (app_dir / "state.json").exists()
    assert not (app_dir / "nginx").exists()
    assert "refused local port forward" in sshd_log("nofwd", since)


@pytest.fixture
def outsider(lab: dict[str, Any]) -> Iterator[App]:
    """An app deployed by `outsider`, a user of the lab's servers who is not in the engine's group."""
    app = App(lab, name="outsider", http_port=18606, blue_port=18607, green_port=18608,
              extra={"username": "outsider"})  # fmt: skip
    yield from reset_around(app)


def test_a_user_not_allowed_to_use_docker_gets_one_error_naming_the_user_the_socket_and_the_fix(
    outsider: App, lab: dict[str, Any]
) -> None:
    run = outsider.deploy(lab["images"]["v1"])
    assert run.exit_code == 1, run.stderr
    assert "Traceback" not in run.stderr and "a bug in bluegreen" not in run.stderr, run.stderr
    assert "FAILED: preflight" in run.stderr, run.stderr
    (line,) = error_lines(run)
    assert "outsider may not use Docker" in line and "/var/run/docker.sock" in line, line
    assert "`sudo usermod -aG docker outsider`" in line, line
    assert app_containers(outsider.name) == []
    assert not outsider.app_dir.exists()
