"""bluegreen's own proxy in the states a server can be in (issue 17, findings 3, 4 and 8), in the lab
under load, every request checked.

- Changing `proxy-volumes` or `proxy-image` replaces the proxy: the new one starts beside the old one
  on the same port (reuseport), the old one quits gracefully. With 2 s requests in flight and a client
  that opens a new connection for every request, no connection is refused and no request fails,
  except, where the kernel's net.ipv4.tcp_migrate_req is 0 (the default), connections it had queued
  on the old proxy's sockets in the instant they closed (reset; seen 0 to 3 in three changes here:
  at most 2 per change allowed for the keep-alive clients, 1 for the new-connection client, a slow
  request never; with 1, none allowed).
- A trailing slash in `proxy-volumes` deploys, and the next deploy does not replace the proxy again.
- A port another program holds is refused before anything changes; the proxy's folder removed and
  made again on the server makes the next deploy replace the proxy (under load: 0 failed).
"""

from __future__ import annotations

import collections
import http.client
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from lab.traffic import Traffic, describe_failures, failures
from tests.e2e.apps import App, Run, live, reset
from tests.e2e.test_own_nginx import owned_by_deploy

pytestmark = pytest.mark.lab

LOAD = {"clients": 8, "rate": 150.0, "slow_clients": 6, "slow_ms": 2000}
"""Keep-alive clients that retry a request on a reused connection the server closed (as browsers
do), and 2 s requests always in flight."""


MIGRATES = Path("/proc/sys/net/ipv4/tcp_migrate_req").read_text().strip() == "1"
"""The lab's server is this machine's network namespace: whether its kernel hands connections queued
on a closing listening socket to another one of the same port (else it resets them)."""


class FreshConnections:
    """Clients that open a new connection for every request: a connection the kernel queued on a
    socket that then closed shows here as refused or reset."""

    def __init__(self, port: int, clients: int = 2) -> None:
        self.port, self.clients = port, clients
        self.outcomes: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        while not self._stop.is_set():
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                connection.request("GET", "/", headers={"Connection": "close"})
                response = connection.getresponse()
                response.read()
                outcome = "ok" if response.status == 200 else f"HTTP {response.status}"
            except (OSError, http.client.HTTPException) as exc:
                outcome = type(exc).__name__
            finally:
                connection.close()
            self.outcomes[outcome] += 1
            self._stop.wait(0.005)

    def __enter__(self) -> FreshConnections:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)


def proxy_containers(app: App) -> list[Any]:
    client = docker.from_env()
    try:
        return [
            container
            for slot in ("proxy", "proxy-alt")
            for container in client.containers.list(
                all=True, filters={"label": f"com.docker.compose.project={app.name}-{slot}"}
            )
        ]
    finally:
        client.close()


@pytest.fixture
def app_at(lab: dict[str, Any]) -> Iterator[Callable[[str, int], App]]:
    made: list[App] = []

    def make(name: str, base_port: int) -> App:
        app = App(lab, name=f"proxymanaged-{name}", http_port=base_port, blue_port=base_port + 1,
                  green_port=base_port + 2)  # fmt: skip
        reset(app)
        made.append(app)
        return app

    yield make
    for app in made:
        reset(app)
        shutil.rmtree(Path(lab["remote_dir"]) / f"{app.name}-certs", ignore_errors=True)


def certs_dir(lab: dict[str, Any], name: str) -> str:
    folder = Path(lab["remote_dir"]) / f"proxymanaged-{name}-certs"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cert.pem").write_text("not a real certificate\n")
    return str(folder)


