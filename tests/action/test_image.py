"""The built image, run the way GitHub's runner runs a container action: `docker run` with the
INPUT_* variables, the workspace and the file-commands directory mounted, against the lab."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from tests.action.runner import (
    assert_groups_balanced,
    assert_secrets_masked,
    error_lines,
    input_env,
    parse_outputs,
    unescape,
)
from tests.e2e.apps import App

pytestmark = pytest.mark.lab

PASSPHRASE = "lab % passphrase"
WORKSPACE = "/github/workspace"
FILE_COMMANDS = "/github/file_commands"


@dataclass(frozen=True)
class ActionRun:
    exit_code: int
    log: str
    outputs: str
    summary: str


def encrypted_lab_key(lab: dict[str, Any]) -> str:
    """The lab's client key, encrypted with PASSPHRASE (so the passphrase path is exercised too)."""
    key = serialization.load_ssh_private_key(Path(lab["ssh_key_file"]).read_bytes(), None)
    encryption = serialization.BestAvailableEncryption(PASSPHRASE.encode())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption)
    return pem.decode()


def lab_workspace(lab: dict[str, Any], root: Path) -> Path:
    """A checkout of a user's repo: the lab's compose file and nginx template under deploy/."""
    workspace = root / "workspace"
    (workspace / "deploy").mkdir(parents=True)
    shutil.copy(lab["compose_file"], workspace / "deploy" / "compose.yml")
    shutil.copy(lab["nginx_template"], workspace / "deploy" / "nginx.conf.j2")
    return workspace


def lab_inputs(app: App, key: str) -> dict[str, str]:
    lab = app.lab
    return {
        "host": lab["host"],
        "port": str(app.ssh_port),
        "username": lab["username"],
        "ssh-key": key,
        "ssh-key-passphrase": PASSPHRASE,
        "known-hosts": Path(lab["known_hosts_file"]).read_text(),
        "app-name": app.name,
        "compose-file": "deploy/compose.yml",
        "nginx-template": "deploy/nginx.conf.j2",
        "health-timeout": "60",
        "drain-timeout": "30",
        "remote-dir": app.remote_dir,
        "blue-port": str(app.blue_port),
        "green-port": str(app.green_port),
        "http-port": str(app.http_port),
        "proxy-image": lab["proxy_image"],
    }


def docker_run(
    image: str, workspace: Path, inputs: Mapping[str, str], files: Path | None = None, name: str = ""
) -> tuple[list[str], dict[str, str]]:
    """argv and environment of `docker run` as the runner does it: the workspace (and the
    file-commands directory) mounted; the input values travel in the environment, not in argv."""
    env = input_env(inputs)
    argv = ["docker", "run", "--rm", "--network", "host", "--workdir", WORKSPACE]
    argv += ["--name", name] if name else []
    argv += ["-v", f"{workspace}:{WORKSPACE}", "-e", f"GITHUB_WORKSPACE={WORKSPACE}"]
    if files is not None:
        argv += ["-v", f"{files}:{FILE_COMMANDS}"]
        argv += ["-e", f"GITHUB_OUTPUT={FILE_COMMANDS}/output"]
        argv += ["-e", f"GITHUB_STEP_SUMMARY={FILE_COMMANDS}/summary"]
    argv += [arg for name in env for arg in ("-e", name)]
    return [*argv, image], {**os.environ, **env}


def file_commands(workspace: Path) -> Path:
    """The runner's directory of the step's GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, empty."""
    files = workspace.parent / "file_commands"
    files.mkdir(exist_ok=True)
    for name in ("output", "summary"):
        (files / name).write_text("")
    return files


def run_action(image: str, workspace: Path, inputs: Mapping[str, str], timeout: float = 600) -> ActionRun:
    files = file_commands(workspace)
    argv, env = docker_run(image, workspace, inputs, files)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return ActionRun(
        done.returncode,
        done.stdout + done.stderr,
        (files / "output").read_text(),
        (files / "summary").read_text(),
    )


