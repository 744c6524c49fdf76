"""Issue 16 (1, 6, 7, 9, 10): what the app writes is the app's, a stopped color stays stopped, the
`env` values reach the app, the files a compose file pulls in are uploaded, `.git` never is.

The routine runs for real against tests/unit/fake_host.py; the shell scripts bluegreen runs on the
host (the cleanup of older releases, the data folder) run for real on a local directory.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bluegreen import commands
from bluegreen.bundle import plan_bundle
from bluegreen.config import parse_inputs
from bluegreen.deploy import run_command
from bluegreen.errors import BluegreenError, InputError
from tests.unit.fake_host import FakeHost
from tests.unit.test_config import good
from tests.unit.test_routine_failures import APP_DIR, IMAGE, Recorder, releases_of

UPLOADS_AND_VOLUME = """services:
  web:
    image: ${BLUEGREEN_IMAGE}
    ports: ['127.0.0.1:${BLUEGREEN_PORT}:8000']
    restart: always
    volumes: ['./uploads:/app/uploads', 'data:/var/lib/app', {type: bind, source: ./logs, target: /logs}]
volumes:
  data: {}
"""


def workspace_with(tmp_path: Path, compose: str, **files: str) -> Path:
    (tmp_path / "deploy").mkdir(exist_ok=True)
    (tmp_path / "deploy" / "compose.yml").write_text(compose)
    for name, text in files.items():
        path = tmp_path / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def deploy(fake: FakeHost, workspace: Path, version: str, command: str = "deploy", **inputs: str) -> Recorder:
    timing = {"health-timeout": "1", "drain-timeout": "1", "lock-timeout": "1"}
    raw = good(command=command, image=f"{IMAGE}:{version}", **{"nginx-template": ""}, **timing, **inputs)
    recorder = Recorder()
    run_command(parse_inputs(raw, workspace), fake, recorder)
    return recorder


def override(fake: FakeHost, color: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(fake.files[f"{APP_DIR}/{color}/bluegreen.override.yml"])
    return loaded


# --- 16.1: data folders and volumes are the app's, the same for both colors ----------------------


def test_a_missing_bind_source_and_a_named_volume_are_the_apps_for_both_colors(tmp_path: Path) -> None:
    workspace = workspace_with(tmp_path, UPLOADS_AND_VOLUME)
    fake = FakeHost()
    deploy(fake, workspace, "v1")
    deploy(fake, workspace, "v2")
    for color in ("blue", "green"):
        parts = override(fake, color)
        assert parts["services"]["web"]["volumes"] == [
            f"{APP_DIR}/data/uploads:/app/uploads",
            {"type": "bind", "source": f"{APP_DIR}/data/logs", "target": "/logs"},
        ]
        assert parts["volumes"]["data"] == {"name": "shop_data", "external": True}
    assert set(fake.data_dirs) == {f"{APP_DIR}/data/uploads", f"{APP_DIR}/data/logs"}
    assert "shop_data" in fake.engine.volumes.by_name
    assert not any(path.startswith(f"{APP_DIR}/data/") for path in fake.files), "nothing uploaded there"


def test_the_live_colors_per_color_volume_is_adopted_not_emptied(tmp_path: Path) -> None:
    workspace = workspace_with(tmp_path, UPLOADS_AND_VOLUME)
    fake = FakeHost()
    deploy(fake, workspace, "v1")
    # as an earlier bluegreen left it: blue's own volume, holding what users uploaded
    del fake.engine.volumes.by_name["shop_data"]
    del fake.files[f"{APP_DIR}/volumes.json"]
    fake.engine.volumes.create("shop-blue_data")
    deploy(fake, workspace, "v2")
    assert override(fake, "green")["volumes"]["data"] == {"name": "shop-blue_data", "external": True}
    assert "shop_data" not in fake.engine.volumes.by_name
    deploy(fake, workspace, "v3")  # the record keeps it, whichever color is live
    assert override(fake, "blue")["volumes"]["data"] == {"name": "shop-blue_data", "external": True}


def test_the_cleanup_keeps_an_older_release_that_holds_what_the_app_wrote(tmp_path: Path) -> None:
    workspace = workspace_with(tmp_path, UPLOADS_AND_VOLUME)
    fake = FakeHost()
    deploy(fake, workspace, "v1")
    deploy(fake, workspace, "v2")
    (old_blue,) = releases_of(fake, "blue")
    photo = f"{APP_DIR}/blue/releases/{old_blue}/uploads/photo.jpg"  # written by an earlier version
    fake.files[photo] = b"\xff\xd8 a user's photo"
    recorder = deploy(fake, workspace, "v3")
    assert fake.files[photo] == b"\xff\xd8 a user's photo"
    assert any("kept the older release" in w and old_blue in w for w in recorder.warnings)


def run_script(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def test_the_cleanup_script_never_reaches_a_data_folder(tmp_path: Path) -> None:
    releases, data = tmp_path / "blue" / "releases", tmp_path / "data"
    (data / "uploads").mkdir(parents=True)
    (data / "uploads" / "photo.jpg").write_text("photo")
    for release in ("r1", "r2", "r3", "r4", "r5"):
        (releases / release).mkdir(parents=True)
        (releases / release / "compose.yml").write_text("services: {}\n")
    (releases / "r1" / "uploads").symlink_to(data / "uploads")  # an adopted folder's old place
    (releases / "r2" / "uploads").mkdir()
    (releases / "r2" / "uploads" / "old.jpg").write_text("written by the app before an upgrade")
    (releases / "r5" / "uploads").mkdir()  # made by Docker for a mount, nothing written in it
    result = run_script(commands.remove_older_releases(str(releases), "r4", ["uploads"]))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in releases.iterdir()) == ["r2", "r4"]
    assert (data / "uploads" / "photo.jpg").read_text() == "photo"
    assert (releases / "r2" / "uploads" / "old.jpg").exists()
    assert result.stdout.strip() == f"{commands.KEPT_RELEASE} {releases}/r2 (uploads)"


def test_the_data_folder_is_made_once_and_adopts_the_live_releases_folder(tmp_path: Path) -> None:
    earlier = tmp_path / "blue" / "releases" / "r1" / "uploads"
    earlier.mkdir(parents=True)
    (earlier / "photo.jpg").write_text("photo")
    target = tmp_path / "data" / "uploads"
    result = run_script(commands.make_data_dir(str(target), str(earlier), "unused", str(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert (target / "photo.jpg").read_text() == "photo"
    assert earlier.is_symlink() and os.readlink(earlier) == str(target)
    (target / "second.jpg").write_text("second")
    again = run_script(commands.make_data_dir(str(target), str(earlier), "unused", str(tmp_path)))
    assert again.returncode == 0 and sorted(p.name for p in target.iterdir()) == ["photo.jpg", "second.jpg"]
    fresh = tmp_path / "data" / "logs"
    assert run_script(commands.make_data_dir(str(fresh))).returncode == 0 and fresh.is_dir()


@pytest.mark.parametrize(
    ("image", "database"),
    [("postgres:16", True), ("docker.io/library/mysql:8", True), ("bitnami/redis", True),
     ("mariadb", True), ("registry.example.com/shop:v1", False), ("${BLUEGREEN_IMAGE}", False)],
)  # fmt: skip
def test_what_looks_like_a_database(image: str, database: bool) -> None:
    from bluegreen.appdata import looks_like_database  # here: the module is new (issue 16)

    assert looks_like_database(image) is database


def test_a_per_color_database_with_a_volume_is_warned_about(tmp_path: Path) -> None:
    compose = UPLOADS_AND_VOLUME + "  pgdata: {}\n" + ""
    compose = compose.replace(
        "volumes:\n  data: {}",
        "  db:\n    image: postgres:16\n    volumes: ['pgdata:/var/lib/postgresql/data']\n"
        "volumes:\n  data: {}",
    )
    fake = FakeHost()
    recorder = deploy(fake, workspace_with(tmp_path, compose), "v1")
    assert any("service 'db' (postgres:16) looks like a database" in w for w in recorder.warnings)


# --- 16.6: a stopped color stays stopped -----------------------------------------------------------


def policies(fake: FakeHost, project: str) -> list[str]:
    return [c.attrs["HostConfig"]["RestartPolicy"]["Name"] for c in fake.engine.project(project)]


def test_stopping_a_color_takes_its_restart_policy_and_a_rollback_puts_it_back(tmp_path: Path) -> None:
    workspace = workspace_with(tmp_path, UPLOADS_AND_VOLUME)
    fake = FakeHost()
    deploy(fake, workspace, "v1")
    deploy(fake, workspace, "v2")
    assert fake.engine.statuses("shop-blue") == ["exited"]
    assert policies(fake, "shop-blue") == ["no"], "Docker would start it again when it restarts"
    assert policies(fake, "shop-green") == ["unless-stopped"]
    deploy(fake, workspace, "v2", command="rollback")
    assert policies(fake, "shop-blue") == ["unless-stopped"]
    assert policies(fake, "shop-green") == ["no"]
    assert f"{APP_DIR}/blue/restart-policies.json" not in fake.files


# --- 16.7: the `env` values reach the app ----------------------------------------------------------


def test_env_reaches_every_service_when_no_compose_file_names_the_file(tmp_path: Path) -> None:
    fake = FakeHost()
    deploy(fake, workspace_with(tmp_path, UPLOADS_AND_VOLUME), "v1", env="SECRET=s3cret\n")
    assert override(fake, "blue")["services"]["web"]["env_file"] == [f"{APP_DIR}/blue/app.env"]
    assert b"s3cret" not in fake.files[f"{APP_DIR}/blue/bluegreen.override.yml"]


def test_a_compose_file_that_names_the_env_file_keeps_its_choice(tmp_path: Path) -> None:
    compose = UPLOADS_AND_VOLUME.replace("    restart: always\n", "    env_file: ${BLUEGREEN_ENV_FILE}\n")
    fake = FakeHost()
    deploy(fake, workspace_with(tmp_path, compose), "v1", env="SECRET=s3cret\n")
    assert "env_file" not in override(fake, "blue")["services"]["web"]


# --- 16.9: extends and include ---------------------------------------------------------------------


def test_an_extended_file_and_what_it_names_are_uploaded(tmp_path: Path) -> None:
    compose = "services:\n  web:\n    extends: {file: base/common.yml, service: app}\n    image: x\n"
    common = "services:\n  app:\n    env_file: app.env\n    volumes: ['./conf:/conf', './cache:/cache']\n"
    workspace = workspace_with(
        tmp_path, compose, deploy__base__common_yml=common, deploy__base__app_env="A=1\n",
        deploy__base__conf__site_ini="[site]\n",
    )  # fmt: skip
    for old, new in (("common_yml", "common.yml"), ("app_env", "app.env"), ("site_ini", "site.ini")):
        for path in workspace.rglob(f"*{old}"):
            path.rename(path.with_name(new))
    bundle = plan_bundle([workspace / "deploy/compose.yml"], workspace, shared_by_colors=True)
    assert {u.remote for u in bundle.uploads} == {
        "compose.yml", "base/common.yml", "base/app.env", "base/conf/site.ini",
    }  # fmt: skip
    assert [(m.service, m.remote) for m in bundle.data_mounts] == [("web", "base/cache")]


def test_an_included_file_and_what_it_names_are_uploaded(tmp_path: Path) -> None:
    compose = "include: [worker/compose.yml]\nservices:\n  web:\n    image: x\n"
    worker = "services:\n  worker:\n    image: y\n    volumes: ['./jobs:/jobs']\n"
    workspace = workspace_with(tmp_path, compose)
    (workspace / "deploy/worker/jobs").mkdir(parents=True)
    (workspace / "deploy/worker/compose.yml").write_text(worker)
    (workspace / "deploy/worker/jobs/nightly.sh").write_text("true\n")
    bundle = plan_bundle([workspace / "deploy/compose.yml"], workspace, shared_by_colors=True)
    assert {u.remote for u in bundle.uploads} == {
        "compose.yml",
        "worker/compose.yml",
        "worker/jobs/nightly.sh",
    }
    assert bundle.services == ("web", "worker") and bundle.uses_include


def test_a_missing_extended_or_included_file_is_refused_before_connecting(tmp_path: Path) -> None:
    workspace = workspace_with(tmp_path, "services:\n  web:\n    extends: {file: nope.yml, service: a}\n")
    with pytest.raises(InputError, match=r"extends 'nope\.yml'"):
        plan_bundle([workspace / "deploy/compose.yml"], workspace, shared_by_colors=True)
    (workspace / "deploy/compose.yml").write_text("include: [nope.yml]\nservices:\n  web: {image: x}\n")
    with pytest.raises(InputError, match=r"nope\.yml, which does not exist"):
        plan_bundle([workspace / "deploy/compose.yml"], workspace, shared_by_colors=True)


def test_include_on_compose_v1_is_one_error_before_anything_changes(tmp_path: Path) -> None:
    compose = "include: [worker.yml]\n" + UPLOADS_AND_VOLUME
    workspace = workspace_with(tmp_path, compose, deploy__worker_yml="services:\n  worker: {image: y}\n")
    (workspace / "deploy/worker_yml").rename(workspace / "deploy/worker.yml")
    fake = FakeHost()
    fake.fail_command("docker", "compose", "version")  # only docker-compose 1.x answers
    with pytest.raises(BluegreenError, match=r"`include:`, which docker-compose 1\.x"):
        deploy(fake, workspace, "v1")
    assert [w for w in fake.writes if not w.endswith((".lock-holder",))] == []
    assert fake.engine.all == []


# --- 16.10: .git is never uploaded; bluegreen's own names are not silently replaced ----------------


def test_git_is_never_uploaded(tmp_path: Path) -> None:
    workspace = workspace_with(tmp_path, "services:\n  web:\n    image: x\n    volumes: ['..:/app']\n")
    (workspace / ".git").mkdir()
    (workspace / ".git" / "config").write_text("[http]\n\textraheader = AUTHORIZATION: basic c2VjcmV0\n")
    (workspace / "app.py").write_text("print()\n")
    bundle = plan_bundle([workspace / "deploy/compose.yml"], workspace, shared_by_colors=True)
    assert {u.remote for u in bundle.uploads} == {"deploy/compose.yml", "app.py"}


def test_a_repository_file_where_bluegreen_writes_its_own_is_refused_with_shared_services(
    tmp_path: Path,
) -> None:
    compose = UPLOADS_AND_VOLUME + "  pg: {}\n"
    compose = compose.replace(
        "volumes:\n  data", "  db:\n    image: postgres\n    env_file: app.env\nvolumes:\n  data"
    )
    workspace = workspace_with(tmp_path, compose, deploy__app_env="POSTGRES_PASSWORD=x\n")
    (workspace / "deploy/app_env").rename(workspace / "deploy/app.env")
    with pytest.raises(InputError, match="where the file bluegreen writes from the `env` input goes"):
        parse_inputs(good(**{"nginx-template": "", "shared-services": "db"}), workspace)
    parse_inputs(good(**{"nginx-template": ""}), workspace)  # no shared services: no clash
