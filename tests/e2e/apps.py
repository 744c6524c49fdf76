"""Running the real CLI against the lab, and reading what nginx serves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

from lab.cleanup import remove_app
from lab.inputs import as_flags, deploy_inputs
from lab.traffic import Record, Traffic

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class App:
    """One test app on one lab server: its own name and ports, so tests never share state."""

    lab: dict[str, Any]
    name: str
    http_port: int
    blue_port: int
    green_port: int
    compose_v1: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    workspace: Path = ROOT
    """The directory the CLI runs in: relative paths and the workspace boundary start there."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ssh_port(self) -> int:
        return int(self.lab["compose_v1_port"] if self.compose_v1 else self.lab["port"])

    @property
    def remote_dir(self) -> str:
        return str(self.lab["compose_v1_remote_dir"] if self.compose_v1 else self.lab["remote_dir"])

    @property
    def app_dir(self) -> Path:
        return Path(self.remote_dir) / self.name

    def flags(self, image: str = "", **overrides: str) -> list[str]:
        values = {
            **deploy_inputs(
                self.lab, self.name, self.http_port, self.blue_port, self.green_port, self.compose_v1
            ),
            "health-timeout": "60",
            "drain-timeout": "30",
            **({"image": image} if image else {}),
            **self.extra,
            **overrides,
        }
        return as_flags(values)

    def run(self, command: str, image: str = "", **overrides: str) -> Run:
        argv = [sys.executable, "-m", "bluegreen", command, *self.flags(image, **overrides), "--json"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=self.workspace, env=env)
        return Run(done.returncode, done.stdout, done.stderr)

    def deploy(self, image: str, **overrides: str) -> Run:
        return self.run("deploy", image, **overrides)

    def get(self, path: str = "/") -> tuple[int, dict[str, Any], dict[str, str]]:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            headers = {k.lower(): v for k, v in response.getheaders()}
            return response.status, json.loads(response.read()), headers


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict[str, Any]:
        lines = self.stdout.strip().splitlines()
        assert lines, f"no JSON result; stderr:\n{self.stderr}"
        parsed: dict[str, Any] = json.loads(lines[-1])
        return parsed

    def expect_ok(self) -> dict[str, Any]:
        assert self.exit_code == 0, f"deploy failed (exit {self.exit_code}):\n{self.stderr}"
        return self.result


def reset(app: App) -> None:
    """Remove what earlier runs left of this app: its compose projects, its shared volumes, its
    network, its owner claim and its directory."""
    client = docker.from_env()
    try:
        remove_app(client, app.name, app.app_dir)
    finally:
        client.close()


def app_maker(lab: dict[str, Any], prefix: str = "") -> Iterator[Callable[..., App]]:
    """For a fixture: `make(name, base_port, workspace=ROOT, **extra)` gives a fresh app (its ports
    base_port to base_port + 2); every app made is removed afterwards."""
    made: list[App] = []

    def make(name: str, base_port: int, workspace: Path = ROOT, **extra: str) -> App:
        app = App(lab, name=f"{prefix}{name}", http_port=base_port, blue_port=base_port + 1,
                  green_port=base_port + 2, extra=extra, workspace=workspace)  # fmt: skip
        reset(app)
        made.append(app)
        return app

    yield make
    for app in made:
        reset(app)


LOAD = {"clients": 8, "rate": 150.0, "slow_clients": 4, "slow_ms": 1000}


def under_load(
    action: Callable[[], Run], app: App, load_settings: dict[str, float] | None = None
) -> tuple[Run, list[Record]]:
    load_settings = load_settings or LOAD
    with Traffic(app.url, **load_settings) as load:  # type: ignore[arg-type]
        time.sleep(0.5)
        run = action()
        time.sleep(1.0)
    return run, load.records


def live(app: App) -> tuple[str, str]:
    body = app.get("/")[1]
    return body["version"], body["color"]


def project_running(app: App, color: str) -> bool:
    client = docker.from_env()
    label = f"com.docker.compose.project={app.name}-{color}"
    running = bool(client.containers.list(filters={"label": label, "status": "running"}))
    client.close()
    return running


def error_lines(run: Run) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("error: ")]


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)
