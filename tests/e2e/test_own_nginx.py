"""The blog post's setup, transcribed into the lab: its own nginx container with TLS on 443 and a
301 on 80, per-color compose files with container_name, an external network, a :latest tag pushed
before each deploy. And several apps behind one nginx, and bluegreen's proxy with certificates.

The user's files live under the lab server's home (same path on the machine and in the server),
owned by the deploy user, as on a real server.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from lab.certs import make_certificate
from lab.registry import push
from lab.settings import DEPLOY_UID, LAB_LABEL, lab_name
from lab.traffic import Record, Traffic, describe_failures, failures, get_once
from tests.e2e.apps import App, Run, error_lines, reset

pytestmark = pytest.mark.lab

LOAD = {"clients": 8, "rate": 120.0, "slow_clients": 4, "slow_ms": 1000}


def owned_by_deploy(path: Path) -> None:
    for item in [path, *path.rglob("*")]:
        os.chown(item, DEPLOY_UID, DEPLOY_UID, follow_symlinks=False)


def lets_encrypt(root: Path, name: str) -> None:
    """certbot's layout: live/<name>/*.pem are relative symlinks into archive/<name>/."""
    archive, live = root / "archive" / name, root / "live" / name
    archive.mkdir(parents=True)
    live.mkdir(parents=True)
    certificate = make_certificate(archive, [name])
    certificate.certificate.rename(archive / "fullchain1.pem")
    certificate.key.rename(archive / "privkey1.pem")
    (live / "fullchain.pem").symlink_to(f"../../archive/{name}/fullchain1.pem")
    (live / "privkey.pem").symlink_to(f"../../archive/{name}/privkey1.pem")


def run_nginx(lab: dict[str, Any], name: str, volumes: dict[str, dict[str, str]]) -> Any:
    """The user's own nginx container, started the way the blog's docker-compose.nginx.yml does."""
    client = docker.from_env()
    with_same_name = client.containers.list(all=True, filters={"name": f"^{name}$"})
    for container in with_same_name:
        container.remove(force=True)
    container = client.containers.run(
        lab["proxy_image"], name=name, network_mode="host", detach=True, volumes=volumes,
        labels={LAB_LABEL: lab_name()}, restart_policy={"Name": "always"},
    )  # fmt: skip
    client.close()
    return container


def blog_template(https_port: int, server_name: str, app: str) -> str:
    return f"""# The blog's nginx.conf as one template: bluegreen fills in the color's port.
events {{ worker_connections 1024; }}
http {{
    access_log off;
    upstream {app}_backend {{
        server 127.0.0.1:{{{{ upstream_port }}}};
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{{{{ listen_port }}}};
        server_name {server_name};
        return 301 https://$host$request_uri;
    }}
    server {{
        listen 127.0.0.1:{https_port} ssl;
        server_name {server_name};
        ssl_certificate /etc/letsencrypt/live/{server_name}/fullchain.pem;
        ssl_certificate_key /etc/letsencrypt/live/{server_name}/privkey.pem;
        location / {{
            proxy_pass http://{app}_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            add_header X-Bluegreen-Upstream $upstream_addr always;
        }}
    }}
}}
"""


def per_color_compose(image: str, color: str, port: int, network: str, app: str) -> str:
    return f"""services:
  {app}-{color}:
    image: "{image}"
    container_name: {app}-{color}
    ports:
      - "127.0.0.1:{port}:8000"
    restart: always
    environment:
      - TZ=Asia/Seoul
      - BLUEGREEN_COLOR={color}
    networks:
      - {network}
    volumes:
      - ./logs:/logs
networks:
  {network}:
    external: true
"""


@dataclass
class Site:
    app: App
    url: str
    server_name: str
    nginx: Any

    def serving(self) -> tuple[str, str]:
        status, headers = get_once(self.url, "/", self.server_name)
        assert status == 200, (status, headers)
        return headers["x-app-version"], headers["x-app-color"]


