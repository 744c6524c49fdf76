"""The fleet's front load balancer: nginx on this machine's 127.0.0.1, as a cloud load balancer.

Round robin over the hosts' `http_port`; passive health checks (a host that fails a connection is
left out for `FAIL_TIMEOUT`); a request whose connection to one host fails (refused, reset, timed
out) is tried once more on another host, POST included as long as nothing was sent (nginx never
resends a non-idempotent request that reached a host). Each answer says which host(s) it came from
in `X-Fleet-Upstream` (nginx's $upstream_addr, e.g. `10.218.0.12:18080` or, after a retry,
`10.218.0.12:18080, 10.218.0.13:18080`). Connections to the hosts are not kept alive, so a host's
proxy closing an idle connection never meets a request on its way.

Runs as a container of the machine's engine (the lab's nginx image, host network), its config in a
mounted directory; recreated only when that config changes.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import docker
import docker.errors

from lab.settings import LAB_LABEL, lab_name

MAX_FAILS = 1
FAIL_TIMEOUT = "5s"
CONNECT_TIMEOUT = "2s"
SPEC_LABEL = "bluegreen.lab.spec"
CONFIG_MOUNT = "/etc/bluegreen-fleet-lb"


def container_name() -> str:
    return f"{lab_name()}-fleet-lb"


def render(backends: list[str], listen: str) -> str:
    """nginx.conf of the load balancer: `backends` are ADDR:PORT, `listen` is 127.0.0.1:PORT."""
    health = f"max_fails={MAX_FAILS} fail_timeout={FAIL_TIMEOUT}"
    servers = "".join(f"        server {backend} {health};\n" for backend in backends)
    return f"""# The lab fleet's front load balancer (lab/fleet_lb.py).
pid /run/nginx-fleet-lb.pid;
error_log stderr notice;
worker_processes auto;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    keepalive_timeout 65;
    keepalive_requests 100000;

    upstream fleet {{
{servers}    }}

    server {{
        listen {listen};

        location / {{
            proxy_pass http://fleet;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout {CONNECT_TIMEOUT};
            proxy_set_header Host $host;
            add_header X-Fleet-Upstream $upstream_addr always;
        }}
    }}
}}
"""


def ensure(client: docker.DockerClient, image: str, config_dir: Path, config: str) -> None:
    """The load balancer runs with `config`; (re)created only when it is missing or differs."""
    spec = hashlib.sha256(f"{image}\n{config}".encode()).hexdigest()[:16]
    config_dir.mkdir(parents=True, exist_ok=True)
    config_file = config_dir / "nginx.conf"
    with contextlib.suppress(docker.errors.NotFound):
        current = client.containers.get(container_name())
        unchanged = config_file.is_file() and config_file.read_text() == config
        if current.labels.get(SPEC_LABEL) == spec and current.status == "running" and unchanged:
            return
        current.remove(force=True)
    config_file.write_text(config)
    client.containers.run(
        image,
        ["nginx", "-g", "daemon off;", "-c", f"{CONFIG_MOUNT}/nginx.conf"],
        name=container_name(),
        detach=True,
        network_mode="host",
        restart_policy={"Name": "always"},
        volumes={str(config_dir): {"bind": CONFIG_MOUNT, "mode": "ro"}},
        labels={LAB_LABEL: lab_name(), SPEC_LABEL: spec},
    )


def remove(client: docker.DockerClient) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(container_name()).remove(force=True)
