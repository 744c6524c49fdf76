"""Real compose apps and records you can trust, under load in the lab.

Each test deploys its own app (own name and ports) and checks, besides 0 failed requests, what
the host is left with: which color serves, what the state file says, which containers run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from lab.registry import push
from lab.traffic import describe_failures, failures
from tests.e2e.apps import ROOT, App, Run, app_maker, error_lines, live, project_running, under_load

pytestmark = pytest.mark.lab

SLOW_DRAIN = {"clients": 8, "rate": 150.0, "slow_clients": 4, "slow_ms": 6000}
DEMO_SERVICE = """  web:
    image: "{image}"
    environment:
      BLUEGREEN_COLOR: "${{BLUEGREEN_COLOR}}"
{extra_env}    ports:
      - "127.0.0.1:${{BLUEGREEN_PORT}}:8000"
    restart: unless-stopped
"""


def compose_text(image: str = "${BLUEGREEN_IMAGE}", extra_env: str = "", more: str = "") -> str:
    return "services:\n" + DEMO_SERVICE.format(image=image, extra_env=extra_env) + more


def state_of(app: App) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((app.app_dir / "state.json").read_text())
    return loaded


def exec_in(app: App, color: str, argv: list[str]) -> str:
    client = docker.from_env()
    label = f"com.docker.compose.project={app.name}-{color}"
    (container,) = client.containers.list(filters={"label": label, "status": "running"})
    code, output = container.exec_run(argv)
    client.close()
    assert code == 0 and isinstance(output, bytes), output
    return output.decode()


@pytest.fixture
def app_factory(lab: dict[str, Any]) -> Iterator[Any]:
    yield from app_maker(lab)


def assert_clean(run: Run, records: list[Any]) -> None:
    assert run.exit_code == 0, run.stderr
    assert failures(records) == [], describe_failures(records)


def test_renamed_compose_file_then_rollback_without_compose_file(
    app_factory: Any, lab: dict[str, Any], tmp_path: Path
) -> None:
    """Stopping the old color uses what it was started with, not today's file name; a rollback
    needs no compose-file at all."""
    (tmp_path / "app.yml").write_text(compose_text())
    (tmp_path / "app-renamed.yml").write_text(compose_text())
    app = app_factory("renamed", 18800, **{"compose-file": str(tmp_path / "app.yml")})
    app.deploy(lab["images"]["v1"]).expect_ok()

    run, records = under_load(
        lambda: app.deploy(lab["images"]["v2"], **{"compose-file": str(tmp_path / "app-renamed.yml")}), app
    )
    assert_clean(run, records)
    assert live(app) == ("v2", "green")
    assert state_of(app)["active_color"] == "green"
    assert not project_running(app, "blue")

    run, records = under_load(lambda: app.run("rollback", **{"compose-file": ""}), app)
    assert_clean(run, records)
    assert run.result["status"] == "rolled-back"
    assert live(app) == ("v1", "blue")
    assert (state_of(app)["active_color"], state_of(app)["previous_color"]) == ("blue", "green")
    assert not project_running(app, "green")


def run_and_cancel_in(app: App, image: str, phase: str, sig: signal.Signals) -> Run:
    """Start a deploy and send it `sig` as soon as it enters `phase` (as a cancelled workflow does)."""
    argv = [sys.executable, "-m", "bluegreen", "deploy", *app.flags(image), "--json"]
    process = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                               env=os.environ)  # fmt: skip
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if f"==> {phase}" in line:
            process.send_signal(sig)
            break
    out, err = process.communicate(timeout=120)
    return Run(process.returncode, out, "".join(seen) + err)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_rollback_after_a_deploy_cancelled_in_drain_never_stops_the_serving_color(
    app_factory: Any, lab: dict[str, Any], sig: signal.Signals
) -> None:
    """Issue 10's worst case: v1, v2, then a third deploy cancelled during drain. The records say
    what nginx serves, and rollback goes back to the color that deploy replaced."""
    app = app_factory(f"cancel{sig.name.lower()}", 18810 if sig == signal.SIGTERM else 18820)
    app.deploy(lab["images"]["v1"]).expect_ok()
    app.deploy(lab["images"]["v2"]).expect_ok()

    with_load: list[Any] = []
    cancelled, records = under_load(lambda: run_and_cancel_in(app, lab["images"]["v1"], "drain", sig), app,
                                    SLOW_DRAIN)  # fmt: skip
    with_load += records
    assert cancelled.exit_code != 0
    if sig == signal.SIGTERM:
        (error,) = error_lines(cancelled)
        assert "drain failed after the switch" in error and "blue serves" in error, error
    assert live(app) == ("v1", "blue")
    assert (state_of(app)["active_color"], state_of(app)["previous_color"]) == ("blue", "green")

    status = app.run("status").expect_ok()
    assert (status["active_color"], status["previous_color"]) == ("blue", "green")

    run, records = under_load(lambda: app.run("rollback"), app)
    with_load += records
    assert run.exit_code == 0, run.stderr
    assert live(app) == ("v2", "green")
    assert not project_running(app, "blue")
    assert failures(with_load) == [], describe_failures(with_load)

    run, records = under_load(lambda: app.deploy(lab["images"]["v1"]), app)
    assert_clean(run, records)
    assert live(app) == ("v1", "blue")


def test_rollback_is_refused_when_the_replaced_color_is_live(app_factory: Any, lab: dict[str, Any]) -> None:
    app = app_factory("refuse", 18830)
    app.deploy(lab["images"]["v1"]).expect_ok()
    app.deploy(lab["images"]["v2"]).expect_ok()
    # As a run killed after its switch and before its record would leave it (older versions did).
    state = state_of(app)
    (app.app_dir / "state.json").write_text(
        json.dumps({**state, "active_color": "blue", "previous_color": "green"})
    )
    before = (app.app_dir / "state.json").read_bytes()

    run, records = under_load(lambda: app.run("rollback"), app)
    assert run.exit_code == 1
    (error,) = error_lines(run)
    assert "green, the color the last completed deploy replaced, is the live color now" in error, error
    assert "nothing was changed" in error
    assert failures(records) == [], describe_failures(records)
    assert live(app) == ("v2", "green")
    assert (app.app_dir / "state.json").read_bytes() == before
    assert project_running(app, "green") and not project_running(app, "blue")


def test_rollback_of_a_latest_tag_runs_the_exact_bits_that_ran_before(
    app_factory: Any, lab: dict[str, Any], tmp_path: Path
) -> None:
    """The blog's way: no `image` input, the compose file's own :latest tag, pushed anew each time."""
    latest = f"{lab['registry']}/truth-latest:latest"
    compose = tmp_path / "compose.yml"
    compose.write_text(compose_text(image=latest))
    app = app_factory("latest", 18840, **{"compose-file": str(compose)})
    client = docker.from_env()
    push(client, lab["images"]["v1"], latest)
    app.run("deploy").expect_ok()
    push(client, lab["images"]["v2"], latest)
    app.run("deploy").expect_ok()
    assert live(app) == ("v2", "green")

    run, records = under_load(lambda: app.run("rollback"), app)
    assert_clean(run, records)
    assert live(app) == ("v1", "blue")
    client.close()


def test_a_second_deployment_of_the_same_app_from_another_remote_dir_is_refused(
    app_factory: Any, lab: dict[str, Any]
) -> None:
    app = app_factory("owned", 18850)
    app.deploy(lab["images"]["v1"]).expect_ok()
    other_dir = f"{app.remote_dir}/elsewhere"

    run, records = under_load(lambda: app.deploy(lab["images"]["v2"], **{"remote-dir": other_dir}), app)
    assert run.exit_code == 1
    (error,) = error_lines(run)
    assert f"kept in '{app.app_dir}'" in error, error
    assert failures(records) == [], describe_failures(records)
    assert live(app) == ("v1", "blue")
    assert not project_running(app, "green")
    assert not Path(other_dir, "owned", "state.json").exists()


COUNTER = (
    "import os, secrets, http.server\n"
    "p = '/data/token'\n"
    "os.path.exists(p) or open(p, 'w').write(secrets.token_hex(8))\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        body = open(p).read().encode()\n"
    "        self.send_response(200)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "http.server.HTTPServer(('0.0.0.0', 8000), H).serve_forever()\n"
)


def test_a_shared_service_keeps_its_data_and_its_container_across_deploys_and_rollback(
    app_factory: Any, lab: dict[str, Any], tmp_path: Path
) -> None:
    db = f"""  db:
    image: "{lab["images"]["v1"]}"
    command: ["python3", "-c", {json.dumps(COUNTER)}]
    volumes: ["data:/data"]
    restart: unless-stopped
