"""Issue 16 in the lab: what the app wrote is kept across deploys, a failed deploy and a rollback,
seen by whichever color serves; a stopped color has no restart policy; the `env` values reach a
compose file that does not name ${BLUEGREEN_ENV_FILE}; `extends` and `include` files are uploaded.
All under load: 0 failed requests.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from lab.traffic import describe_failures, failures
from tests.e2e.apps import ROOT, App, Run, live, reset, under_load

pytestmark = pytest.mark.lab

EXAMPLE = (ROOT / "lab" / "example" / "compose.yml").read_text()
HEALTHCHECK = EXAMPLE[EXAMPLE.index("    healthcheck:") :]

SINGLE = """include: [extra/sidecar.yml]
services:
  web:
    extends: {file: base/web.yml, service: web}
    image: "${BLUEGREEN_IMAGE}"
    ports:
      - "127.0.0.1:${BLUEGREEN_PORT}:8000"
    restart: always
    volumes:
      - ./uploads:/app/uploads
      - data:/var/lib/app
volumes:
  data: {}
"""
BASE = (
    """services:
  web:
    environment:
      BLUEGREEN_COLOR: "${BLUEGREEN_COLOR}"
"""
    + HEALTHCHECK
)
SIDECAR = """services:
  sidecar:
    image: "${BLUEGREEN_IMAGE}"
    restart: always
"""


def per_color(color: str, app: str) -> str:
    """The blog's per-color file: container_name, restart: always, ./logs."""
    return (
        f"""services:
  {app}-{color}:
    image: "${{BLUEGREEN_IMAGE}}"
    container_name: {app}-{color}
    ports:
      - "127.0.0.1:${{BLUEGREEN_PORT}}:8000"
    restart: always
    environment:
      - BLUEGREEN_COLOR={color}
    volumes:
      - ./logs:/logs
"""
        + HEALTHCHECK
    )


def serving_container(app: App, color: str, service: str) -> Any:
    client = docker.from_env()
    label = [f"com.docker.compose.project={app.name}-{color}", f"com.docker.compose.service={service}"]
    (container,) = client.containers.list(filters={"label": label, "status": "running"})
    return container


def read_in(container: Any, path: str) -> str:
    code, output = container.exec_run(["cat", path])
    assert code == 0, output
    return str(output.decode())


def policies(app: App, color: str) -> set[str]:
    client = docker.from_env()
    label = f"com.docker.compose.project={app.name}-{color}"
    containers = client.containers.list(all=True, filters={"label": label})
    return {c.attrs["HostConfig"]["RestartPolicy"]["Name"] for c in containers}


def checked(run: Run, records: list[Any], ok: bool = True) -> None:
    print(f"requests: {len(records)} sent, {len(failures(records))} failed; exit {run.exit_code}")
    assert failures(records) == [], describe_failures(records)
    assert len(records) > 100
    assert (run.exit_code == 0) is ok, run.stderr
    assert "Permission denied" not in run.stderr


def step(app: App, image: str) -> Callable[[], Run]:
    """Deploy image, or roll back when none is given."""
    if not image:
        return lambda: app.run("rollback")
    return lambda: app.deploy(image, **{"health-timeout": "30"})


def other(color: str) -> str:
    return "green" if color == "blue" else "blue"


@contextlib.contextmanager
def fresh(app: App, volumes: tuple[str, ...] = ()) -> Iterator[App]:
    def clean() -> None:
        reset(app)
        client = docker.from_env()
        for name in volumes:
            with contextlib.suppress(docker.errors.NotFound):
                client.volumes.get(name).remove(force=True)

    clean()
    yield app
    clean()


def test_a_single_compose_files_uploads_and_volume_are_kept_and_env_reaches_the_app(
    lab: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "extra").mkdir()
    (tmp_path / "compose.yml").write_text(SINGLE)
    (tmp_path / "base" / "web.yml").write_text(BASE)
    (tmp_path / "extra" / "sidecar.yml").write_text(SIDECAR)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[http]\n\textraheader = AUTHORIZATION: basic c2VjcmV0\n")
    app = App(
        lab, name="appdata-single", http_port=21000, blue_port=21001, green_port=21002, workspace=tmp_path,
        extra={"compose-file": "compose.yml", "env": "GREETING=hello from env\n"},
    )  # fmt: skip
    images = lab["images"]
    with fresh(app, ("appdata-single_data",)):
        app.deploy(images["v1"]).expect_ok()
        web = serving_container(app, "blue", "web")
        assert "GREETING=hello from env" in web.exec_run(["env"]).output.decode()
        code, _ = web.exec_run(
            [
                "sh",
                "-c",
                "echo photo-of-v1 > /app/uploads/photo.txt && echo state-of-v1 > /var/lib/app/state.txt",
            ]
        )
        assert code == 0
        assert serving_container(app, "blue", "sidecar")  # the included file's service runs
        assert not list(app.app_dir.rglob(".git"))

        steps = [(images["v2"], True), (images["slow-start"], True), ("", True), (images["broken"], False)]
        steps += [("", True), (images["v1"], True)]  # a rollback after the failed deploy, then v4
        for image, ok in steps:
            run, records = under_load(step(app, image), app)
            checked(run, records, ok)
            _, color = live(app)
            web = serving_container(app, color, "web")
            assert read_in(web, "/app/uploads/photo.txt") == "photo-of-v1\n", (image, color)
            assert read_in(web, "/var/lib/app/state.txt") == "state-of-v1\n", (image, color)
            assert "GREETING=hello from env" in web.exec_run(["env"]).output.decode()
            assert policies(app, color) == {"always"}
            assert policies(app, other(color)) <= {"no"}, "a stopped color must not come back"
        assert live(app)[0] == "v1"
        assert (app.app_dir / "data" / "uploads" / "photo.txt").read_text() == "photo-of-v1\n"


