"""The routine's error paths that the real lab cannot provoke, driven through the real
`run_command` / `Deployment` against tests/unit/fake_host.py (a Host that records argv, files and
Docker calls). Nothing of bluegreen is patched: failures are injected only at the host's edge
(a command's exit code, a file write, a Docker API call, an HTTP answer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from bluegreen import commands
from bluegreen.config import DEFAULT_TEMPLATE, Config, parse_inputs
from bluegreen.deploy import Result, run_command
from bluegreen.errors import Cancelled, Failure, UnreadableFile
from tests.unit.fake_host import MUTATIONS, FakeHost, routed_by
from tests.unit.test_config import good

APP_DIR = "/home/deploy/bluegreen/shop"
STATE = f"{APP_DIR}/state.json"
LIVE_CONFIG = f"{APP_DIR}/nginx/nginx.conf"
NEXT_CONFIG = f"{APP_DIR}/nginx/nginx.conf.next"
LOCK_HOLDER = f"{APP_DIR}/.lock-holder"
AUDIT = f"{APP_DIR}/audit.log"
IMAGE = "registry.example.com/shop"
BLUE, GREEN, PROXY = "shop-blue", "shop-green", "shop-proxy"


class Recorder:
    """A Reporter that keeps what it is told."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, bool]] = []
        self.infos: list[str] = []
        self.warnings: list[str] = []

    def phase_started(self, name: str) -> None:
        pass

    def phase_ended(self, name: str, seconds: float, ok: bool) -> None:
        self.phases.append((name, ok))

    def info(self, message: str) -> None:
        self.infos.append(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "compose.yml").write_text(
        "services:\n  web:\n    image: ${BLUEGREEN_IMAGE}\n    ports: ['127.0.0.1:${BLUEGREEN_PORT}:8000']\n"
    )
    return tmp_path


@pytest.fixture
def fake() -> Iterator[FakeHost]:
    host = FakeHost()
    yield host
    assert host.unscripted == [], "the routine ran commands the fake has no script for"
    assert all(held.closed for held in host.holds), "a run left the deploy lock held"


def config(workspace: Path, command: str = "deploy", version: str = "v1") -> Config:
    timing = {"health-timeout": "1", "drain-timeout": "1", "lock-timeout": "1"}
    inputs = good(command=command, image=f"{IMAGE}:{version}", **{"nginx-template": ""}, **timing)
    return parse_inputs(inputs, workspace)  # the built-in nginx template


def run(fake: FakeHost, workspace: Path, command: str = "deploy", version: str = "v1") -> Result:
    return run_command(config(workspace, command, version), fake, Recorder())


def fails(
    fake: FakeHost, workspace: Path, command: str = "deploy", version: str = "v1", clear: bool = True
) -> Failure:
    """Run a command that must fail; what was recorded before it is forgotten first."""
    if clear:
        fake.clear_records()
    with pytest.raises(Failure) as caught:
        run(fake, workspace, command, version)
    return caught.value


def deployed(fake: FakeHost, workspace: Path, *versions: str) -> None:
    """Deploy each version in turn: v1 -> blue, v2 -> green, v3 -> blue, ..."""
    for version in versions:
        result = run(fake, workspace, "deploy", version)
        assert (result.status, result.image) == ("deployed", f"{IMAGE}:{version}")


def state(fake: FakeHost) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(fake.files[STATE])
    return loaded


def mutations(fake: FakeHost) -> list[tuple[str, str]]:
    return fake.engine.ops(*MUTATIONS)


def server_error(why: str) -> docker.errors.APIError:
    return docker.errors.APIError("500 Server Error: Internal Server Error", explanation=why)


# ---- the fake itself: a clean deploy and its records -------------------------------------------


