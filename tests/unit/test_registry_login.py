"""Private images: the login inputs, the pure commands, and the login around the pull in the
routine (fake host): a Docker config of the run's own, the password over stdin only, and nothing
left behind, whether the deploy succeeds, fails or is cancelled."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from bluegreen.config import parse_inputs
from bluegreen.deploy import Result, run_command
from bluegreen.errors import BluegreenError, Cancelled, InputError
from bluegreen.registry_login import (
    RegistryLogin,
    docker_login,
    make_login_dir,
    parse_registry_login,
    registry_of,
    remove_login_dirs,
)
from tests.unit.fake_host import FakeHost
from tests.unit.test_config import good
from tests.unit.test_routine_failures import IMAGE, Recorder, deployed, fake, workspace

__all__ = ["fake", "workspace"]  # fixtures

PASSWORD = "ghp_s3cret-Passw0rd"
LOGIN = RegistryLogin("ghcr.io", "octo", PASSWORD)


@pytest.mark.parametrize(
    ("image", "registry"),
    [
        ("ghcr.io/org/shop:1", "ghcr.io"),
        ("127.0.0.1:5000/shop:1", "127.0.0.1:5000"),
        ("localhost/shop", "localhost"),
        ("org/shop:1", "docker.io"),
        ("shop", "docker.io"),
    ],
)
def test_the_registry_defaults_to_the_one_in_the_image(image: str, registry: str) -> None:
    assert registry_of(image) == registry
    assert parse_registry_login("", "u", "p", image) == RegistryLogin(registry, "u", "p")


@pytest.mark.parametrize(
    ("inputs", "name", "problem"),
    [
        (("ghcr.io", "", "", "x"), "registry", "is set but `registry-username` is empty"),
        (("", "octo", "", "x"), "registry-password", "is empty but `registry-username` is set"),
        (("", "", "pw", "x"), "registry-username", "is empty but `registry-password` is set"),
        (("", "octo", "pw", ""), "registry", "is needed: `image` is empty"),
        (("https://ghcr.io", "octo", "pw", "x"), "registry", "is 'https://ghcr.io'"),
        (("", "-p", "pw", "x"), "registry-username", "is '-p'"),
    ],
)
def test_bad_login_inputs_are_one_error_each(
    inputs: tuple[str, str, str, str], name: str, problem: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_registry_login(*inputs)
    assert caught.value.input_name == name and caught.value.problem.startswith(problem), str(caught.value)


def test_the_commands_keep_the_password_off_the_command_line() -> None:
    assert shlex.join(docker_login("/srv/a/.registry-login.X", LOGIN)) == (
        "env DOCKER_CONFIG=/srv/a/.registry-login.X docker login --username octo --password-stdin ghcr.io"
    )
    assert shlex.join(make_login_dir("/srv/a")) == "mktemp -d /srv/a/.registry-login.XXXXXXXX"
    assert shlex.join(remove_login_dirs("/srv/a")) == (
        "find /srv/a -mindepth 1 -maxdepth 1 -name '.registry-login.*' -exec rm -rf -- '{}' +"
    )
    assert PASSWORD not in repr(LOGIN)


def deploy(fake: FakeHost, workspace: Path, recorder: Recorder, **inputs: str) -> Result:
    timing = {"health-timeout": "1", "drain-timeout": "1", "lock-timeout": "1"}
    raw = good(image=f"{IMAGE}:v2", **{"nginx-template": ""}, **timing, **inputs)
    return run_command(parse_inputs(raw, workspace), fake, recorder)


LOGIN_INPUTS = {"registry-username": "octo", "registry-password": PASSWORD}


def login_files(fake: FakeHost) -> list[str]:
    return [path for path in fake.files if "/.registry-login." in path]


def test_the_pull_uses_a_login_of_the_runs_own_and_leaves_nothing(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1")
    fake.registry_password = PASSWORD
    fake.clear_records()

    assert deploy(fake, workspace, Recorder(), **LOGIN_INPUTS).active_color == "green"

    (login,) = [argv for argv in fake.argvs if "login" in argv]
    config_dir = login[1].removeprefix("DOCKER_CONFIG=")
    assert config_dir.startswith(f"{fake.app_dir}/.registry-login.")
    (pull,) = [c for c in fake.compose_calls() if c.subcommand == "pull"]
    assert pull.env["DOCKER_CONFIG"] == config_dir
    assert not any(PASSWORD in " ".join(argv) for argv in fake.argvs)  # over stdin only
    assert login_files(fake) == [] and not any(
        path.startswith(f"{fake.home()}/.docker") for path in fake.files
    )
    assert [c.subcommand for c in fake.compose_calls() if "DOCKER_CONFIG" in c.env] == ["pull"]


def test_without_the_inputs_the_refused_pull_says_which_inputs_log_in(
    fake: FakeHost, workspace: Path
) -> None:
    deployed(fake, workspace, "v1")
    fake.registry_password = PASSWORD
    with pytest.raises(BluegreenError) as caught:
        deploy(fake, workspace, Recorder())
    assert str(caught.value) == (
        "pulling the images of green failed: registry.example.com refused the pull (Error response from "
        "daemon: no basic auth credentials); set `registry-username` and `registry-password` (and "
        "`registry`, unless `image` names it)"
    )


def test_a_wrong_password_is_one_error_naming_the_registry(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1")
    fake.registry_password = "the-right-one"
    with pytest.raises(BluegreenError) as caught:
        deploy(fake, workspace, Recorder(), **LOGIN_INPUTS)
    assert str(caught.value).startswith(
        "the login to the registry registry.example.com as octo failed on fake-host: Error response from "
        "daemon: login attempt to registry.example.com failed: unauthorized. Check `registry-username` and "
        "`registry-password`"
    )
    assert PASSWORD not in str(caught.value)
    assert login_files(fake) == []
    assert [c.subcommand for c in fake.compose_calls() if c.project == "shop-green"] == []


def test_a_cancel_during_the_pull_still_removes_the_login(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1")
    fake.registry_password = PASSWORD
    left: list[str] = []

    def cancel() -> None:
        left.extend(login_files(fake))
        raise Cancelled("cancelled by signal SIGTERM")

    fake.fail_command("pull", effect=cancel)
    with pytest.raises(Cancelled):
        deploy(fake, workspace, Recorder(), **LOGIN_INPUTS)
    assert left and left[-1].endswith("/config.json")  # it was there during the pull
    assert login_files(fake) == []


def test_a_login_a_killed_run_left_is_removed_by_the_next(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1")
    fake.registry_password = PASSWORD
    stale = f"{fake.app_dir}/.registry-login.ab12cd34/config.json"
    fake.files[stale] = b'{"auths": {"x": "octo:old"}}'
    deploy(fake, workspace, Recorder(), **LOGIN_INPUTS)
    assert login_files(fake) == []