def test_changing_the_proxy_refuses_no_connection_and_fails_no_request(
    app_at: Callable[[str, int], App], lab: dict[str, Any]
) -> None:
    app = app_at("change", 21300)
    app.deploy(lab["images"]["v1"]).expect_ok()
    certs = certs_dir(lab, "change")
    changes = [
        {"proxy-volumes": f"{certs}:/etc/certs:ro"},  # seamless mode: the lab's proxy has njs
        {"proxy-volumes": f"{certs}:/etc/certs:ro", "proxy-image": lab["images"]["v1"]},  # no njs
        {},  # back to the defaults
    ]
    runs: list[Run] = []
    with FreshConnections(app.http_port) as fresh, Traffic(app.url, **LOAD) as load:  # type: ignore[arg-type]
        time.sleep(1.0)
        for number, change in enumerate(changes):
            runs.append(app.deploy(lab["images"]["v2" if number % 2 == 0 else "v1"], **change))
            time.sleep(1.0)
        time.sleep(2.5)  # the slow requests of the last change finish
    records = load.records
    slow = [r for r in records if r.slow]
    print(f"\nproxy changes: {len(records)} requests ({len(slow)} slow), {len(failures(records))} failed, "
          f"{sum(r.retried for r in records)} retried on a closed keep-alive connection; "
          f"new connections: {dict(fresh.outcomes)}")  # fmt: skip
    assert len(slow) >= 10
    assert fresh.outcomes["ok"] > 100
    assert not any(r.error == "ConnectionRefusedError" for r in records), describe_failures(records)
    assert "ConnectionRefusedError" not in fresh.outcomes, fresh.outcomes
    if MIGRATES:
        assert failures(records) == [], describe_failures(records)
        assert set(fresh.outcomes) == {"ok"}, fresh.outcomes
    else:  # the kernel resets what it had queued on the old proxy's sockets as they close
        resets = [r for r in failures(records) if r.error == "ConnectionResetError" and not r.slow]
        assert failures(records) == resets and len(resets) <= 2 * len(changes), describe_failures(records)
        assert set(fresh.outcomes) <= {"ok", "ConnectionResetError"}, fresh.outcomes
        assert fresh.outcomes["ConnectionResetError"] <= len(changes), fresh.outcomes
    for run in runs:
        run.expect_ok()
        assert "replacing the proxy" in run.stderr, run.stderr
        assert "cannot listen beside the old one" not in run.stderr, run.stderr
        assert ("net.ipv4.tcp_migrate_req is 0" in run.stderr) is not MIGRATES, run.stderr
    assert live(app) == ("v2", "green")
    remaining = proxy_containers(app)
    assert [c.status for c in remaining] == ["running"]


def test_a_trailing_slash_in_proxy_volumes_deploys_and_the_next_deploy_keeps_the_proxy(
    app_at: Callable[[str, int], App], lab: dict[str, Any]
) -> None:
    app = app_at("slash", 21310)
    volumes = f"{certs_dir(lab, 'slash')}/:/etc/certs/:ro"
    app.deploy(lab["images"]["v1"], **{"proxy-volumes": volumes}).expect_ok()
    [proxy] = proxy_containers(app)
    with Traffic(app.url, **LOAD) as load:  # type: ignore[arg-type]
        time.sleep(0.5)
        run = app.deploy(lab["images"]["v2"], **{"proxy-volumes": volumes})
        time.sleep(2.5)
    run.expect_ok()
    assert "replacing the proxy" not in run.stderr, run.stderr
    assert [c.id for c in proxy_containers(app)] == [proxy.id]
    assert failures(load.records) == [], describe_failures(load.records)
    assert live(app) == ("v2", "green")


def test_a_port_in_use_is_refused_before_anything_changes(
    app_at: Callable[[str, int], App], lab: dict[str, Any]
) -> None:
    app = app_at("busy", 21320)
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", app.http_port))
    holder.listen(8)
    try:
        run = app.deploy(lab["images"]["v1"])
    finally:
        holder.close()
    assert run.exit_code != 0
    assert f"port {app.http_port} is already in use on" in run.stderr, run.stderr
    assert proxy_containers(app) == []
    assert not (app.app_dir / "blue").exists()
    app.deploy(lab["images"]["v1"]).expect_ok()  # once the port is free
    assert live(app) == ("v1", "blue")


def test_a_proxy_whose_folder_was_made_again_is_replaced_under_load(
    app_at: Callable[[str, int], App], lab: dict[str, Any]
) -> None:
    app = app_at("folder", 21330)
    app.deploy(lab["images"]["v1"]).expect_ok()
    nginx_dir = app.app_dir / "nginx"
    saved = {path.name: path.read_bytes() for path in nginx_dir.iterdir() if path.is_file()}
    shutil.rmtree(nginx_dir)  # an operator removed the folder and made it again
    nginx_dir.mkdir()
    for name, content in saved.items():
        (nginx_dir / name).write_bytes(content)
    owned_by_deploy(nginx_dir)
    [old] = proxy_containers(app)
    with Traffic(app.url, **LOAD) as load:  # type: ignore[arg-type]
        time.sleep(0.5)
        run = app.deploy(lab["images"]["v2"])
        time.sleep(2.5)
    run.expect_ok()
    assert "the proxy does not see" in run.stderr, run.stderr
    assert "Fix the nginx-template" not in run.stderr
    assert [c.id for c in proxy_containers(app)] != [old.id]
    assert failures(load.records) == [], describe_failures(load.records)
    assert live(app) == ("v2", "green")
