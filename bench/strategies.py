"""Running each strategy once and recording its timeline: recreate and the seed's order in process
(lab.strategies over one SSH connection), bluegreen as the product runs it: the CLI, a subprocess.

- `bluegreen`: the lab's proxy image (nginx with njs): the product switches seamlessly (no reload)
  when the template lets it, else with a reload; its JSON result says which (`switch_mode`).
- `bluegreen-reload`: the same with `proxy-image` set to an nginx without njs (the demo app's image
  has Debian's nginx without the module): the product falls back to switching with a reload.
- `proxy-change`: bluegreen deploying with a `proxy-volumes` it did not have, so the deploy replaces
  the proxy (issue 17.3: the new one starts beside the old one, which quits gracefully). The driver
  puts the proxy back with an unmeasured deploy right after the settle time, so the strategies that
  follow find the proxy they expect.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

from bluegreen.colors import other, project_name
from bluegreen.config import load_private_key
from bluegreen.host import CommandResult, Host
from bluegreen.ssh import HostKeyCheck, connect
from lab.inputs import as_flags, deploy_inputs
from lab.strategies import Target, recreate, seed_order

ROOT = Path(__file__).resolve().parents[1]
PROXY_CHANGE = "proxy-change"
STRATEGIES = ("recreate", "seed", "bluegreen", "bluegreen-reload", PROXY_CHANGE)
BLUEGREEN_STRATEGIES = ("bluegreen", "bluegreen-reload")
NO_NJS_PROXY_VERSION = "v1"
"""The demo image used as bluegreen-reload's proxy image: same /usr/sbin/nginx, no njs module."""


def needs_preparation(strategy: str, previous: str | None) -> bool:
    """bluegreen's variants leave the proxy in their own state (its image, and for seamless mode a
    config with both colors whose first install needs a reload). After another strategy, one
    unmeasured deploy of the same variant brings the proxy there first, so the measured deploy
    shows the switch a user of that variant gets on every deploy, not the one-time change of proxy
    image (the proxy is recreated) or of config (nginx reloads)."""
    return strategy in BLUEGREEN_STRATEGIES and strategy != previous


SEED_SLEEP_SECONDS = 10.0  # deploy.sh's `sleep 10`


@dataclass(frozen=True)
class App:
    """The bench's own app on the lab server: its name and ports are nobody else's."""

    lab: dict[str, Any]
    name: str = "bench"
    http_port: int = 18380
    blue_port: int = 18381
    green_port: int = 18382

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ports(self) -> dict[str, int]:
        return {"blue": self.blue_port, "green": self.green_port}

    @property
    def app_dir(self) -> Path:
        return Path(self.lab["remote_dir"]) / self.name

    def version_of(self, image: str) -> str:
        return next(str(version) for version, ref in self.lab["images"].items() if ref == image)

    @property
    def proxy_volume(self) -> str:
        """The mount a `proxy-change` deploy adds to the proxy (a folder of the lab's server)."""
        folder = Path(self.lab["remote_dir"]) / f"{self.name}-proxy-extra"
        folder.mkdir(parents=True, exist_ok=True)
        return f"{folder}:/etc/bluegreen-extra:ro"

    def bluegreen_argv(
        self, image: str, proxy_image: str | None = None, proxy_volumes: str = ""
    ) -> list[str]:
        """The CLI with the action's inputs as flags; inputs not given keep the action's defaults."""
        values = {
            **deploy_inputs(self.lab, self.name, self.http_port, self.blue_port, self.green_port),
            "image": image,
            **({"proxy-image": proxy_image} if proxy_image else {}),
            **({"proxy-volumes": proxy_volumes} if proxy_volumes else {}),
        }
        flags = as_flags(values)
        return [sys.executable, "-m", "bluegreen", "deploy", *flags, "--json"]

    def reset(self) -> None:
        """Remove what earlier runs left: the compose projects' containers and the app directory."""
        import shutil

        client = docker.from_env()
        try:
            for suffix in ("blue", "green", "proxy", "proxy-alt"):
                label = f"com.docker.compose.project={self.name}-{suffix}"
                for container in client.containers.list(all=True, filters={"label": label}):
                    container.remove(force=True)
        finally:
            client.close()
        shutil.rmtree(self.app_dir, ignore_errors=True)


@dataclass(frozen=True)
class Ran:
    start: float
    end: float
    argv: tuple[str, ...]


class CommandLog:
    """Notes when each command ran on a host, to find `compose pull` and `compose up` in time.

    It wraps the host's own `run` in place, so the strategies get the real Host, whatever
    else that interface grows."""

    def __init__(self, host: Host) -> None:
        self.ran: list[Ran] = []
        inner = host.run

        def run(argv: Sequence[str], *, timeout: float = 600, stdin: bytes = b"") -> CommandResult:
            start = time.monotonic()
            try:
                return inner(argv, timeout=timeout, stdin=stdin)
            finally:
                self.ran.append(Ran(start, time.monotonic(), tuple(argv)))

        setattr(host, "run", run)  # noqa: B010 (mypy forbids assigning to a method)

    def compose_call(self, project: str, verb: str, after: float) -> Ran | None:
        for ran in self.ran:
            if ran.start >= after and project in ran.argv and verb in ran.argv:
                return ran
        return None


