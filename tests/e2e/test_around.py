"""Around the switch, in the lab: a private image from the login-only registry, smoke paths on the
new color (under load), a release command that outlasts `release-timeout`, and the notifications
a real HTTP server receives. One app serves every case, in order (CI time matters)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from lab.inputs import as_action_inputs, deploy_inputs
from lab.traffic import Record, describe_failures, failures
from tests.action.runner import input_env, parse_outputs
from tests.e2e.apps import ROOT, App, Run, error_lines, live, project_running, reset, under_load
from tests.unit.test_notify import hook_server, silent_port

__all__ = ["silent_port"]  # a fixture

pytestmark = pytest.mark.lab

SLOW_RELEASE = "python3 -c \"import time; print('migrating users', flush=True); time.sleep(120)\""


@pytest.fixture(scope="module")
def app(lab: dict[str, Any]) -> Iterator[App]:
    app = App(lab, name="around", http_port=21710, blue_port=21711, green_port=21712)
    reset(app)
    app.deploy(lab["images"]["v1"]).expect_ok()  # blue serves v1
    yield app
    reset(app)


def deploy_notified(
    deploy: Callable[[dict[str, str]], Run], app: App
) -> tuple[Run, list[Record], list[dict[str, Any]]]:
    """`deploy(inputs)` under load, with a webhook server started here: the run, the traffic's
    records, and the bodies the webhook received."""
    server, url = hook_server(200)
    try:
        run, records = under_load(lambda: deploy({"webhook-url": url}), app)
    finally:
        server.shutdown()
        server.server_close()
    print(json.dumps({"requests": len(records), "failed": len(failures(records))}))
    return run, records, server.received.bodies


def action_deploy(app: App, image: str, workspace: Path, **more: str) -> Run:
    """A deploy through the action's entry point, as the runner starts it (INPUT_* variables); its
    stdout is the workflow log; the outputs and the job summary are files in `workspace`."""
    values = {
        **deploy_inputs(app.lab, app.name, app.http_port, app.blue_port, app.green_port),
        "image": image,
    }
    env = {
        **input_env({**as_action_inputs(values), "health-timeout": "60", **more}),
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "GITHUB_WORKSPACE": str(ROOT),
        "GITHUB_OUTPUT": str(workspace / "output"),
        "GITHUB_STEP_SUMMARY": str(workspace / "summary"),
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "entrypoint.py")], env=env, capture_output=True, text=True, timeout=600
    )
    return Run(done.returncode, done.stdout, done.stderr)


def files_holding(root: Path, secrets: list[bytes]) -> list[str]:
    """Files under root whose bytes hold any of the secrets (unreadable files are reported too)."""
    found = []
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and any(s in path.read_bytes() for s in secrets):
                found.append(str(path))
        except OSError as exc:
            found.append(f"{path}: {exc}")
    return found


def test_a_private_image_is_pulled_with_a_login_of_the_runs_own_and_none_is_left(
    app: App, lab: dict[str, Any], silent_port: int
) -> None:
    private = lab["private_registry"]
    image, username, password = private["image"], private["username"], private["password"]
    login = {"registry-username": username, "registry-password": password}

    without = app.deploy(image)
    (line,) = error_lines(without)
    assert without.exit_code == 1 and "Traceback" not in without.stderr
    assert f"{private['address']} refused the pull" in line and "`registry-username`" in line, line

    wrong = app.deploy(image, **{**login, "registry-password": "not-the-password"})
    (line,) = error_lines(wrong)
    assert wrong.exit_code == 1
    assert line.startswith(f"error: the login to the registry {private['address']} as {username} failed"), (
        line
    )
    assert live(app) == ("v1", "blue")

    webhook = {"webhook-url": f"http://127.0.0.1:{silent_port}/hook", "webhook-timeout": "0.5"}
    run = app.deploy(image, **login, **webhook)
    assert run.expect_ok()["active_color"] == "green"
    assert live(app) == ("v2", "green")
    assert "WARNING: the notification was not delivered (TimeoutError: timed out, 4 attempt(s))" in run.stderr

    auth = base64.b64encode(f"{username}:{password}".encode())
    assert files_holding(Path(lab["remote_dir"]), [password.encode(), auth]) == []  # the deploy user's home
    assert list(app.app_dir.glob(".registry-login.*")) == []
    for done in (without, wrong, run):
        assert password not in done.stderr + done.stdout and str(silent_port) not in done.stderr


def test_a_failing_smoke_path_stops_the_deploy_before_the_switch_and_loses_nothing(
    app: App, lab: dict[str, Any]
) -> None:
    before = live(app)
    smoke = "/ ~ version\nGET /no-such-page"
    run, records, bodies = deploy_notified(
        lambda hook: app.deploy(lab["images"]["v1"], **{"smoke-paths": smoke, **hook}), app
    )

    assert run.exit_code == 1, run.stderr
    (line,) = error_lines(run)
    assert "smoke test failed on" in line and "before the switch (nginx was not touched)" in line, line
    assert 'GET /no-such-page answered HTTP 404, expected 2xx; body: {"error": "not found"}' in line, line
    assert "smoke: GET / -> HTTP 200 in " in run.stderr
    assert failures(records) == [], describe_failures(records)
    assert len(records) > 50
    assert live(app) == before
    (sent,) = bodies
    assert (sent["status"], sent["failed_phase"], sent["color_before"], sent["color_after"]) == (
        "failed",
        "smoke",
        before[1],
        before[1],
    )
    assert sent["error"] == line.removeprefix("error: ")


def test_good_smoke_paths_pass_under_load_and_are_in_the_job_summary(
    app: App, lab: dict[str, Any], tmp_path: Path
) -> None:
    before = live(app)
    smoke = '/ ~ "version": "v1"\nGET /health 200\nPOST /echo 200 ~ received\nGET /no-such-page 404'
    run, records, bodies = deploy_notified(
        lambda hook: action_deploy(app, lab["images"]["v1"], tmp_path, **{"smoke-paths": smoke, **hook}), app
    )

    assert run.exit_code == 0, run.stdout + run.stderr
    assert parse_outputs((tmp_path / "output").read_text())["status"] == "deployed"
    rows = [line for line in (tmp_path / "summary").read_text().splitlines() if line.startswith("| `")]
    assert [row.rsplit(" | ", 1)[0] for row in rows] == [
        '| `GET /` | 2xx ~ \'"version": "v1"\' | HTTP 200',
        "| `GET /health` | 200 | HTTP 200",
        "| `POST /echo` | 200 ~ 'received' | HTTP 200",
        "| `GET /no-such-page` | 404 | HTTP 404",
    ], rows
    assert (
        len([line for line in run.stdout.splitlines() if line.startswith(("smoke: GET", "smoke: POST"))]) == 4
    )
    assert "FAILED" not in run.stdout
    assert failures(records) == [], describe_failures(records)
    after = "blue" if before[1] == "green" else "green"
    assert live(app) == ("v1", after)
    (sent,) = bodies
    assert {k: sent[k] for k in ("status", "command", "app", "color_before", "color_after", "image")} == {
        "status": "deployed",
        "command": "deploy",
        "app": "around",
        "color_before": before[1],
        "color_after": after,
        "image": lab["images"]["v1"],
    }
    assert sent["hosts"] == ["127.0.0.1"] and sent["failed_phase"] == sent["error"] == ""
    assert f"deploy id {sent['deploy_id']}" in run.stdout
    assert sent["text"].startswith(
        f"bluegreen deploy of `around` on 127.0.0.1: *deployed* ({before[1]} → {after}"
    )
    shown = [line for line in run.stdout.splitlines() if not line.startswith("::add-mask::")]
    assert not [line for line in shown if "/hooks/T000/secret-token" in line]  # the URL is only masked


def test_a_release_command_past_release_timeout_is_stopped_removed_and_nothing_starts(
    app: App, lab: dict[str, Any]
) -> None:
    before = live(app)
    target = "blue" if before[1] == "green" else "green"
    target_ran = project_running(app, target)
    started = time.monotonic()
    run, records = under_load(
        lambda: app.deploy(lab["images"]["v2"], **{"release-command": SLOW_RELEASE, "release-timeout": "3"}),
        app,
    )
    took = time.monotonic() - started

    assert run.exit_code == 1, run.stderr
    (line,) = error_lines(run)
    assert "ran longer than 3 s (release-timeout): its container was stopped and removed" in line, line
    assert "migrating users" in run.stderr
    assert took < 60
    client = docker.from_env()
    left = client.containers.list(all=True, filters={"name": f"{app.name}-{target}-release-"})
    client.close()
    assert left == []
    assert project_running(app, target) is target_ran is False  # the new color never started
    assert failures(records) == [], describe_failures(records)
    assert live(app) == before
    print(json.dumps({"requests": len(records), "failed": len(failures(records))}))