def test_two_deploys_through_the_fake(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1", "v2")
    assert state(fake) | {"deployed_at": "", "actor": ""} == {
        "active_color": "green",
        "previous_color": "blue",
        "image": f"{IMAGE}:v2",
        "previous_image": f"{IMAGE}:v1",
        "deployed_at": "",
        "actor": "",
    }
    assert routed_by(fake.files[LIVE_CONFIG]) == fake.proxy_route() == "green"
    assert (fake.engine.statuses(BLUE), fake.engine.statuses(GREEN)) == (["exited"], ["running"])
    assert len(fake.files[AUDIT].splitlines()) == 2
    assert NEXT_CONFIG not in fake.files


def releases_of(fake: FakeHost, color: str) -> set[str]:
    folder = f"{APP_DIR}/{color}/releases/"
    return {path[len(folder) :].split("/", 1)[0] for path in fake.files if path.startswith(folder)}


def test_a_colors_older_releases_are_removed_once_it_serves(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1", "v2")
    (first_blue,) = releases_of(fake, "blue")
    assert len(releases_of(fake, "green")) == 1
    routed_at_removal: list[str | None] = []
    removal, note = commands._REMOVE_OLDER_RELEASES, lambda: routed_at_removal.append(fake.proxy_route())
    fake.fail_command(removal, exit_code=0, effect=note)
    deployed(fake, workspace, "v3")
    assert routed_at_removal == ["blue"], "removed only once nginx serves the new release (not before)"
    fake.command_failures.clear()
    deployed(fake, workspace, "v4", "v5")
    (last_blue,) = releases_of(fake, "blue")
    assert last_blue != first_blue


# ---- after a verified switch: the switch stands --------------------------------------------------


def assert_switch_stands(fake: FakeHost, exc: Failure, step: str, why: str) -> None:
    """After a verified, recorded switch to green: the error says so, and blue still runs."""
    assert str(exc) == (
        f'{step} failed after the switch: 500 Server Error: Internal Server Error ("{why}"). '
        "green serves (verified and recorded); blue may still run (the next deploy replaces it)"
    )
    assert (exc.live_color, exc.target_color) == ("green", "green")
    assert (state(fake)["active_color"], state(fake)["previous_color"]) == ("green", "blue")
    assert state(fake)["image"] == f"{IMAGE}:v2"
    assert fake.proxy_route() == "green"
    assert (fake.engine.statuses(BLUE), fake.engine.statuses(GREEN)) == (["running"], ["running"])


def test_stop_old_fails_after_a_verified_switch(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1")
    fake.engine.fail("stop", server_error("cannot stop container: permission denied"), project=BLUE)

    exc = fails(fake, workspace, version="v2")

    assert_switch_stands(fake, exc, "stop-old", "cannot stop container: permission denied")
    assert fake.engine.ops("stop", "remove") == [("stop", "shop-blue-web-1")]  # tried, nothing removed


def test_drain_fails_after_a_verified_switch(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1")

    def recorded_green() -> bool:  # drain comes after the record
        return STATE in fake.files and state(fake)["active_color"] == "green"

    fake.engine.fail("top", server_error("container is restarting"), project=PROXY, when=recorded_green)

    exc = fails(fake, workspace, version="v2")

    assert_switch_stands(fake, exc, "drain", "container is restarting")
    assert fake.engine.ops("stop", "remove") == []  # the old color was never stopped


def test_record_fails_after_a_verified_switch(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1")
    before = fake.files[STATE]
    fake.write_failures[STATE] = PermissionError(13, "Permission denied")

    exc = fails(fake, workspace, version="v2")

    assert str(exc) == (
        "record failed after the switch: [Errno 13] Permission denied. green serves (verified); "
        "blue may still run (the next deploy replaces it)"
    )
    assert exc.live_color == "green"
    assert fake.files[STATE] == before
    assert fake.proxy_route() == "green"
    assert fake.engine.statuses(BLUE) == ["running"]


# ---- verification fails: switch back --------------------------------------------------------------

VERIFY_FAILED = (
    "verification through nginx (127.0.0.1:80/health) failed after the switch: "
    "HTTP 502 from upstream 127.0.0.1:8082"
)


def nginx_answers_502_from_green(fake: FakeHost) -> None:
    fake.answers[80] = (502, {"X-Bluegreen-Upstream": "127.0.0.1:8082"})


def assert_both_colors_left_running(fake: FakeHost, exc: Failure, why: str) -> None:
    assert str(exc) == (
        f"{VERIFY_FAILED}; then switching nginx back failed ({why}): nginx may serve either color, "
        f"so both green and blue are left running. Check {LIVE_CONFIG} and `docker logs` of the "
        "proxy, then deploy again"
    )
    # active-color is what nginx answers from after the failed switch-back: green, in both cases
    assert (exc.live_color, exc.target_color) == ("green", "green")
    assert fake.engine.statuses(BLUE) == ["running"]
    assert fake.engine.statuses(GREEN) == ["running"]
    assert fake.engine.ops("remove", "stop") == []
    assert [c.subcommand for c in fake.compose_calls() if c.subcommand in ("down", "stop")] == []


def test_switch_back_fails_when_the_live_config_cannot_be_written(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1")
    state_before = fake.files[STATE]
    nginx_answers_502_from_green(fake)
    fake.write_failures[LIVE_CONFIG] = PermissionError(13, "Permission denied")

    exc = fails(fake, workspace, version="v2")

    assert_both_colors_left_running(fake, exc, "[Errno 13] Permission denied")
    assert fake.files[STATE] == state_before
    assert routed_by(fake.files[LIVE_CONFIG]) == fake.proxy_route() == "green"


def test_switch_back_fails_when_nginx_cannot_be_reloaded(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1")
    state_before = fake.files[STATE]
    nginx_answers_502_from_green(fake)

    def written_back() -> bool:  # the switch-back's HUP, not the switch's
        return routed_by(fake.files.get(LIVE_CONFIG)) == "blue"

    fake.engine.fail("kill", server_error("cannot kill container"), project=PROXY, when=written_back)

    exc = fails(fake, workspace, version="v2")

    assert_both_colors_left_running(
        fake, exc, '500 Server Error: Internal Server Error ("cannot kill container")'
    )
    assert fake.files[STATE] == state_before
    assert routed_by(fake.files[LIVE_CONFIG]) == "blue"
    assert fake.proxy_route() == "green"  # the HUP that would load blue again never arrived


def test_verification_fails_and_the_switch_back_works(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1")
    config_before, state_before = fake.files[LIVE_CONFIG], fake.files[STATE]
    nginx_answers_502_from_green(fake)

    exc = fails(fake, workspace, version="v2")

    assert str(exc) == VERIFY_FAILED
    assert (exc.live_color, exc.target_color) == ("blue", "green")
    assert fake.files[LIVE_CONFIG] == config_before
    assert fake.proxy_route() == "blue"
    assert fake.files[STATE] == state_before
    assert fake.engine.project(GREEN) == []
    assert fake.engine.ops("remove") == [("remove", "shop-green-web-1")]
    assert fake.engine.statuses(BLUE) == ["running"]
    assert NEXT_CONFIG not in fake.files


# ---- rollback refusals: nothing changed -----------------------------------------------------------


def assert_nothing_changed(
    fake: FakeHost, allowed_mutations: list[tuple[str, str]], writes: tuple[str, ...] = (LOCK_HOLDER,)
) -> None:
    assert fake.writes == list(writes)
    assert mutations(fake) == allowed_mutations
    assert fake.compose_calls() == []


def test_rollback_refused_without_a_state_file(fake: FakeHost, workspace: Path) -> None:
    exc = fails(fake, workspace, command="rollback")

    assert str(exc) == (
        "nothing to roll back to: no completed deploy of shop replaced a color (roll back only after "
        "a deploy that switched colors); nothing was changed"
    )
    assert (exc.live_color, exc.target_color) == ("", "")
    assert_nothing_changed(fake, [])
    assert STATE not in fake.files


def test_rollback_refused_after_a_first_deploy(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1")

    exc = fails(fake, workspace, command="rollback")

    assert str(exc).startswith("nothing to roll back to: no completed deploy of shop replaced a color")
    assert exc.live_color == "blue"
    assert_nothing_changed(fake, [])


def test_rollback_refused_when_the_previous_color_is_live(fake: FakeHost, workspace: Path) -> None:
    # v3 switches to blue but cannot record it: the state still says green, previous blue.
    deployed(fake, workspace, "v1", "v2")
    fake.write_failures[STATE] = PermissionError(13, "Permission denied")
    assert fails(fake, workspace, version="v3").live_color == "blue"
    del fake.write_failures[STATE]
    assert (state(fake)["active_color"], state(fake)["previous_color"]) == ("green", "blue")

    exc = fails(fake, workspace, command="rollback")

    assert str(exc) == (
        "nothing to roll back to: blue, the color the last completed deploy replaced, is the live "
        "color now (an earlier run was interrupted after its switch); deploy the version you want "
        "instead; nothing was changed"
    )
    assert exc.live_color == "blue"
    # nginx already serves what its config file says: not even a HUP
    assert_nothing_changed(fake, [])
    assert (fake.engine.statuses(BLUE), fake.engine.statuses(GREEN)) == (["running"], ["running"])


def test_rollback_refused_when_the_kept_containers_are_gone(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1", "v2")
    fake.engine.discard(BLUE)  # someone ran `docker rm` on the kept color

    exc = fails(fake, workspace, command="rollback")

    assert str(exc) == (
        "nothing to roll back to: blue is no longer kept on the host (its containers or its release "
        "record are gone); deploy the version you want instead; nothing was changed"
    )
    assert exc.live_color == "green"
    assert_nothing_changed(fake, [])


# ---- rollback fails before its switch -------------------------------------------------------------


def test_rollback_that_never_gets_healthy_stops_the_kept_color_again(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1", "v2")
    blue_ids = [c.id for c in fake.engine.project(BLUE)]
    config_before, state_before = fake.files[LIVE_CONFIG], fake.files[STATE]
    fake.answers[8081] = (503, {})

    exc = fails(fake, workspace, command="rollback")

    assert str(exc) == (
        "blue was not healthy within 1 s (health-timeout): GET 127.0.0.1:8081/health: HTTP 503 "
        "(see `docker compose -p shop-blue logs`)"
    )
    assert (exc.live_color, exc.target_color) == ("green", "blue")
    assert [c.id for c in fake.engine.project(BLUE)] == blue_ids  # kept, never removed
    assert fake.engine.statuses(BLUE) == ["exited"]
    assert fake.engine.ops("start", "stop", "remove") == [
        ("start", "shop-blue-web-1"),
        ("stop", "shop-blue-web-1"),
    ]
    assert fake.engine.statuses(GREEN) == ["running"]
    assert (fake.files[LIVE_CONFIG], fake.files[STATE]) == (config_before, state_before)
    assert fake.proxy_route() == "green"
    assert NEXT_CONFIG not in fake.files


# ---- Docker API errors ----------------------------------------------------------------------------


def test_docker_api_error_at_detect_is_one_error_and_changes_nothing(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1")
    fake.clear_records()
    fake.engine.fail("list", server_error("error during connect: the engine is restarting"))

    exc = fails(fake, workspace, version="v2")

    assert str(exc).startswith("the Docker engine on fake-host answered with an error: ")
    assert "the engine is restarting" in str(exc)
    assert_nothing_changed(fake, [], writes=())  # refused in the preflight, before the lock


# ---- a deploy that fails while starting the new color ---------------------------------------------

PORT_TAKEN = "Error response from daemon: Bind for 127.0.0.1:8082 failed: port is already allocated"


def test_compose_up_failure_removes_only_what_it_started(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1")
    config_before, state_before = fake.files[LIVE_CONFIG], fake.files[STATE]
    created: list[str] = []  # compose created green's container, then could not start it
    fake.fail_command(
        GREEN,
        "up",
        stderr=PORT_TAKEN,
        effect=lambda: created.append(fake.engine.create(GREEN, "web", f"{IMAGE}:v2").name),
    )

    exc = fails(fake, workspace, version="v2")

    assert str(exc).startswith("starting green failed (exit 1): env BLUEGREEN_APP=shop ")
    assert str(exc).endswith(f"\n{PORT_TAKEN}")
    assert (exc.live_color, exc.target_color) == ("blue", "green")
    assert fake.engine.ops("remove", "stop", "kill") == [("remove", name) for name in created]
    assert fake.engine.project(GREEN) == []
    assert fake.engine.statuses(BLUE) == ["running"]
    assert (fake.files[LIVE_CONFIG], fake.files[STATE]) == (config_before, state_before)
    assert fake.proxy_route() == "blue"
    assert NEXT_CONFIG not in fake.files
    assert [c.subcommand for c in fake.compose_calls()] == ["pull", "up"]


def test_compose_pull_failure_keeps_the_kept_colors_containers(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1", "v2", "v3")  # blue live, green kept (stopped) for a rollback
    kept = [c.id for c in fake.engine.project(GREEN)]
    config_before, state_before = fake.files[LIVE_CONFIG], fake.files[STATE]
    fake.fail_command(GREEN, "pull", stderr=f"Error response from daemon: manifest for {IMAGE}:v4 not found")

    exc = fails(fake, workspace, version="v4")

    assert str(exc).startswith("pulling the images of green failed (exit 1): ")
    assert (exc.live_color, exc.target_color) == ("blue", "green")
    assert (fake.files[LIVE_CONFIG], fake.files[STATE]) == (config_before, state_before)
    assert fake.proxy_route() == "blue"
    assert fake.engine.statuses(BLUE) == ["running"]
    assert [c.subcommand for c in fake.compose_calls()] == ["pull"]
    assert [c.id for c in fake.engine.project(GREEN)] == kept


# ---- a cancelled run is never taken for an unreadable file -----------------------------------------


def test_a_cancellation_while_reading_the_records_cancels_the_run(fake: FakeHost, workspace: Path) -> None:
    """SIGTERM raises Cancelled wherever the run is; reading the state file tolerates an unreadable
    file, never a cancellation (a deploy once went on after a SIGTERM in detect)."""
    deployed(fake, workspace, "v1")
    fake.read_failures[STATE] = Cancelled("cancelled by signal SIGTERM")
    fake.clear_records()

    exc = fails(fake, workspace, version="v2")

    assert isinstance(exc, Cancelled)
    assert fake.compose_calls() == []
    assert fake.engine.statuses(BLUE) == ["running"]


def test_an_unreadable_state_file_is_a_warning_and_the_containers_decide(
    fake: FakeHost, workspace: Path
) -> None:
    deployed(fake, workspace, "v1")
    fake.read_failures[STATE] = UnreadableFile(STATE, "it is not a regular file")

    result = run(fake, workspace, version="v2")

    assert (result.previous_color, result.active_color) == ("blue", "green")


# ---- a template bluegreen cannot verify through ----------------------------------------------------


def test_a_template_without_the_upstream_header_deploys_with_one_warning(
    fake: FakeHost, workspace: Path
) -> None:
    template = (DEFAULT_TEMPLATE.read_text()).replace(
        "add_header X-Bluegreen-Upstream $upstream_addr always;", ""
    )
    (workspace / "nginx.conf.j2").write_text(template)
    timing = {"health-timeout": "1", "drain-timeout": "1", "lock-timeout": "1"}
    inputs = good(command="deploy", image=f"{IMAGE}:v1", **{"nginx-template": "nginx.conf.j2"}, **timing)
    reporter = Recorder()

    result = run_command(parse_inputs(inputs, workspace), fake, reporter)

    assert result.active_color == "blue"
    weaker = [w for w in reporter.warnings if "sets no X-Bluegreen-Upstream header" in w]
    assert len(weaker) == 1, reporter.warnings
    assert "verification after the switch only sees a 2xx" in weaker[0]


# ---- the kept release survives a failed deploy; rollback serves it as it was recorded -------------

ENV_FILE = {color: f"{APP_DIR}/{color}/app.env" for color in ("blue", "green")}


def inputs(workspace: Path, command: str, version: str, **extra: str) -> Config:
    timing = {"health-timeout": "1", "drain-timeout": "1", "lock-timeout": "1"}
    values = {"nginx-template": "", **timing, **extra}
    return parse_inputs(good(command=command, image=f"{IMAGE}:{version}", **values), workspace)


def unreadable_after_nginx_t(fake: FakeHost) -> None:
    """`nginx -t` passes; from then on the live config cannot be read (the read just before the
    switch is the next one)."""
    broken = UnreadableFile(LIVE_CONFIG, "it is not a regular file")
    fake.fail_command(
        "nginx", "-t", exit_code=0, effect=lambda: fake.read_failures.update({LIVE_CONFIG: broken})
    )


def test_a_failed_read_just_before_the_switch_takes_the_new_color_away(
    fake: FakeHost, workspace: Path
) -> None:
    """Issue 16.3: the new color was left running and recorded; rollback then served that release,
    which had never served."""
    deployed(fake, workspace, "v1", "v2")  # green live, blue keeps v1 for a rollback
    state_before = fake.files[STATE]
    unreadable_after_nginx_t(fake)

    exc = fails(fake, workspace, version="v3")

    assert str(exc).startswith("the live nginx config cannot be read, so nothing was switched: ")
    assert (exc.live_color, exc.target_color) == ("green", "blue")
    assert [(c.image, c.status) for c in fake.engine.project(BLUE)] == [(f"{IMAGE}:v1", "created")]
    assert fake.engine.statuses(GREEN) == ["running"]
    assert fake.proxy_route() == "green"
    assert fake.files[STATE] == state_before

    del fake.read_failures[LIVE_CONFIG]
    fake.command_failures.clear()
    result = run(fake, workspace, "rollback")
    assert (result.status, result.active_color, result.image) == ("rolled-back", "blue", f"{IMAGE}:v1")
    assert fake.proxy_route() == "blue"


def test_a_deploy_that_fails_its_health_gate_keeps_the_rollback(fake: FakeHost, workspace: Path) -> None:
    """Issue 16.4: the failed deploy tore down the color it started in, which held the kept release:
    `rollback` then said "nothing to roll back to"."""
    deployed(fake, workspace, "v1", "v2", "v3")  # blue live (v3), green keeps v2, stopped
    env_before = fake.files[ENV_FILE["green"]]
    fake.answers[8082] = (503, {})

    exc = fails(fake, workspace, version="v4")

    assert str(exc).startswith("green was not healthy within 1 s (health-timeout)")
    assert [(c.image, c.status) for c in fake.engine.project(GREEN)] == [(f"{IMAGE}:v2", "created")]
    assert fake.files[ENV_FILE["green"]] == env_before
    assert fake.engine.statuses(BLUE) == ["running"]
    assert fake.proxy_route() == "blue"

    del fake.answers[8082]
    result = run(fake, workspace, "rollback")
    assert (result.status, result.active_color, result.image) == ("rolled-back", "green", f"{IMAGE}:v2")
    assert fake.proxy_route() == "green"
    assert fake.engine.statuses(GREEN) == ["running"]


def test_rollback_serves_the_recorded_template_and_port(fake: FakeHost, workspace: Path) -> None:
    """Issue 16.5: without nginx-template, rollback rendered the built-in template (the app's own
    headers gone); with another blue-port it health-checked a port nothing listens on."""
    header = "add_header X-Bluegreen-Upstream $upstream_addr always;"
    template = DEFAULT_TEMPLATE.read_text()
    assert header in template
    (workspace / "nginx.conf.j2").write_text(
        template.replace(header, f"{header}\n add_header X-Frame-Options DENY;")
    )
    for version in ("v1", "v2"):
        run_command(
            inputs(workspace, "deploy", version, **{"nginx-template": "nginx.conf.j2"}), fake, Recorder()
        )
    reporter = Recorder()

    result = run_command(inputs(workspace, "rollback", "v1", **{"blue-port": "8091"}), fake, reporter)

    assert (result.status, result.active_color, result.image) == ("rolled-back", "blue", f"{IMAGE}:v1")
    assert b"X-Frame-Options DENY" in fake.files[LIVE_CONFIG]
    assert fake.proxy_route() == "blue"
    assert any("blue listens on port 8081" in line for line in reporter.infos), reporter.infos

    # an nginx-template given on purpose overrides the recorded one (back to green), and says so
    (workspace / "other.conf.j2").write_text(template.replace(header, f"{header}\n add_header X-Other yes;"))
    reporter = Recorder()
    given = inputs(workspace, "rollback", "v1", **{"nginx-template": "other.conf.j2"})
    assert run_command(given, fake, reporter).active_color == "green"
    assert b"X-Other yes" in fake.files[LIVE_CONFIG]
    assert any("nginx-template other.conf.j2 is given" in line for line in reporter.infos), reporter.infos


def test_a_new_port_for_the_live_color_applies_when_it_is_started_again(
    fake: FakeHost, workspace: Path
) -> None:
    """Issue 17.5: a new green-port while green is live re-rendered the live color's upstream with
    a port nothing listens on, reloaded nginx (requests got 502) and logged "no reload"."""
    fake.njs = True
    deployed(fake, workspace, "v1", "v2")  # seamless; green live on 8082
    fake.clear_records()
    reporter = Recorder()

    result = run_command(inputs(workspace, "deploy", "v3", **{"green-port": "8092"}), fake, reporter)

    assert (result.active_color, result.switch_mode) == ("blue", "seamless")
    assert re.search(
        rb"upstream bluegreen_shop_green \{\s*server 127\.0\.0\.1:8082;", fake.files[LIVE_CONFIG]
    )
    assert fake.engine.ops("kill") == []  # no reload
    assert "switched seamlessly (no reload)" in reporter.infos
    assert any("green keeps port 8082" in line for line in reporter.infos), reporter.infos

    fake.ports["green"] = 8092  # green is started on its new port: nginx loads the changed config once
    fake.clear_records()
    reporter = Recorder()
    result = run_command(inputs(workspace, "deploy", "v4", **{"green-port": "8092"}), fake, reporter)

    assert (result.active_color, result.switch_mode) == ("green", "reload")
    assert fake.engine.ops("kill") == [("kill", f"{PROXY}-nginx-1")]
    assert any(line.startswith("switched with a reload") for line in reporter.infos), reporter.infos
    assert fake.proxy_route() == "green"


def test_a_port_the_other_color_still_holds_is_refused_before_anything_changes(
    fake: FakeHost, workspace: Path
) -> None:
    deployed(fake, workspace, "v1", "v2")  # green live on 8082
    fake.clear_records()

    with pytest.raises(Failure) as caught:
        run_command(
            inputs(workspace, "deploy", "v3", **{"blue-port": "8082", "green-port": "8090"}), fake, Recorder()
        )

    assert str(caught.value) == (
        "blue-port 8082 is the port green was started with and still holds; give blue another port "
        "(change one color's port per deploy); nothing was changed"
    )
    assert_nothing_changed(fake, [])
    assert fake.proxy_route() == "green"
