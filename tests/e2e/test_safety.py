"""Faults, fault by fault, with traffic flowing: the old color keeps serving and nothing is lost."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from lab.traffic import Traffic, describe_failures, failures
from tests.e2e.apps import LOAD, ROOT, App, error_lines, live, project_running, reset, under_load, write

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def app(lab: dict[str, Any]) -> Iterator[App]:
    """An app serving v1 on blue, deployed once for the whole module."""
    app = App(lab, name="safe", http_port=18500, blue_port=18501, green_port=18502)
    reset(app)
    app.deploy(lab["images"]["v1"]).expect_ok()
    yield app
    reset(app)


def crash_looping_compose(lab: dict[str, Any], tmp_path: Path) -> str:
    text = Path(lab["compose_file"]).read_text()
    crash = '    command: ["python3", "-c", "import sys; sys.exit(3)"]\n    restart: unless-stopped\n'
    return write(tmp_path, "compose.yml", text.replace("    restart: unless-stopped\n", crash))


def template_with(lab: dict[str, Any], tmp_path: Path, old: str, new: str) -> str:
    text = Path(lab["nginx_template"]).read_text()
    assert old in text
    return write(tmp_path, "nginx.conf.j2", text.replace(old, new))


FAULTS: dict[str, tuple[Callable[[dict[str, Any], Path], dict[str, str]], str]] = {
    "health returns 500": (
        lambda lab, tmp: {"image": lab["images"]["broken"], "health-timeout": "4"},
        "green was not healthy within 4 s (health-timeout): GET 127.0.0.1:18502/health: HTTP 500",
    ),
    "crash loop": (
        lambda lab, tmp: {"compose-file": crash_looping_compose(lab, tmp)},
        "green did not start: container",
    ),
    "never healthy before health-timeout": (
        lambda lab, tmp: {"image": lab["images"]["slow-start"], "health-timeout": "2"},
        "green was not healthy within 2 s (health-timeout)",
    ),
    "image tag does not exist": (
        lambda lab, tmp: {"image": f"{lab['registry']}/bluegreen-demo:no-such-tag"},
        "pulling the images of green failed",
    ),
    "template fails to render": (
        lambda lab, tmp: {"nginx-template": write(tmp, "t.j2", "server {{ upstream_prot }};\n")},
        "error: --nginx-template: ",
    ),
    "nginx -t rejects the config": (
        lambda lab, tmp: {
            "nginx-template": template_with(
                lab, tmp, "proxy_http_version 1.1;", "proxy_http_version 1.1;\n            bogus on;"
            )
        },
        "nginx rejected the rendered config (nginx -t), nothing was switched",
    ),
    "nginx cannot load a config that passed nginx -t (port taken)": (
        lambda lab, tmp: {
            "nginx-template": template_with(
                lab,
                tmp,
                "listen 127.0.0.1:{{ listen_port }};",
                f"listen 127.0.0.1:{{{{ listen_port }}}};\n        listen 127.0.0.1:{lab['port']};",
            ),
        },
        "nginx did not load the new config within 10 s",
    ),
    "verification through nginx fails (config ignores the new color)": (
        lambda lab, tmp: {
            "nginx-template": template_with(lab, tmp, "{{ bluegreen_backend }}", "127.0.0.1:18501"),
        },
        "verification through nginx (127.0.0.1:18500/health) failed after the switch",
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_leaves_the_old_color_serving_and_loses_nothing(
    app: App, lab: dict[str, Any], tmp_path: Path, fault: str
) -> None:
    make_overrides, message = FAULTS[fault]
    overrides = {"image": lab["images"]["v2"], **make_overrides(lab, tmp_path)}
    image = overrides.pop("image")
    run, records = under_load(lambda: app.deploy(image, **overrides), app)

    assert run.exit_code == 1, run.stderr
    assert len(error_lines(run)) == 1, run.stderr
    assert message in error_lines(run)[0]
    assert failures(records) == [], describe_failures(records)
    assert live(app) == ("v1", "blue")
    assert not project_running(app, "green")


def test_failed_verification_with_a_dead_route_swaps_back(
    app: App, lab: dict[str, Any], tmp_path: Path
) -> None:
    """A config that passes nginx -t but routes nowhere: requests fail until the swap back, then recover."""
    template = template_with(lab, tmp_path, "{{ bluegreen_backend }}", "127.0.0.1:1")
    run = app.deploy(lab["images"]["v2"], **{"nginx-template": template})
    assert run.exit_code == 1
    assert (
        "verification through nginx (127.0.0.1:18500/health) failed after the switch: HTTP 502" in run.stderr
    )
    assert "switching nginx back to the previous config" in run.stderr
    assert live(app) == ("v1", "blue")
    assert not project_running(app, "green")


def deploy_process(app: App, image: str, **overrides: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "bluegreen", "deploy", *app.flags(image, **overrides), "--json"]
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_phase(process: subprocess.Popen[str], phase: str, lines: list[str]) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        lines.append(line)
        if f"==> {phase}" in line:
            return
    raise AssertionError("deploy ended before phase " + phase + ":\n" + "".join(lines))


def cut_ssh_sessions(server: str, user: str) -> None:
    """Kill the server side of every SSH session of `user` (this machine sees the container's PIDs)."""
    top = docker.from_env().containers.get(server).top()
    pid_at, cmd_at = top["Titles"].index("PID"), top["Titles"].index("CMD")
    sessions = [
        int(row[pid_at]) for row in top["Processes"] if f": {user}" in row[cmd_at] and "sshd" in row[cmd_at]
    ]
    assert sessions, top["Processes"]
    for pid in sessions:
        with contextlib.suppress(ProcessLookupError):  # a short command's session may have ended
            os.kill(pid, signal.SIGKILL)


def test_ssh_cut_mid_deploy_keeps_serving_and_the_next_deploy_succeeds(app: App, lab: dict[str, Any]) -> None:
    with Traffic(app.url, **LOAD) as load:  # type: ignore[arg-type]
        process = deploy_process(app, lab["images"]["slow-start"])
        lines: list[str] = []
        wait_for_phase(process, "health", lines)
        time.sleep(1.0)
        cut_ssh_sessions("bluegreen-lab-server-v2", "deploy")
        _, err = process.communicate(timeout=60)
        time.sleep(0.5)
    assert process.returncode == 1, "".join(lines) + err
    assert "error: " in err and "SSH connection" in err
    assert failures(load.records) == [], describe_failures(load.records)
    assert live(app) == ("v1", "blue")

    result = app.deploy(lab["images"]["v2"], **{"lock-timeout": "20"}).expect_ok()
    assert (result["active_color"], live(app)) == ("green", ("v2", "green"))
    app.deploy(lab["images"]["v1"]).expect_ok()


def test_sigkilled_deploy_leaves_no_lock_and_the_next_deploy_succeeds(app: App, lab: dict[str, Any]) -> None:
    with Traffic(app.url, **LOAD) as load:  # type: ignore[arg-type]
        process = deploy_process(app, lab["images"]["slow-start"])
        wait_for_phase(process, "health", [])
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        time.sleep(0.5)
        started = time.monotonic()
        result = app.deploy(lab["images"]["v2"], **{"lock-timeout": "20"}).expect_ok()
        took = time.monotonic() - started
        time.sleep(1.0)
    assert took < 20, "the next deploy waited for a lock the killed one held"
    assert failures(load.records) == [], describe_failures(load.records)
    assert (result["active_color"], live(app)) == ("green", ("v2", "green"))
    app.deploy(lab["images"]["v1"]).expect_ok()


def test_a_second_deploy_waits_for_the_lock_then_names_the_holder(app: App, lab: dict[str, Any]) -> None:
    first = deploy_process(app, lab["images"]["slow-start"])
    wait_for_phase(first, "health", [])
    second = app.deploy(lab["images"]["v2"], **{"lock-timeout": "2"})
    _, err = first.communicate(timeout=120)
    assert second.exit_code == 1
    assert len(error_lines(second)) == 1
    assert "another deploy of safe holds the lock after 2 s (lock-timeout)" in error_lines(second)[0]
    assert '"actor": ' in second.stderr and '"command": "deploy"' in second.stderr
    assert first.returncode == 0, err
    assert live(app) == ("slow-start", "green")
    app.deploy(lab["images"]["v1"]).expect_ok()


def test_rollback_and_status(app: App, lab: dict[str, Any]) -> None:
    app.deploy(lab["images"]["v2"]).expect_ok()
    assert live(app) == ("v2", "green")

    run, records = under_load(lambda: app.run("rollback"), app)
    result = run.expect_ok()
    assert failures(records) == [], describe_failures(records)
    assert (result["status"], result["active_color"], result["previous_color"]) == (
        "rolled-back",
        "blue",
        "green",
    )
    assert result["image"] == lab["images"]["v1"]
    assert live(app) == ("v1", "blue")

    status = app.run("status").expect_ok()
    assert (status["status"], status["active_color"], status["image"], status["lock_holder"]) == (
        "ok", "blue", lab["images"]["v1"], "",
    )  # fmt: skip

    audit = (app.app_dir / "audit.log").read_text().splitlines()
    assert '"result": "rolled-back"' in audit[-1] and '"to": "blue"' in audit[-1]
    assert '"command": "rollback"' in audit[-1]