def deploy_under_load(site: Site, deploy: Callable[[], Run]) -> tuple[Run, list[Record]]:
    with Traffic(site.url, server_name=site.server_name, **LOAD) as load:  # type: ignore[arg-type]
        threading.Event().wait(0.5)
        run = deploy()
        threading.Event().wait(1.0)
    return run, load.records


@pytest.fixture
def blog_site(lab: dict[str, Any], tmp_path: Path) -> Iterator[Site]:
    """The blog's files, its nginx container and its external network; v1 deployed."""
    name, server_name, https_port = "encore", "encore.lab.test", 18943
    app = App(lab, name=name, http_port=18940, blue_port=18941, green_port=18942, workspace=tmp_path)
    reset(app)
    site_dir = Path(app.remote_dir) / "encore-site"
    shutil.rmtree(site_dir, ignore_errors=True)
    (site_dir / "letsencrypt").mkdir(parents=True)
    lets_encrypt(site_dir / "letsencrypt", server_name)
    template = blog_template(https_port, server_name, name)
    (site_dir / "nginx.conf").write_text(template.replace("{{ upstream_port }}", "18941").replace(
        "{{ listen_port }}", "18940"))  # fmt: skip
    owned_by_deploy(site_dir)
    client = docker.from_env()
    network = client.networks.create(f"encore_network_{uuid.uuid4().hex[:6]}")
    latest = f"{lab['registry']}/encore:latest"
    deploy_dir = tmp_path / "deploy"
    deploy_dir.mkdir()
    for color, port in (("blue", 18941), ("green", 18942)):
        (deploy_dir / f"docker-compose.{color}.yml").write_text(
            per_color_compose(latest, color, port, str(network.name), name)
        )
    (deploy_dir / "nginx.conf.j2").write_text(template)
    nginx = run_nginx(lab, "encore-nginx", {
        str(site_dir / "nginx.conf"): {"bind": "/etc/nginx/nginx.conf", "mode": "ro"},
        str(site_dir / "letsencrypt"): {"bind": "/etc/letsencrypt", "mode": "ro"},
    })  # fmt: skip
    app.extra.update({
        "compose-file": "deploy/docker-compose.{color}.yml",
        "nginx-template": "deploy/nginx.conf.j2",
        "proxy-container": "encore-nginx",
        "proxy-config-file": str(site_dir / "nginx.conf"),
        "verify-url": f"https://{server_name}:{https_port}/health",
    })  # fmt: skip
    site = Site(app, f"https://127.0.0.1:{https_port}", server_name, nginx)
    push(client, lab["images"]["v1"], latest)
    app.run("deploy").expect_ok()  # a first deploy: nothing served before it
    yield site
    reset(app)
    for container in client.containers.list(all=True, filters={"name": "^encore-"}):
        container.remove(force=True)
    network.remove()
    client.close()


def test_the_blogs_setup_deploys_over_tls_through_its_own_nginx_losing_nothing(
    blog_site: Site, lab: dict[str, Any]
) -> None:
    site, app = blog_site, blog_site.app
    assert site.serving() == ("v1", "blue")
    client = docker.from_env()
    before = client.containers.get(site.nginx.id).attrs
    latest = f"{lab['registry']}/encore:latest"

    push(client, lab["images"]["v2"], latest)  # as the blog's workflow pushes before deploying
    run, records = deploy_under_load(site, lambda: app.run("deploy"))
    assert run.exit_code == 0, run.stderr
    assert failures(records) == [], describe_failures(records)
    assert len(records) > 200
    assert site.serving() == ("v2", "green")
    assert run.result["certificate_expires"].endswith("Z")

    push(client, lab["images"]["v1"], latest)
    run, records = deploy_under_load(site, lambda: app.run("deploy"))
    assert run.exit_code == 0, run.stderr
    assert failures(records) == [], describe_failures(records)
    assert site.serving() == ("v1", "blue")

    after = client.containers.get(site.nginx.id).attrs
    assert (after["Id"], after["State"]["StartedAt"], after["RestartCount"]) == (
        before["Id"], before["State"]["StartedAt"], 0,
    )  # fmt: skip
    status, headers = get_once(f"http://127.0.0.1:{app.http_port}", "/health", site.server_name)
    assert (status, headers["location"]) == (301, f"https://{site.server_name}/health")
    client.close()


