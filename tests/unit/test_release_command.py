"""`release-command`: parsed against the compose files, run once before the new color starts, and a
failure leaves the host as it was (driven through the real routine against the fake host)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path

import pytest

from bluegreen.commands import Compose
from bluegreen.config import Config, parse_inputs
from bluegreen.containers import project_states, running_colors
from bluegreen.deploy import Result, run_command
from bluegreen.docker_state import ONE_OFF_LABEL
from bluegreen.errors import BluegreenError, CommandTimedOut, InputError
from bluegreen.host import CommandResult
from tests.unit.fake_host import FakeHost, routed_by
from tests.unit.test_config import good
from tests.unit.test_routine_failures import (
    BLUE,
    GREEN,
    IMAGE,
    LIVE_CONFIG,
    STATE,
    Recorder,
    deployed,
    fake,
    workspace,
)

__all__ = ["fake", "workspace"]  # fixtures

TWO_SERVICES = """services:
  web:
    image: ${BLUEGREEN_IMAGE}
    ports: ['127.0.0.1:${BLUEGREEN_PORT}:8000']
  worker:
    image: ${BLUEGREEN_IMAGE}
  db:
    image: postgres:16
"""


def config(workspace: Path, version: str = "v2", **inputs: str) -> Config:
    timing = {"health-timeout": "1", "drain-timeout": "1", "lock-timeout": "1"}
    raw = good(image=f"{IMAGE}:{version}", **{"nginx-template": ""}, **timing, **inputs)
    return parse_inputs(raw, workspace)


def deploy(fake: FakeHost, workspace: Path, recorder: Recorder, **inputs: str) -> Result:
    return run_command(config(workspace, **inputs), fake, recorder)


def test_the_command_runs_in_a_one_off_container_alone() -> None:
    compose = Compose(("docker", "compose"), "shop-green", ("/srv/shop/green/compose.yml",), {})
    assert shlex.join(compose.run_once("web", ("python", "manage.py", "migrate"))) == (
        "docker compose -p shop-green -f /srv/shop/green/compose.yml run --rm --no-deps -T web "
        "python manage.py migrate"
    )


def test_no_release_command_by_default(workspace: Path) -> None:
    assert config(workspace).release_command is None


def test_the_only_service_is_the_default_and_the_command_is_split_as_a_shell_would(workspace: Path) -> None:
    release = config(workspace, **{"release-command": "sh -c 'echo \"a b\" && migrate'"}).release_command
    assert release is not None
    assert (release.service, release.argv) == ("web", ("sh", "-c", 'echo "a b" && migrate'))


def test_not_parsed_for_a_rollback(workspace: Path) -> None:
    raw = good(
        command="rollback", **{"nginx-template": "", "release-command": "migrate", "release-service": "nope"}
    )
    assert parse_inputs(raw, workspace).release_command is None


@pytest.mark.parametrize(
    ("inputs", "name", "problem"),
    [
        ({"release-service": "web"}, "release-service", "is set but `release-command` is empty"),
        ({"release-command": "migrate 'oops"}, "release-command", "cannot be split into words"),
        ({"release-command": "migrate"}, "release-service", "several services (web, worker)"),
        ({"release-command": "migrate", "release-service": "db"}, "release-service", "a shared service"),
        ({"release-command": "migrate", "release-service": "api"}, "release-service", "do not define"),
    ],
)
def test_bad_release_inputs_are_one_error_naming_the_input(
    workspace: Path, inputs: dict[str, str], name: str, problem: str
) -> None:
    (workspace / "deploy" / "compose.yml").write_text(TWO_SERVICES)
    with pytest.raises(InputError) as caught:
        config(workspace, **{"shared-services": "db"}, **inputs)
    assert caught.value.input_name == name and problem in caught.value.problem, str(caught.value)


def test_the_command_runs_after_the_pull_and_before_the_new_color_starts(
    fake: FakeHost, workspace: Path
) -> None:
    deployed(fake, workspace, "v1")
    fake.clear_records()
    recorder = Recorder()

    result = deploy(fake, workspace, recorder, **{"release-command": "python manage.py migrate"})

    assert result.active_color == "green"
    calls = [(c.project, c.subcommand, c.args) for c in fake.compose_calls() if c.project == GREEN]
    one_off = calls[1][2][4]
    assert re.fullmatch(r"shop-green-release-[0-9a-f]{8}", one_off), one_off  # found by it on a timeout
    assert calls[:3] == [
        (GREEN, "pull", ["--quiet"]),
        (
            GREEN,
            "run",
            ["--rm", "--no-deps", "-T", "--name", one_off, "web", "python", "manage.py", "migrate"],
        ),
        (GREEN, "up", ["--detach", "--remove-orphans"]),
    ]
    assert "release command: python manage.py migrate (service web)" in recorder.infos
    assert (
        f"release command: ran --rm --no-deps -T --name {one_off} web python manage.py migrate"
        in recorder.infos
    )


def test_a_failed_release_command_fails_the_deploy_and_changes_nothing(
    fake: FakeHost, workspace: Path
) -> None:
    deployed(fake, workspace, "v1", "v2", "v3")  # blue live, green kept (stopped) for a rollback
    kept = [c.id for c in fake.engine.project(GREEN)]
    config_before, state_before = fake.files[LIVE_CONFIG], fake.files[STATE]
    fake.clear_records()
    fake.fail_command(GREEN, "run", exit_code=3, stderr='relation "users" already exists\nmigration failed')
    recorder = Recorder()

    with pytest.raises(BluegreenError) as caught:
        deploy(fake, workspace, recorder, **{"release-command": "migrate"})

    assert str(caught.value) == (
        "the release command failed (exit 3): migrate (service web)\n"
        'relation "users" already exists\nmigration failed'
    )
    assert (caught.value.live_color, caught.value.target_color) == ("blue", "green")
    assert ("start", False) in recorder.phases
    assert [c.subcommand for c in fake.compose_calls()] == ["pull", "run"]
    assert [c.id for c in fake.engine.project(GREEN)] == kept
    assert fake.engine.statuses(GREEN) == ["exited"] and fake.engine.statuses(BLUE) == ["running"]
    assert (fake.files[LIVE_CONFIG], fake.files[STATE]) == (config_before, state_before)
    assert routed_by(fake.files[LIVE_CONFIG]) == fake.proxy_route() == "blue"


def test_a_one_off_left_running_by_a_cancelled_deploy_is_no_container_of_its_color(
    fake: FakeHost, workspace: Path
) -> None:
    deployed(fake, workspace, "v1")
    one_off = fake.engine.create(GREEN, "web", f"{IMAGE}:v2")
    one_off.labels[ONE_OFF_LABEL] = "True"
    one_off.start()
    assert project_states(fake.docker(), GREEN) == []
    assert running_colors(fake.docker(), "shop") == {"blue"}


def test_a_release_command_past_release_timeout_is_stopped_removed_and_fails_the_deploy(
    fake: FakeHost, workspace: Path
) -> None:
    deployed(fake, workspace, "v1")
    config_before, state_before = fake.files[LIVE_CONFIG], fake.files[STATE]
    fake.clear_records()
    timeouts: list[float] = []

    def outlast() -> None:
        fake.one_offs[fake.last_one_off] = "migrating 1/3\nmigrating 2/3\n"
        raise CommandTimedOut("command timed out after 2 s on fake-host: docker compose run ...")

    fake.fail_command(GREEN, "run", effect=outlast)
    original_run = fake.run

    def run(argv: Sequence[str], *, timeout: float = 600, stdin: bytes = b"") -> CommandResult:
        if "run" in argv and "--name" in argv:
            timeouts.append(timeout)
        return original_run(argv, timeout=timeout, stdin=stdin)

    fake.run = run  # type: ignore[method-assign]
    with pytest.raises(BluegreenError) as caught:
        deploy(fake, workspace, Recorder(), **{"release-command": "migrate", "release-timeout": "2"})

    name = fake.last_one_off
    assert timeouts == [2.0]
    assert str(caught.value) == (
        "the release command migrate (service web) ran longer than 2 s (release-timeout): its container "
        "was stopped and removed; the new color was not started and nothing else changed. Its last "
        "lines:\nmigrating 1/3\nmigrating 2/3"
    )
    assert [argv[:2] for argv in fake.argvs if argv[-1] == name] == [
        ("docker", "logs"),
        ("docker", "stop"),
        ("docker", "rm"),
        ("docker", "container"),
    ]
    assert fake.one_offs == {}
    assert [c.subcommand for c in fake.compose_calls()] == ["pull", "run"]  # green never started
    assert (fake.files[LIVE_CONFIG], fake.files[STATE]) == (config_before, state_before)
    assert fake.engine.statuses(BLUE) == ["running"]


def test_release_timeout_defaults_to_600_seconds(workspace: Path) -> None:
    release = config(workspace, **{"release-command": "migrate"}).release_command
    assert release is not None and release.timeout == 600.0