SECONDS = re.compile(r"(?<=\| )\d+\.\d+(?=( s)? \|$)", re.MULTILINE)


def normalized(summary: str) -> str:
    """The summary with the seconds in its tables replaced by N."""
    return SECONDS.sub("N", summary)


SEAMLESS_ROW = "| Switch | seamless (no reload: no connection closed) |\n"


def check_summary(
    summary: str, app: App, status: str, before: str, after: str, image: str, switch_row: str = SEAMLESS_ROW
) -> list[str]:
    """The summary's header, exactly (durations aside); returns the phase rows."""
    head, _, table = normalized(summary).partition("| Phase | Result | Seconds |\n|---|---|---:|\n")
    assert head == (
        f"### bluegreen deploy of `{app.name}`: {status}\n\n| | |\n|---|---|\n"
        f"| Status | {status} |\n"
        f"| Server | `{app.lab['host']}:{app.ssh_port}` |\n"
        f"| Color before | {before} |\n"
        f"| Color after | {after} |\n"
        f"| Image | `{image}` |\n"
        f"{switch_row}"
        "| Duration | N s |\n\n"
    )
    rows = table.split("\n\n")[0].splitlines()
    assert rows and all(re.fullmatch(r"\| [a-z-]+ \| (ok|failed) \| N \|", row) for row in rows), rows
    return rows


