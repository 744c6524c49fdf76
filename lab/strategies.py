"""The alternatives a user would otherwise pick, run against the same lab app as bluegreen.

- `seed_order`: the seed blog post's deploy.sh, step for step: find the live color with
  `docker ps | grep`, start the other color, `sleep 10`, copy the config over nginx.conf, reload,
  and stop the old color at once.
- `recreate`: the naive way: stop the running container, start the new one in its place.

They reuse bluegreen's file layout on the host (one proxy container per app, config directory
mounted), so any strategy can follow any other on the same app.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bluegreen import commands
from bluegreen.colors import COLORS, other, project_name
from bluegreen.commands import Compose
from bluegreen.host import Host
from bluegreen.layout import Layout
from bluegreen.render import Route, proxy_compose, render_nginx


@dataclass(frozen=True)
class Target:
    """One app on one host, as the strategies see it."""

    host: Host
    compose_program: tuple[str, ...]
    app_name: str
    app_dir: str
    compose_file: Path
    template: Path
    proxy_image: str
    ports: dict[str, int]
    http_port: int

    @property
    def layout(self) -> Layout:
        return Layout(self.app_dir)

    def compose(self, color: str, image: str) -> Compose:
        env = {"BLUEGREEN_COLOR": color, "BLUEGREEN_PORT": str(self.ports[color]), "BLUEGREEN_IMAGE": image}
        path = f"{self.layout.color_dir(color)}/{self.compose_file.name}"
        return Compose(self.compose_program, project_name(self.app_name, color), (path,), env)

    def proxy(self) -> Compose:
        return Compose(
            self.compose_program, f"{self.app_name}-proxy", (f"{self.layout.proxy_dir}/compose.yml",), {}
        )

    def config_for(self, color: str) -> bytes:
        route = Route(self.app_name, color, other(color), "127.0.0.1", self.ports[color], self.http_port)
        return render_nginx(self.template.read_text(), route).encode()

    def upload(self) -> None:
        layout = self.layout
        dirs = [layout.color_dir(c) for c in COLORS] + [layout.nginx_dir, layout.proxy_dir]
        self.host.run(commands.make_dirs(*dirs)).check("mkdir")
        for color in COLORS:
            self.host.write_file(
                f"{layout.color_dir(color)}/{self.compose_file.name}", self.compose_file.read_bytes()
            )
            self.host.write_file(f"{layout.nginx_dir}/nginx.{color}.conf", self.config_for(color))
        proxy = proxy_compose(self.proxy_image, layout.nginx_dir, self.app_name)
        self.host.write_file(f"{layout.proxy_dir}/compose.yml", proxy.encode())

    def running(self, color: str) -> bool:
        # The seed's own test: `docker ps | grep "${DOCKER_APP_NAME}-blue"`.
        names = self.host.run(["docker", "ps", "--format", "{{.Names}}"]).check("docker ps").stdout
        return f"{project_name(self.app_name, color)}" in names

    def proxy_container(self) -> str:
        return self.host.run(self.proxy()("ps", "-q")).check("proxy ps").stdout.strip()


Phase = Callable[[str], None]


def seed_order(target: Target, image: str, mark: Phase, sleep_seconds: float = 10.0) -> str:
    """deploy.sh from the seed; returns the color now live."""
    target.upload()
    layout = target.layout
    if not target.proxy_container():
        target.host.run(["cp", f"{layout.nginx_dir}/nginx.blue.conf", layout.live_config]).check("cp")
        target.host.run(target.proxy().up()).check("proxy up")
    after = "green" if target.running("blue") else "blue"
    before = other(after)
    mark("start")
    project = target.compose(after, image)
    target.host.run(project.pull()).check("pull")
    target.host.run(project("up", "--detach", "--force-recreate")).check("up")
    mark("sleep")
    time.sleep(sleep_seconds)
    if target.running(after):
        mark("switch")
        target.host.run(["cp", f"{layout.nginx_dir}/nginx.{after}.conf", layout.live_config]).check("cp")
        container = target.proxy_container()
        target.host.run(
            ["docker", "exec", container, "nginx", "-s", "reload", "-c", "/etc/bluegreen-nginx/nginx.conf"]
        )
        mark("stop-old")
        target.host.run(target.compose(before, image).down()).check("down")
    mark("done")
    return after


def recreate(target: Target, image: str, mark: Phase) -> str:
    """Stop the running color and start the new version in its place (same color, same port)."""
    target.upload()
    color = next((c for c in COLORS if target.running(c)), "blue")
    layout = target.layout
    target.host.run(["cp", f"{layout.nginx_dir}/nginx.{color}.conf", layout.live_config]).check("cp")
    if not target.proxy_container():
        target.host.run(target.proxy().up()).check("proxy up")
    project = target.compose(color, image)
    mark("pull")
    target.host.run(project.pull()).check("pull")
    mark("stop-old")
    target.host.run(project.stop()).check("stop")
    mark("start")
    target.host.run(project("up", "--detach", "--force-recreate")).check("up")
    mark("done")
    return color