volumes:
  data: {{}}
"""
    compose = tmp_path / "compose.yml"
    compose.write_text(compose_text(more=db))
    app = app_factory("stateful", 18860, **{"compose-file": str(compose), "shared-services": "db"})
    read_db = [
        "python3",
        "-c",
        "import urllib.request as u; print(u.urlopen('http://db:8000/').read().decode())",
    ]

    app.deploy(lab["images"]["v1"]).expect_ok()
    token = exec_in(app, "blue", read_db).strip()
    client = docker.from_env()
    (db_container,) = client.containers.list(filters={"label": "com.docker.compose.project=stateful-shared"})

    for action in (lambda: app.deploy(lab["images"]["v2"]), lambda: app.run("rollback")):
        run, records = under_load(action, app)
        assert_clean(run, records)
        serving = live(app)[1]
        assert exec_in(app, serving, read_db).strip() == token
    assert live(app) == ("v1", "blue")
    (after,) = client.containers.list(filters={"label": "com.docker.compose.project=stateful-shared"})
    assert (after.id, after.attrs["RestartCount"]) == (db_container.id, 0)
    volumes = {v.name for v in client.volumes.list() if v.name.startswith("stateful-")}
    assert volumes == {"stateful-shared_data"}
    for color in ("blue", "green"):
        label = f"com.docker.compose.project=stateful-{color}"
        assert all(c.labels["com.docker.compose.service"] == "web" for c in client.containers.list(
            all=True, filters={"label": label}))  # fmt: skip
    client.close()


def test_one_shot_tasks_may_finish_and_a_failed_one_stops_the_deploy_with_its_log(
    app_factory: Any, lab: dict[str, Any], tmp_path: Path
) -> None:
    def task(code: int) -> str:
        outcome = "migration failed: boom" if code else "done"
        script = f"print('migrating'); print('{outcome}'); raise SystemExit({code})"
        return f"""  migrate:
    image: "{lab["images"]["v1"]}"
    command: ["python3", "-c", "{script}"]
    restart: "no"