@pytest.mark.parametrize("compose_v1", [False, True], ids=["compose-v2", "compose-v1"])
def test_the_blogs_per_color_files_keep_their_logs(
    lab: dict[str, Any], tmp_path: Path, compose_v1: bool
) -> None:
    name, port = ("appdata-blog1", 21050) if compose_v1 else ("appdata-blog", 21010)
    for color in ("blue", "green"):
        (tmp_path / f"docker-compose.{color}.yml").write_text(per_color(color, name))
    app = App(
        lab, name=name, http_port=port, blue_port=port + 1, green_port=port + 2, workspace=tmp_path,
        compose_v1=compose_v1, extra={"compose-file": "docker-compose.{color}.yml"},
    )  # fmt: skip
    images = lab["images"]
    with fresh(app):
        app.deploy(images["v1"]).expect_ok()
        blue = serving_container(app, "blue", f"{name}-blue")
        assert blue.exec_run(["sh", "-c", "echo written-by-v1 >> /logs/app.log"]).exit_code == 0
        steps = [(images["v2"], True), (images["slow-start"], True), ("", True), (images["broken"], False)]
        steps += [("", True), (images["v1"], True)]
        for image, ok in steps:
            run, records = under_load(step(app, image), app)
            checked(run, records, ok)
            _, color = live(app)
            container = serving_container(app, color, f"{name}-{color}")
            assert read_in(container, "/logs/app.log") == "written-by-v1\n", (image, color)
            assert policies(app, color) == {"always"}
            assert policies(app, other(color)) <= {"no"}, "a stopped color must not come back"
        assert live(app)[0] == "v1"


BEFORE_ISSUE_16 = "2069356"
"""main before issue 16: a bind source lived in each release folder, a named volume per color."""

UPGRADED = (
    """services:
  web:
    image: "${BLUEGREEN_IMAGE}"
    ports:
      - "127.0.0.1:${BLUEGREEN_PORT}:8000"
    restart: always
    environment:
      BLUEGREEN_COLOR: "${BLUEGREEN_COLOR}"
    volumes:
      - ./uploads:/app/uploads
      - data:/var/lib/app
"""
    + HEALTHCHECK
    + "volumes:\n  data: {}\n"
)


def earlier_bluegreen(tmp_path: Path) -> Path:
    """The package as it was before issue 16, from the repository's history."""
    target = tmp_path / "earlier"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", BEFORE_ISSUE_16, "bluegreen", "action.yml"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True, timeout=60)
    return target


def run_with(package: Path, app: App, command: str, image: str) -> Run:
    argv = [sys.executable, "-m", "bluegreen", command, *app.flags(image), "--json"]
    env = {**os.environ, "PYTHONPATH": str(package)}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=app.workspace, env=env)
    return Run(done.returncode, done.stdout, done.stderr)


def test_the_data_of_deploys_before_the_upgrade_is_adopted(lab: dict[str, Any], tmp_path: Path) -> None:
    earlier = earlier_bluegreen(tmp_path)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "compose.yml").write_text(UPGRADED)
    app = App(
        lab, name="appdata-upgrade", http_port=21020, blue_port=21021, green_port=21022, workspace=workspace,
        extra={"compose-file": "compose.yml"},
    )  # fmt: skip
    images = lab["images"]
    with fresh(app, ("appdata-upgrade_data", "appdata-upgrade-blue_data", "appdata-upgrade-green_data")):
        for image in (images["v1"], images["v2"]):
            run = run_with(earlier, app, "deploy", image)
            assert run.exit_code == 0, run.stderr
        web = serving_container(app, "green", "web")
        write = "echo photo > /app/uploads/photo.txt; echo state > /var/lib/app/s.txt"
        code, _ = web.exec_run(["sh", "-c", write])
        assert code == 0
        assert not (app.app_dir / "data").exists()

        for image in (images["v1"], images["v2"], images["slow-start"]):
            run, records = under_load(step(app, image), app)
            checked(run, records)
            print("\n".join(line for line in run.stderr.splitlines() if "adopted" in line or "kept" in line))
            if image == images["v1"]:
                assert "adopted the data of earlier deploys" in run.stderr
                assert "adopted the live color's volume appdata-upgrade-green_data" in run.stderr
            _, color = live(app)
            web = serving_container(app, color, "web")
            assert read_in(web, "/app/uploads/photo.txt") == "photo\n", (image, color)
            assert read_in(web, "/var/lib/app/s.txt") == "state\n", (image, color)
        assert (app.app_dir / "data" / "uploads" / "photo.txt").read_text() == "photo\n"
