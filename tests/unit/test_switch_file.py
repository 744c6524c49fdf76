"""Issue 17, findings 1 and 2, through the real routine against the fake host in seamless mode: the
active-color file missing, empty, naming no color, or unreadable for nginx's workers while green
is live. `status` says so; a deploy or rollback rewrites it to what nginx serves; a switch nginx's
workers could not see is refused before it happens, naming the directory and its mode; the proxy's
directory is made 0755 whatever the server's umask."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bluegreen.deploy import run_command
from bluegreen.errors import BluegreenError, UnreadableFile
from bluegreen.routing import active_file
from tests.unit.fake_host import FakeHost
from tests.unit.test_routine_failures import APP_DIR, Recorder, config, workspace

__all__ = ["workspace"]  # the fixture, used by name

ACTIVE = f"{APP_DIR}/nginx/active"
NGINX_DIR = f"{APP_DIR}/nginx"


@pytest.fixture
def green_live(workspace: Path) -> Iterator[FakeHost]:
    """Two seamless deploys: green serves, blue is stopped."""
    host = FakeHost()
    host.njs = True
    for version in ("v1", "v2"):
        result = run_command(config(workspace, "deploy", version), host, Recorder())
        assert (result.active_color, result.switch_mode) == (
            ("blue", "seamless") if version == "v1" else ("green", "seamless")
        )
    assert host.files[ACTIVE] == active_file("shop", "green")
    yield host
    assert host.unscripted == [], "the routine ran commands the fake has no script for"


BROKEN = {
    "deleted": None,
    "empty": b"",
    "garbage": b"garbage\n",
    "partial name": b"bluegreen_shop_gre\n",
}


def break_file(host: FakeHost, how: str) -> None:
    if BROKEN[how] is None:
        del host.files[ACTIVE]
    else:
        host.files[ACTIVE] = BROKEN[how]  # type: ignore[assignment]


@pytest.mark.parametrize("how", BROKEN)
def test_status_says_when_the_active_file_names_no_color(
    green_live: FakeHost, workspace: Path, how: str
) -> None:
    break_file(green_live, how)
    assert green_live.proxy_route() == "green"  # njs keeps the last color it read
    reporter = Recorder()
    result = run_command(config(workspace, "status"), green_live, reporter)
    assert result.active_color == "green"
    warned = [w for w in reporter.warnings if ACTIVE in w]
    assert len(warned) == 1, reporter.warnings
    assert "nginx serves green" in warned[0]
    assert "the next deploy or rollback rewrites the file" in warned[0]
    assert green_live.files.get(ACTIVE) == BROKEN[how]  # status changes nothing


@pytest.mark.parametrize("how", BROKEN)
@pytest.mark.parametrize("command", ["deploy", "rollback"])
def test_deploy_and_rollback_rewrite_a_broken_active_file_to_what_nginx_serves(
    green_live: FakeHost, workspace: Path, how: str, command: str
) -> None:
    break_file(green_live, how)
    green_live.clear_records()
    reporter = Recorder()
    result = run_command(config(workspace, command, "v3"), green_live, reporter)
    assert result.active_color == "blue"
    assert [w for w in reporter.warnings if ACTIVE in w] == [
        f"the active-color file {ACTIVE} "
        + {
            "deleted": "is missing",
            "empty": "is empty",
            "garbage": "says 'garbage', which names no color of shop",
            "partial name": "says 'bluegreen_shop_gre', which names no color of shop",
        }[how]
        + "; nginx serves green: the file is rewritten to name green"
    ]
    active_writes = [path for path in green_live.writes if path == ACTIVE]
    assert len(active_writes) == 2  # the repair (green), then the switch (blue)
    assert green_live.files[ACTIVE] == active_file("shop", "blue")


def test_a_repaired_file_stays_when_the_deploy_fails_before_the_switch(
    green_live: FakeHost, workspace: Path
) -> None:
    del green_live.files[ACTIVE]
    green_live.fail_command("up", "--detach", "shop-blue", stderr="pull failed")
    with pytest.raises(BluegreenError):
        run_command(config(workspace, "deploy", "v3"), green_live, Recorder())
    assert green_live.files[ACTIVE] == active_file("shop", "green")
    assert green_live.proxy_route() == "green"


def test_a_switch_nginx_workers_could_not_see_is_refused_naming_the_directory_and_its_mode(
    green_live: FakeHost, workspace: Path
) -> None:
    """chmod 750 of the proxy's directory while green is live: traffic stays on green (njs keeps
    the last color it read), status says why, and the next deploy fails before its switch."""
    green_live.unreadable_by_nginx.add(ACTIVE)
    green_live.dir_modes[NGINX_DIR] = 0o750
    assert green_live.proxy_route() == "green"
    reporter = Recorder()
    run_command(config(workspace, "status"), green_live, reporter)
    assert any("cannot read" in w and f"{NGINX_DIR} is mode 0750" in w for w in reporter.warnings)

    green_live.clear_records()
    with pytest.raises(BluegreenError) as caught:
        run_command(config(workspace, "deploy", "v3"), green_live, Recorder())
    message = str(caught.value)
    assert "nginx's worker processes in shop-proxy-nginx-1 (uid:gid 101:101) cannot read" in message
    assert f"{NGINX_DIR} is mode 0750, owner deploy:deploy" in message
    assert f"{ACTIVE} is mode 0644, owner deploy:deploy" in message
    assert f"chmod o+x {NGINX_DIR}" in message
    assert "nothing was switched" in message
    assert ACTIVE not in green_live.writes  # never switched
    assert green_live.proxy_route() == "green"
    assert "running" not in green_live.engine.statuses("shop-blue")


def test_an_active_file_only_nginx_cannot_read_is_replaced_by_the_switch(
    green_live: FakeHost, workspace: Path
) -> None:
    """chmod 600 of the file itself: status says nginx cannot read it; a deploy is not refused
    (its switch writes a new file, 0644, in a directory nginx's workers can search) and switches."""
    green_live.unreadable_by_nginx.add(ACTIVE)
    green_live.modes[ACTIVE] = 0o600
    reporter = Recorder()
    run_command(config(workspace, "status"), green_live, reporter)
    assert any(f"cannot read {ACTIVE} ({NGINX_DIR} is mode 0755" in w for w in reporter.warnings), (
        reporter.warnings
    )
    result = run_command(config(workspace, "deploy", "v3"), green_live, Recorder())
    assert result.active_color == "blue"
    assert green_live.proxy_route() == "blue"
    assert green_live.modes[ACTIVE] == 0o644


def test_status_says_when_bluegreen_itself_cannot_read_the_active_file(
    green_live: FakeHost, workspace: Path
) -> None:
    green_live.read_failures[ACTIVE] = UnreadableFile(ACTIVE, "permission denied for deploy")
    reporter = Recorder()
    result = run_command(config(workspace, "status"), green_live, reporter)
    assert result.active_color == "green"
    assert any(
        f"the active-color file {ACTIVE} cannot be read by bluegreen" in w and "nginx serves green" in w
        for w in reporter.warnings
    ), reporter.warnings


def test_the_proxy_directory_is_made_0755_and_the_switch_files_0644(green_live: FakeHost) -> None:
    assert ("mkdir", "-p", "-m", "0755", "--", NGINX_DIR, f"{APP_DIR}/proxy") in green_live.argvs
    assert green_live.modes[ACTIVE] == 0o644
    assert green_live.modes[f"{NGINX_DIR}/bluegreen.js"] == 0o644


def test_the_module_names_the_color_switched_to_once_it_serves(green_live: FakeHost, workspace: Path) -> None:
    """The njs module's last resort (after a restart with no readable file) is the live color:
    the color switched to, and the old one again after a switch-back."""
    module = green_live.files[f"{NGINX_DIR}/bluegreen.js"]
    assert b'? name : "bluegreen_shop_green";' in module
    green_live.answers[green_live.http_port] = (502, {})
    with pytest.raises(BluegreenError):
        run_command(config(workspace, "deploy", "v3"), green_live, Recorder())
    assert green_live.files[f"{NGINX_DIR}/bluegreen.js"] == module
    assert green_live.files[ACTIVE] == active_file("shop", "green")