def conf_d_nginx(lab: dict[str, Any], root: Path) -> Any:
    shutil.rmtree(root, ignore_errors=True)
    (root / "conf.d").mkdir(parents=True)
    (root / "nginx.conf").write_text(
        "events { worker_connections 1024; }\nhttp { access_log off; include /etc/nginx/conf.d/*.conf; }\n"
    )
    owned_by_deploy(root)
    return run_nginx(lab, "shared-nginx", {
        str(root / "nginx.conf"): {"bind": "/etc/nginx/nginx.conf", "mode": "ro"},
        str(root / "conf.d"): {"bind": "/etc/nginx/conf.d", "mode": "ro"},
    })  # fmt: skip


def server_block(app: str, server_name: str) -> str:
    return f"""upstream {app}_backend {{
    server 127.0.0.1:{{{{ upstream_port }}}};
    keepalive 16;
}}
server {{
    listen 127.0.0.1:{{{{ listen_port }}}};
    server_name {server_name};
    location / {{
        proxy_pass http://{app}_backend;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        add_header X-Bluegreen-Upstream $upstream_addr always;
    }}
}}
"""


def test_two_apps_behind_one_nginx_deploy_at_the_same_moment_losing_nothing(
    lab: dict[str, Any], tmp_path: Path
) -> None:
    port = 18960
    root = Path(lab["remote_dir"]) / "shared-nginx"
    nginx = conf_d_nginx(lab, root)
    sites: list[Site] = []
    for number, name in enumerate(("shop", "blog")):
        server_name = f"{name}.lab.test"
        workspace = tmp_path / name
        workspace.mkdir()
        (workspace / "nginx.conf.j2").write_text(server_block(name, server_name))
        base = port + 10 * (number + 1)
        app = App(lab, name=f"{name}site", http_port=port, blue_port=base + 1, green_port=base + 2,
                  workspace=workspace)  # fmt: skip
        reset(app)
        app.extra.update({
            "nginx-template": "nginx.conf.j2",
            "proxy-container": "shared-nginx",
            "proxy-config-file": str(root / "conf.d" / f"{name}.conf"),
            "verify-url": f"http://{server_name}:{port}/health",
        })  # fmt: skip
        app.deploy(lab["images"]["v1"]).expect_ok()
        sites.append(Site(app, f"http://127.0.0.1:{port}", server_name, nginx))
    try:
        assert [site.serving() for site in sites] == [("v1", "blue"), ("v1", "blue")]
        runs: dict[str, Run] = {}
        loads = [Traffic(site.url, server_name=site.server_name, **LOAD) for site in sites]  # type: ignore[arg-type]
        for load in loads:
            load.start()
        threading.Event().wait(0.5)
        threads = [
            threading.Thread(
                target=lambda s=site: runs.__setitem__(s.server_name, s.app.deploy(lab["images"]["v2"]))
            )
            for site in sites
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        threading.Event().wait(1.0)
        records = [record for load in loads for record in load.stop()]
        for name, run in runs.items():
            assert run.exit_code == 0, (name, run.stderr)
        assert failures(records) == [], describe_failures(records)
        assert [site.serving() for site in sites] == [("v2", "green"), ("v2", "green")]
    finally:
        for site in sites:
            reset(site.app)
        nginx.remove(force=True)


def test_managed_proxy_serves_tls_with_proxy_volumes(lab: dict[str, Any], tmp_path: Path) -> None:
    https_port, server_name = 18983, "managed.lab.test"
    app = App(lab, name="managedtls", http_port=18980, blue_port=18981, green_port=18982, workspace=tmp_path)
    reset(app)
    certs = Path(app.remote_dir) / "managedtls-certs"
    shutil.rmtree(certs, ignore_errors=True)
    certs.mkdir(parents=True)
    lets_encrypt(certs, server_name)
    owned_by_deploy(certs)
    template = blog_template(https_port, server_name, "managedtls").replace(
        "events {", "pid /tmp/nginx-managedtls.pid;\nevents {"
    )
    (tmp_path / "nginx.conf.j2").write_text(template)
    app.extra.update({
        "nginx-template": "nginx.conf.j2",
        "proxy-volumes": f"{certs}:/etc/letsencrypt:ro",
        "verify-url": f"https://{server_name}:{https_port}/health",
    })  # fmt: skip
    try:
        app.deploy(lab["images"]["v1"]).expect_ok()
        site = Site(app, f"https://127.0.0.1:{https_port}", server_name, None)
        run, records = deploy_under_load(site, lambda: app.deploy(lab["images"]["v2"]))
        assert run.exit_code == 0, run.stderr
        assert failures(records) == [], describe_failures(records)
        assert site.serving() == ("v2", "green")
        # A changed input is applied, and said: the proxy is replaced (beside the old one; the
        # replacement under load is tests/e2e/test_proxy_states.py's).
        more = f"{certs}:/etc/letsencrypt:ro\n{certs}:/srv/certs:ro"
        run = app.deploy(lab["images"]["v1"], **{"proxy-volumes": more})
        assert run.exit_code == 0, run.stderr
        assert f"replacing the proxy (proxy-volumes asks for ['{certs}:/etc/letsencrypt:ro', " in run.stderr
        assert site.serving() == ("v1", "blue")
    finally:
        reset(app)


def test_proxy_inputs_that_cannot_work_are_refused_before_anything_changes(
    lab: dict[str, Any], tmp_path: Path
) -> None:
    root = Path(lab["remote_dir"]) / "refusing-nginx"
    nginx = conf_d_nginx(lab, root)
    app = App(lab, name="proxyin", http_port=18990, blue_port=18991, green_port=18992)
    reset(app)
    registry = f"{lab_name()}-registry"  # a running container that is not nginx
    cases = {
        "proxy-image": ({"proxy-image": f"{lab['registry']}/no-such-nginx:1"}, "cannot be pulled"),
        "proxy-container": ({"proxy-container": "no-such-nginx", "proxy-config-file": str(root / "x.conf")},
                            "no container named 'no-such-nginx'"),
        "proxy-container ": ({"proxy-container": registry, "proxy-config-file": "/srv/x.conf"},
                             "runs no nginx master process"),
        "proxy-config-file": ({"proxy-container": "shared-nginx", "proxy-config-file": "/srv/elsewhere.conf"},
                              "is not mounted into shared-nginx"),
        "proxy-config-file ": ({"proxy-container": "shared-nginx", "proxy-config-file": "conf.d/x.conf"},
                               "absolute path without '..'"),
        "proxy-config-file  ": ({"proxy-container": "shared-nginx", "proxy-config-file": f"{root}/../x.conf"},
                                "absolute path without '..'"),
        "proxy-volumes": ({"proxy-volumes": "/etc/letsencrypt"}, "not host-path:container-path[:ro]"),
        "verify-url": ({"verify-url": "ftp://shop.example.com/health"}, "verify-url"),
    }  # fmt: skip
    try:
        for label, (flags, words) in cases.items():
            run = app.deploy(lab["images"]["v1"], **flags)
            assert run.exit_code == 1, (label, run.stderr)
            (line,) = error_lines(run)
            assert line.startswith(f"error: --{label.strip()}"), (label, line)
            assert words in line, (label, line)
            assert not app.app_dir.exists(), label
            assert not list((root / "conf.d").iterdir()), label
    finally:
        reset(app)
        nginx.remove(force=True)
