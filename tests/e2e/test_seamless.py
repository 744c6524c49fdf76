"""A switch that closes no client connection (issue 12), measured with clients that never retry.

Three kinds of client at once through nginx: keep-alive GETs that never retry, keep-alive POSTs
(never retried: a POST is not idempotent) and slow requests. In seamless mode (the lab's proxy has
njs) three switches meet no closed connection at all; the same switches in reload mode (a proxy
image without njs) do close some, which is why seamless exists: the test asserts both, so the
difference stays measured.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bluegreen.containers import nginx_workers
from lab.traffic import Record, Traffic, describe_failures, failures
from tests.e2e.apps import App, Run, live, reset
from tests.e2e.test_own_nginx import owned_by_deploy, run_nginx

pytestmark = pytest.mark.lab

NJS_MODULE = "/usr/lib/nginx/modules/ngx_http_js_module.so"  # Debian's (lab/README.md)
STRICT_LOAD = {
    "clients": 8,
    "rate": 200.0,
    "slow_clients": 4,
    "slow_ms": 1000,
    "retry": False,
    "post_clients": 4,
}


def switches_under_strict_load(app: App, lab: dict[str, Any], count: int) -> tuple[list[Run], list[Record]]:
    runs: list[Run] = []
    with Traffic(app.url, **STRICT_LOAD) as load:  # type: ignore[arg-type]
        time.sleep(0.5)
        for number in range(count):
            runs.append(app.deploy(lab["images"]["v2" if number % 2 == 0 else "v1"]))
            time.sleep(0.5)
        time.sleep(1.0)
    return runs, load.records


def closed(records: list[Record]) -> list[Record]:
    return [record for record in records if record.closed_keepalive]


@pytest.fixture
def app_with(lab: dict[str, Any]) -> Iterator[Callable[..., App]]:
    made: list[App] = []

    def make(name: str, base_port: int, **extra: str) -> App:
        app = App(lab, name=name, http_port=base_port, blue_port=base_port + 1, green_port=base_port + 2,
                  extra=extra)  # fmt: skip
        reset(app)
        made.append(app)
        app.deploy(lab["images"]["v1"]).expect_ok()
        return app

    yield make
    for app in made:
        reset(app)


def test_seamless_switches_close_no_connection_of_clients_that_never_retry(
    app_with: Callable[..., App], lab: dict[str, Any]
) -> None:
    app = app_with("seamless", 19010)
    runs, records = switches_under_strict_load(app, lab, 3)
    for run in runs:
        result = run.expect_ok()
        assert result["switch_mode"] == "seamless", run.stderr
        assert "switched seamlessly (no reload)" in run.stderr
    assert live(app) == ("v2", "green")
    assert len([r for r in records if r.method == "POST"]) > 100
    assert len([r for r in records if r.slow]) > 10
    assert closed(records) == [], describe_failures(closed(records))
    assert failures(records) == [], describe_failures(records)
    assert not any(record.retried for record in records)


def test_reload_mode_closes_connections_a_seamless_switch_keeps(
    app_with: Callable[..., App], lab: dict[str, Any]
) -> None:
    """A proxy without njs (the demo image's Debian nginx): reload mode, said once, and the same
    clients do meet connections closed by the reloads."""
    app = app_with("reloading", 19020, **{"proxy-image": lab["images"]["v1"]})
    runs, records = switches_under_strict_load(app, lab, 3)
    for run in runs:
        assert run.expect_ok()["switch_mode"] == "reload", run.stderr
        assert run.stderr.count("has no njs module") == 1, run.stderr
    assert closed(records), "reload mode closed no keep-alive connection: the difference is not measured"
    assert all(record.closed_keepalive for record in failures(records)), describe_failures(records)


def test_reload_mode_loses_nothing_for_clients_that_retry(
    app_with: Callable[..., App], lab: dict[str, Any]
) -> None:
    app = app_with("reloadretry", 19030, **{"proxy-image": lab["images"]["v1"]})
    with Traffic(app.url, clients=8, rate=150.0, slow_clients=4, slow_ms=1000) as load:
        time.sleep(0.5)
        run = app.deploy(lab["images"]["v2"])
        time.sleep(1.0)
    assert run.expect_ok()["switch_mode"] == "reload"
    assert failures(load.records) == [], describe_failures(load.records)


def own_nginx_with_njs(lab: dict[str, Any], name: str, root: Path, workspace: Path) -> Any:
    """The user's nginx container loading njs and including root/conf.d (mounted as a folder),
    and a seamless-ready site template in workspace/site.conf.j2."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "conf.d").mkdir(parents=True)
    (root / "nginx.conf").write_text(
        f"load_module {NJS_MODULE};\n"
        "events { worker_connections 1024; }\n"
        "http { access_log off; include /etc/nginx/conf.d/*.conf; }\n"
    )
    owned_by_deploy(root)
    (workspace / "site.conf.j2").write_text(
        "{{ bluegreen_upstreams }}\n"
        "server {\n"
        "    listen 127.0.0.1:{{ listen_port }};\n"
        "    location / {\n"
        "        proxy_pass http://{{ bluegreen_backend }};\n"
        "        proxy_http_version 1.1;\n"
        '        proxy_set_header Connection "";\n'
        "        add_header X-Bluegreen-Upstream $upstream_addr always;\n"
        "    }\n"
        "}\n"
    )
    return run_nginx(lab, name, {
        str(root / "nginx.conf"): {"bind": "/etc/nginx/nginx.conf", "mode": "ro"},
        str(root / "conf.d"): {"bind": "/etc/nginx/conf.d", "mode": "ro"},
    })  # fmt: skip


def test_your_own_nginx_switches_seamlessly_when_it_loads_njs(lab: dict[str, Any], tmp_path: Path) -> None:
    """proxy-container with a mounted conf.d folder and njs loaded by the user's nginx.conf: the
    switches rewrite bluegreen's active-color file there, and the user's nginx is never reloaded."""
    root = Path(lab["remote_dir"]) / "seamless-own-nginx"
    nginx = own_nginx_with_njs(lab, "seamless-nginx", root, tmp_path)
    app = App(lab, name="ownseamless", http_port=19040, blue_port=19041, green_port=19042, workspace=tmp_path)
    reset(app)
    app.extra.update({
        "nginx-template": "site.conf.j2",
        "proxy-container": "seamless-nginx",
        "proxy-config-file": str(root / "conf.d" / "site.conf"),
    })  # fmt: skip
    try:
        first = app.deploy(lab["images"]["v1"]).expect_ok()
        assert first["switch_mode"] == "seamless"
        workers_before = sorted(w.pid for w in nginx_workers(nginx))
        runs, records = switches_under_strict_load(app, lab, 3)
        for run in runs:
            assert run.expect_ok()["switch_mode"] == "seamless", run.stderr
        assert closed(records) == [], describe_failures(closed(records))
        assert failures(records) == [], describe_failures(records)
        assert sorted(w.pid for w in nginx_workers(nginx)) == workers_before  # never reloaded
        assert live(app) == ("v2", "green")
        assert (
            root / "conf.d" / ".bluegreen-ownseamless.active"
        ).read_text() == "bluegreen_ownseamless_green\n"
    finally:
        reset(app)
        nginx.remove(force=True)
        shutil.rmtree(root, ignore_errors=True)


def test_a_failed_verification_switches_back_seamlessly(
    app_with: Callable[..., App], lab: dict[str, Any]
) -> None:
    """The switch-back in seamless mode rewrites the active-color file back: nothing reloads, no
    connection closes, the old color never stopped serving."""
    app = app_with("seamlessback", 19050)
    with Traffic(app.url, **STRICT_LOAD) as load:  # type: ignore[arg-type]
        time.sleep(0.5)
        run = app.deploy(
            lab["images"]["v2"], **{"verify-url": f"http://127.0.0.1:{app.http_port}/no-such-path"}
        )
        time.sleep(1.0)
    assert run.exit_code == 1
    assert "switching nginx back to the previous config" in run.stderr
    assert "HTTP 404" in run.stderr
    assert live(app) == ("v1", "blue")
    assert closed(load.records) == [], describe_failures(closed(load.records))
    assert failures(load.records) == [], describe_failures(load.records)
