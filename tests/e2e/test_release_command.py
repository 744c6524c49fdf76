"""`release-command` in the lab, under load: it runs once, with the new release's image and
environment, before the new color starts; when it fails, nothing else changes and nothing is lost."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from lab.traffic import describe_failures, failures
from tests.e2e.apps import ROOT, App, error_lines, live, reset, under_load
from tests.e2e.test_truth import state_of

pytestmark = pytest.mark.lab

PRINT_RELEASE = (
    "python3 -c \"import os; print('migrating', os.environ['APP_VERSION'], os.environ['BLUEGREEN_COLOR'])\""
)
FAIL = "python3 -c \"import sys; print('relation users already exists'); sys.exit(3)\""


@pytest.fixture(params=["compose-v2", "compose-v1"])
def app(lab: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[App]:
    if request.param == "compose-v2":
        app = App(lab, name="release", http_port=18630, blue_port=18631, green_port=18632)
    else:
        app = App(lab, name="releasev1", http_port=18633, blue_port=18634, green_port=18635, compose_v1=True)
    reset(app)
    yield app
    reset(app)


def containers(app: App) -> dict[str, list[tuple[str, str]]]:
    """Each color's containers (id, status), one-offs included."""
    client = docker.from_env()
    found = {
        color: [
            (c.id or "", c.status)
            for c in client.containers.list(
                all=True, filters={"label": f"com.docker.compose.project={app.name}-{color}"}
            )
        ]
        for color in ("blue", "green")
    }
    client.close()
    return found


def test_the_release_command_runs_once_with_the_new_release_before_it_starts(
    app: App, lab: dict[str, Any]
) -> None:
    app.deploy(lab["images"]["v1"]).expect_ok()

    run, records = under_load(
        lambda: app.deploy(lab["images"]["v2"], **{"release-command": PRINT_RELEASE}), app
    )

    run.expect_ok()
    assert run.stderr.count("release command: migrating v2 green") == 1, run.stderr
    assert run.stderr.index("release command: migrating") < run.stderr.index("ok: start"), run.stderr
    assert failures(records) == [], describe_failures(records)
    assert live(app) == ("v2", "green")
    assert [status for _, status in containers(app)["green"]] == ["running"]  # the one-off is gone


def test_a_failed_release_command_changes_nothing_and_loses_nothing(app: App, lab: dict[str, Any]) -> None:
    app.deploy(lab["images"]["v1"]).expect_ok()
    app.deploy(lab["images"]["v2"]).expect_ok()  # green live, blue kept (stopped) for a rollback
    before, state_before = containers(app), state_of(app)

    run, records = under_load(lambda: app.deploy(lab["images"]["v1"], **{"release-command": FAIL}), app)

    assert run.exit_code == 1, run.stderr
    assert "Traceback" not in run.stderr
    (line,) = error_lines(run)
    assert "the release command failed (exit 3)" in line and "(service web)" in line, line
    assert "relation users already exists" in run.stderr
    assert failures(records) == [], describe_failures(records)
    assert live(app) == ("v2", "green")
    assert containers(app) == before  # blue's kept containers untouched, no one-off left
    assert state_of(app) == state_before
    assert app.run("rollback").exit_code == 0  # the kept color still rolls back
    assert live(app) == ("v1", "blue")


def test_a_cancelled_deploy_lets_a_running_release_command_finish(lab: dict[str, Any]) -> None:
    app = App(lab, name="releasecancel", http_port=18636, blue_port=18637, green_port=18638)
    reset(app)
    app.deploy(lab["images"]["v1"]).expect_ok()
    slow = "python3 -c \"import time; print('migrating', flush=True); time.sleep(4)\""
    argv = [
        sys.executable,
        "-m",
        "bluegreen",
        "deploy",
        *app.flags(lab["images"]["v2"], **{"release-command": slow}),
    ]
    with subprocess.Popen(
        argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT
    ) as run:
        assert run.stderr is not None
        for line in run.stderr:
            if "release command: " in line:
                time.sleep(1.0)
                run.send_signal(signal.SIGTERM)
                break
        assert run.wait(timeout=60) == 1
    (one_off,) = containers(app)["green"]
    assert one_off[1] == "running"  # the command goes on
    assert app.run("status").expect_ok()["active_color"] == "blue"  # a one-off is no running color
    deadline = time.monotonic() + 30
    while containers(app)["green"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert containers(app)["green"] == []  # ended, and removed (--rm)
    assert live(app) == ("v1", "blue")
    app.deploy(lab["images"]["v2"]).expect_ok()
    reset(app)
