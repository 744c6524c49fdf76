"""A failed deploy leaves the kept release rollback-able, rollback serves what was recorded, and a
new port for the live color waits until that color starts again: each under load, every request
checked (issue 16 findings 3, 4, 5; issue 17 finding 5)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.traffic import Record, describe_failures, failures
from tests.e2e.apps import App, Run, app_maker, error_lines, live, project_running, under_load, write

pytestmark = pytest.mark.lab

HEADER = "add_header X-Bluegreen-Upstream $upstream_addr always;"


@pytest.fixture
def app_at(lab: dict[str, Any]) -> Iterator[Callable[..., App]]:
    """Apps of this module (names `phases-*`, ports 21100-21199), removed afterwards."""
    yield from app_maker(lab, prefix="phases-")


def deploy_in_turn(app: App, lab: dict[str, Any], *versions: str, **overrides: str) -> None:
    for version in versions:
        app.deploy(lab["images"][version], **overrides).expect_ok()


def none_failed(records: list[Record]) -> None:
    assert failures(records) == [], describe_failures(records)
    assert len(records) > 100
    print(f"{len(records)} requests, 0 failed")


def rolled_back_under_load(app: App, **overrides: str) -> dict[str, Any]:
    run, records = under_load(lambda: app.run("rollback", **overrides), app)
    result = run.expect_ok()
    none_failed(records)
    return result


def failed_then_rolled_back(
    app: App, lab: dict[str, Any], run: Run, records: list[Record], message: str
) -> None:
    """The deploy failed with `message` and lost no request; the live color still serves, the other
    keeps its release (stopped), and a rollback under load serves that release."""
    assert run.exit_code == 1, run.stderr
    assert message in error_lines(run)[0]
    none_failed(records)
    serving = live(app)
    kept_color = "green" if serving[1] == "blue" else "blue"
    assert not project_running(app, kept_color)
    kept_version = "v1" if serving[0] == "v2" else "v2"

    result = rolled_back_under_load(app)
    assert (result["active_color"], result["image"]) == (kept_color, lab["images"][kept_version])
    assert live(app) == (kept_version, kept_color)


def test_a_failed_read_before_the_switch_leaves_the_kept_release(
    app_at: Callable[..., App], lab: dict[str, Any]
) -> None:
    """16.3: the live config cannot be read just before the switch (here: it is a directory). The
    new color is taken away, the kept v1 is put back, and rollback serves v1 (not the v2 that
    never served)."""
    app = app_at("read", 21100)
    deploy_in_turn(app, lab, "v1", "v2")  # green serves v2, blue keeps v1
    assert live(app) == ("v2", "green")
    live_config = app.app_dir / "nginx" / "nginx.conf"
    saved = live_config.with_name("nginx.conf.saved")
    os.rename(live_config, saved)
    live_config.mkdir()
    try:
        run, records = under_load(lambda: app.deploy(lab["images"]["v2"]), app)
    finally:
        live_config.rmdir()
        os.rename(saved, live_config)

    cannot_read = "the live nginx config cannot be read, so nothing was switched"
    failed_then_rolled_back(app, lab, run, records, cannot_read)


def test_a_deploy_failing_its_health_gate_keeps_the_rollback(
    app_at: Callable[..., App], lab: dict[str, Any]
) -> None:
    """16.4: the failed deploy starts in green, which kept v2; afterwards rollback still serves it."""
    app = app_at("health", 21110)
    deploy_in_turn(app, lab, "v1", "v2", "v1")  # blue serves v1, green keeps v2
    assert live(app) == ("v1", "blue")
    run, records = under_load(lambda: app.deploy(lab["images"]["broken"], **{"health-timeout": "4"}), app)

    failed_then_rolled_back(app, lab, run, records, "green was not healthy within 4 s")
    assert "green holds its kept release again, stopped" in run.stderr


def test_rollback_serves_the_recorded_template_and_port(
    app_at: Callable[..., App], lab: dict[str, Any], tmp_path: Path
) -> None:
    """16.5: the deploys used a template of their own and blue-port 21121. The rollback is given
    neither (the built-in template) and another blue-port: it serves blue with the recorded
    template, on the port blue was started with, and says so."""
    text = Path(lab["nginx_template"]).read_text()
    assert HEADER in text
    template = write(
        tmp_path, "nginx.conf.j2", text.replace(HEADER, f"{HEADER}\n        add_header X-Phases kept always;")
    )
    app = app_at("template", 21120)
    deploy_in_turn(app, lab, "v1", "v2", **{"nginx-template": template})
    assert app.get("/")[2].get("x-phases") == "kept"

    result = rolled_back_under_load(app, **{"nginx-template": "", "blue-port": "21123"})

    assert (result["active_color"], result["image"]) == ("blue", lab["images"]["v1"])
    assert live(app) == ("v1", "blue")
    headers = app.get("/")[2]
    assert (headers.get("x-phases"), headers["x-bluegreen-upstream"]) == ("kept", "127.0.0.1:21121")


def test_a_new_port_for_the_live_color_waits_until_it_is_started(
    app_at: Callable[..., App], lab: dict[str, Any]
) -> None:
    """17.5: green serves on 21132; deploys are given green-port 21134. The first goes to blue:
    green keeps its port, nginx is not reloaded, and the log says so. The next starts green on
    21134: nginx loads the changed config once, and the log says "reload". 0 failed requests."""
    app = app_at("port", 21130)
    deploy_in_turn(app, lab, "v1", "v2")  # green serves on 21132

    run, records = under_load(lambda: app.deploy(lab["images"]["v1"], **{"green-port": "21134"}), app)
    result = run.expect_ok()
    none_failed(records)
    assert result["switch_mode"] == "seamless", run.stderr
    assert "switched seamlessly (no reload)" in run.stderr
    assert "green keeps port 21132" in run.stderr
    assert live(app) == ("v1", "blue")

    run, records = under_load(lambda: app.deploy(lab["images"]["v2"], **{"green-port": "21134"}), app)
    result = run.expect_ok()
    none_failed(records)
    assert result["switch_mode"] == "reload", run.stderr
    assert "switched with a reload: the seamless config itself changed" in run.stderr
    assert live(app) == ("v2", "green")
    assert app.get("/")[2]["x-bluegreen-upstream"] == "127.0.0.1:21134"