@dataclass
class Timeline:
    """What one strategy run reports back to the driver."""

    start: float
    end: float
    color: str
    previous_color: str
    up_start: float
    phases: list[tuple[str, float]] = field(default_factory=list)
    pull_seconds: float | None = None
    drain_seconds: float = 0.0
    reported: dict[str, Any] = field(default_factory=dict)


class DeployError(RuntimeError):
    pass


class Runner:
    """Deploys `image` with one strategy and returns its timeline.

    recreate and the seed's order get a fresh SSH connection for each deploy, opened before their
    clock starts (deploy.sh would run in an SSH session that is already open)."""

    def __init__(self, app: App) -> None:
        self.app = app

    def _target(self) -> tuple[Target, CommandLog]:
        lab = self.app.lab
        ssh = connect(
            lab["host"], int(lab["port"]), lab["username"],
            load_private_key(Path(lab["ssh_key_file"]).read_text(), ""),
            HostKeyCheck(known_hosts=Path(lab["known_hosts_file"]).read_text()), 15,
        )  # fmt: skip
        log = CommandLog(ssh)
        return Target(
            ssh, ("docker", "compose"), self.app.name, str(self.app.app_dir),
            Path(lab["compose_file"]), Path(lab["nginx_template"]), lab["proxy_image"], self.app.ports,
            self.app.http_port,
        ), log  # fmt: skip

    def deploy(self, strategy: str, image: str) -> Timeline:
        if strategy == "bluegreen":
            return self.bluegreen(image)
        if strategy == "bluegreen-reload":
            return self.bluegreen(image, proxy_image=self.app.lab["images"][NO_NJS_PROXY_VERSION])
        if strategy == PROXY_CHANGE:
            return self.bluegreen(image, proxy_volumes=self.app.proxy_volume)
        return self._in_process(strategy, image)

    def _in_process(self, strategy: str, image: str) -> Timeline:
        target, log = self._target()
        try:
            return self._timed(target, log, strategy, image)
        finally:
            target.host.close()

    def _timed(self, target: Target, log: CommandLog, strategy: str, image: str) -> Timeline:
        marks: list[tuple[str, float]] = []

        def mark(name: str) -> None:
            marks.append((name, time.monotonic()))

        start = time.monotonic()
        if strategy == "recreate":
            color = recreate(target, image, mark)
            previous = color
        elif strategy == "seed":
            color = seed_order(target, image, mark, sleep_seconds=SEED_SLEEP_SECONDS)
            previous = other(color)
        else:
            raise ValueError(f"unknown strategy {strategy!r}")
        end = time.monotonic()
        project = project_name(self.app.name, color)
        up = log.compose_call(project, "up", start)
        pull = log.compose_call(project, "pull", start)
        if up is None:
            raise DeployError(f"{strategy} never ran `compose up` for {project}")
        phases = [("prepare", start), *[(name, at) for name, at in marks if name != "done"]]
        return Timeline(
            start, end, color, previous, up.start, phases,
            pull_seconds=None if pull is None else pull.end - pull.start,
        )  # fmt: skip

    def bluegreen(self, image: str, proxy_image: str | None = None, proxy_volumes: str = "") -> Timeline:
        """`python -m bluegreen deploy ... --json`, timing its phases from its live stderr."""
        lines: list[tuple[float, str]] = []
        start = time.monotonic()
        process = subprocess.Popen(
            self.app.bluegreen_argv(image, proxy_image, proxy_volumes),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=os.environ,
        )  # fmt: skip

        def read_stderr() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                lines.append((time.monotonic(), line.rstrip("\n")))

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        assert process.stdout is not None
        stdout = process.stdout.read()
        code = process.wait()
        end = time.monotonic()
        reader.join(10)
        log = "\n".join(text for _, text in lines)
        if code != 0:
            raise DeployError(f"bluegreen deploy exited {code}:\n{log}")
        result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        phases = [("launch", start)]  # interpreter start and imports, until its first phase
        for at, text in lines:
            found = re.search(r"==> (\S+)", text)
            if found:
                phases.append((found.group(1), at))
        up_start = next((at for name, at in phases if name == "start"), None)
        if up_start is None:
            raise DeployError(f"bluegreen printed no `start` phase:\n{log}")
        return Timeline(
            start, end, result["active_color"], result["previous_color"], up_start, phases,
            drain_seconds=float(result["phases"].get("drain", 0.0)), reported=result,
        )  # fmt: skip