"""

    (tmp_path / "ok.yml").write_text(compose_text(more=task(0)))
    (tmp_path / "bad.yml").write_text(compose_text(more=task(3)))
    app = app_factory("tasks", 18870, **{"compose-file": str(tmp_path / "ok.yml")})
    app.deploy(lab["images"]["v1"]).expect_ok()
    assert live(app) == ("v1", "blue")

    run, records = under_load(
        lambda: app.deploy(lab["images"]["v2"], **{"compose-file": str(tmp_path / "bad.yml")}), app
    )
    assert run.exit_code == 1
    (error,) = error_lines(run)
    assert "green did not start: container" in error and "exited with code 3" in error, error
    assert "migration failed: boom" in run.stderr
    assert failures(records) == [], describe_failures(records)
    assert live(app) == ("v1", "blue")


def test_env_files_dotenv_and_bind_mounts_are_uploaded_with_their_layout(
    app_factory: Any, lab: dict[str, Any], tmp_path: Path
) -> None:
    deploy_dir = tmp_path / "deploy"
    (deploy_dir / "conf").mkdir(parents=True)
    (tmp_path / "config").mkdir()
    (deploy_dir / ".env").write_text("GREETING=hello-from-dotenv\n")
    (tmp_path / "config" / "extra.env").write_text("EXTRA=from-env-file\n")
    (deploy_dir / "conf" / "app.ini").write_text("[app]\nname = files\n")
    extra = '      GREETING: "${GREETING}"\n'
    more_web = '    env_file: ["../config/extra.env"]\n    volumes: ["./conf:/etc/app:ro"]\n'
    (deploy_dir / "compose.yml").write_text(compose_text(extra_env=extra) + more_web)
    app = app_factory("files", 18880, workspace=tmp_path, **{"compose-file": "deploy/compose.yml"})

    app.deploy(lab["images"]["v1"]).expect_ok()  # a first deploy: nothing serves before it
    (deploy_dir / "conf" / "app.ini").write_text("[app]\nname = files v2\n")
    run, records = under_load(lambda: app.deploy(lab["images"]["v2"]), app)
    assert_clean(run, records)
    for color, ini in (("green", "[app]\nname = files v2\n"), ("blue", None)):
        if ini is None:
            assert not project_running(app, color)
            continue
        values = exec_in(app, color, ["printenv", "GREETING", "EXTRA"]).split()
        assert values == ["hello-from-dotenv", "from-env-file"]
        assert exec_in(app, color, ["cat", "/etc/app/app.ini"]) == ini
    # The kept color's files were not touched by the upload of v2: a rollback finds them intact.
    run, records = under_load(lambda: app.run("rollback"), app)
    assert_clean(run, records)
    assert exec_in(app, "blue", ["cat", "/etc/app/app.ini"]) == "[app]\nname = files\n"


def test_container_name_in_a_file_shared_by_both_colors_is_refused_before_connecting(
    app_factory: Any, lab: dict[str, Any], tmp_path: Path
) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text(compose_text().replace("    restart:", "    container_name: shop\n    restart:"))
    app = app_factory("named", 18890, **{"compose-file": str(compose)})
    run = app.deploy(lab["images"]["v1"])
    assert run.exit_code == 1
    (error,) = error_lines(run)
    assert "container_name" in error and "web" in error and "{color}" in error, error
    assert not app.app_dir.exists()
    started = time.monotonic()
    assert not project_running(app, "blue"), time.monotonic() - started