def check_deploy(run: ActionRun, app: App, image: str, before: str, after: str, key: str) -> None:
    assert run.exit_code == 0, run.log
    assert error_lines(run.log) == []
    assert_secrets_masked(run.log, [key, PASSPHRASE])
    assert_groups_balanced(run.log)
    assert run.log.splitlines()[-1] == f"deployed: {app.name} live color {after}" + (
        f" (was {before})" if before != "none" else ""
    )
    outputs = parse_outputs(run.outputs)
    assert re.fullmatch(r"\d+\.\d", outputs.pop("duration-seconds"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", outputs.pop("deployed-at"))
    assert outputs.pop("deployed-by")
    assert re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]{6}", outputs.pop("deploy-id"))
    (host,) = json.loads(outputs.pop("hosts-json"))
    assert (host["host"], host["active_color"], host["status"]) == (
        f"{app.lab['host']}:{app.ssh_port}",
        after,
        "deployed",
    )
    assert outputs == {
        "canary": "",
        "active-color": after,
        "previous-color": "" if before == "none" else before,
        "status": "deployed",
        "image": image,
        "lock-holder": "",
        "certificate-expires": "",
        "switch-mode": "seamless",  # the lab's proxy image has njs
    }
    rows = check_summary(run.summary, app, "deployed", before, after, image)
    assert all("| ok |" in row for row in rows)


def test_image_deploys_v1_then_v2(action_image: str, app: App, tmp_path: Path) -> None:
    key = encrypted_lab_key(app.lab)
    workspace = lab_workspace(app.lab, tmp_path)
    images = app.lab["images"]

    first = run_action(action_image, workspace, {**lab_inputs(app, key), "image": images["v1"]})
    check_deploy(first, app, images["v1"], "none", "blue", key)
    assert app.get("/")[1] == {"version": "v1", "color": "blue"}

    second = run_action(action_image, workspace, {**lab_inputs(app, key), "image": images["v2"]})
    check_deploy(second, app, images["v2"], "blue", "green", key)
    assert app.get("/")[1] == {"version": "v2", "color": "green"}
    assert {"| drain | ok | N |", "| stop-old | ok | N |"} <= set(normalized(second.summary).splitlines())


def test_image_reports_a_failed_deploy_once(action_image: str, app: App, tmp_path: Path) -> None:
    key = encrypted_lab_key(app.lab)
    workspace = lab_workspace(app.lab, tmp_path)
    broken = app.lab["images"]["broken"]

    run = run_action(
        action_image, workspace, {**lab_inputs(app, key), "image": broken, "health-timeout": "10"}
    )

    assert run.exit_code == 1, run.log
    errors = error_lines(run.log)
    assert len(errors) == 1 and errors[0].startswith("::error::bluegreen deploy failed: blue "), run.log
    assert run.log.splitlines()[-1] == errors[0]
    assert_secrets_masked(run.log, [key, PASSPHRASE])
    assert_groups_balanced(run.log)
    outputs = parse_outputs(run.outputs)
    assert outputs.keys() == {"status", "duration-seconds", "hosts-json"} and outputs["status"] == "failed"
    (host,) = json.loads(outputs["hosts-json"])
    assert host["status"] == "failed", host
    rows = check_summary(run.summary, app, "failed", "—", "—", broken, switch_row="")
    assert rows[-1].startswith("| health | failed |") or rows[-1].startswith("| start | failed |"), rows
    message = unescape(errors[0].removeprefix("::error::"))
    assert run.summary.endswith(f"**Error**\n\n```text\n{message}\n```\n")


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_cancelled_run_cleans_up_and_reports_once(
    action_image: str, app: App, tmp_path: Path, signal_name: str
) -> None:
    """A cancelled job: GitHub's runner sends SIGINT to `docker run`, which passes it on to the
    entrypoint (PID 1); `docker stop` sends SIGTERM. Either way the new color is torn down and the
    cancellation is the one ::error::."""
    key = encrypted_lab_key(app.lab)
    workspace = lab_workspace(app.lab, tmp_path)
    files = file_commands(workspace)
    container = f"bluegreen-action-cancel-{os.getpid()}"
    inputs = {**lab_inputs(app, key), "image": app.lab["images"]["slow-start"]}
    argv, env = docker_run(action_image, workspace, inputs, files, name=container)
    lines: list[str] = []
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as run:
        assert run.stdout is not None
        for line in run.stdout:
            lines.append(line)
            # A group opens when its phase first prints: `start` prints when it ends, so the
            # stop lands while the slow-start app is in its health gate.
            if line.startswith("::group::start"):
                if signal_name == "SIGINT":
                    run.send_signal(signal.SIGINT)
                else:
                    subprocess.run(
                        ["docker", "stop", "--time", "60", container], capture_output=True, check=True
                    )
        exit_code = run.wait(timeout=120)
    log = "".join(lines)

    assert exit_code == 1, log
    assert "::group::start\n" in log and "health: FAILED" in log
    errors = error_lines(log)
    assert len(errors) == 1 and "cancelled" in errors[0] and signal_name in errors[0], log
    assert_groups_balanced(log)
    assert parse_outputs((files / "output").read_text())["status"] == "failed"
    projects = {f"{app.name}-blue", f"{app.name}-green"}
    left = subprocess.run(
        ["docker", "ps", "--all", "--format", '{{.Label "com.docker.compose.project"}}'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert projects.isdisjoint(left), left


def test_image_speaks_ssh_to_the_server(action_image: str, lab: dict[str, Any], tmp_path: Path) -> None:
    """The image's first bytes at the server are an SSH identification string. Its start-up time
    (docker run -> first SSH packet) is a target measured by `make bench` (bench/startup.py), not here."""
    workspace = lab_workspace(lab, tmp_path)
    inputs = {
        "host": "127.0.0.1",
        "username": "deploy",
        "ssh-key": Path(lab["ssh_key_file"]).read_text(),
        "insecure-skip-host-key-check": "true",
        "app-name": "startup",
        "compose-file": "deploy/compose.yml",
        "connect-timeout": "2",
    }
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(60)
        port = server.getsockname()[1]
        # The run fails once the fake server hangs up; only its first bytes count.
        argv, env = docker_run(action_image, workspace, {**inputs, "port": str(port)})
        runner = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        connection, _ = server.accept()
        with connection:
            first = connection.recv(64)
        runner.wait(timeout=60)
    assert first.startswith(b"SSH-2.0-"), first
