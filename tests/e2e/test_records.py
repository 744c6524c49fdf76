"""Records and inputs the server or the user hands bluegreen, in the lab, with traffic flowing:
malformed release records neither crash a command nor widen a deletion (issue 16.2), an app
directory the deploy user cannot write is one clear error (16.10), and an app name of 63
characters deploys (17.6)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from lab.traffic import Record, describe_failures, failures
from tests.e2e.apps import App, Run, error_lines, live, reset, under_load, write

pytestmark = pytest.mark.lab


def counted(records: list[Record]) -> str:
    """What the load saw, for the log of the run (-s)."""
    summary = f"{len(records)} requests, {len(failures(records))} failed"
    print(summary)
    return summary


def calm(run: Run) -> None:
    """A run that failed the way a user can act on: one error line, no traceback."""
    assert run.exit_code == 1, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert len(error_lines(run)) == 1, run.stderr


def warnings_about(run: Run, text: str) -> list[str]:
    return [line for line in run.stderr.splitlines() if "WARNING:" in line and text in line]


def tree(directory: Path) -> dict[str, tuple[int, int]]:
    """Each path under directory -> (size, mtime in ns): what a run changed there."""
    return {
        str(path.relative_to(directory)): (path.lstat().st_size, path.lstat().st_mtime_ns)
        for path in directory.rglob("*")
    }


# ---- 16.2: malformed release records -----------------------------------------------------------


def test_malformed_release_records_neither_crash_nor_delete(lab: dict[str, Any]) -> None:
    app = App(lab, "records-rec", 21550, 21551, 21552)
    reset(app)
    try:
        app.deploy(lab["images"]["v1"]).expect_ok()
        app.deploy(lab["images"]["v2"]).expect_ok()  # green live, blue kept
        record = app.app_dir / "green" / "release.json"
        original = json.loads(record.read_bytes())
        green_release = app.app_dir / "green" / "releases" / original["release_id"]
        green_files = tree(green_release)
        assert green_files

        record.write_bytes(b"[" * 300_000)  # the live color's record
        status = app.run("status")
        assert status.exit_code == 0 and "Traceback" not in status.stderr, status.stderr
        assert status.result["active_color"] == "green"
        assert len(warnings_about(status, str(record))) == 1, status.stderr

        deploy, records = under_load(lambda: app.deploy(lab["images"]["v1"]), app)
        assert deploy.expect_ok()["active_color"] == "blue"
        assert failures(records) == [], describe_failures(records)
        counted(records)
        blue_release = (
            app.app_dir
            / "blue"
            / "releases"
            / json.loads((app.app_dir / "blue" / "release.json").read_bytes())["release_id"]
        )
        blue_files = tree(blue_release)

        without_id = {key: value for key, value in original.items() if key != "release_id"}
        for content in (b"[" * 300_000, json.dumps(without_id).encode()):
            record.write_bytes(content)
            rollback, records = under_load(lambda: app.run("rollback"), app)
            calm(rollback)
            assert "nothing to roll back to: green is no longer kept" in error_lines(rollback)[0]
            assert len(warnings_about(rollback, str(record))) == 1, rollback.stderr
            assert failures(records) == [], describe_failures(records)
            counted(records)
            assert live(app) == ("v1", "blue")
            assert tree(green_release) == green_files  # the kept color's files, all still there
            assert tree(blue_release) == blue_files  # the running color's
    finally:
        reset(app)


# ---- 16.10: an app directory the deploy user cannot write --------------------------------------


def test_a_remote_dir_owned_by_root_is_one_error_naming_it(lab: dict[str, Any]) -> None:
    remote_dir = Path(lab["remote_dir"]) / "records-rootowned"
    shutil.rmtree(remote_dir, ignore_errors=True)
    remote_dir.mkdir(mode=0o755)
    os.chown(remote_dir, 0, 0)
    app = App(lab, "records-perm", 21540, 21541, 21542, extra={"remote-dir": str(remote_dir)})
    try:
        for command in ("deploy", "rollback"):
            run = app.run(command, lab["images"]["v1"])
            calm(run)
            assert error_lines(run)[0] == (
                f"error: deploy cannot write in {remote_dir} on the host (permission denied). Fix: `sudo "
                f"install -d -o deploy {remote_dir / app.name}` on the server (or a remote-dir deploy owns)"
            )
            assert list(remote_dir.iterdir()) == []
    finally:
        shutil.rmtree(remote_dir, ignore_errors=True)


def test_an_app_directory_made_root_owned_is_one_error_and_the_app_keeps_serving(
    lab: dict[str, Any],
) -> None:
    app = App(lab, "records-chowned", 21543, 21544, 21545)
    reset(app)
    owner = Path(lab["remote_dir"]).stat()
    try:
        app.deploy(lab["images"]["v1"]).expect_ok()
        app.deploy(lab["images"]["v2"]).expect_ok()
        os.chown(app.app_dir, 0, 0)  # `sudo chown root` of the app's folder, mode 755
        app.app_dir.chmod(0o755)
        before = tree(app.app_dir)
        for command in ("deploy", "rollback"):
            run, records = under_load(lambda: app.run(command, lab["images"]["v1"]), app)  # noqa: B023
            calm(run)
            assert error_lines(run)[0] == (
                f"error: deploy cannot write in {app.app_dir} on the host (permission denied). "
                f"Fix: `sudo chown deploy {app.app_dir}` on the server"
            )
            assert failures(records) == [], describe_failures(records)
            counted(records)
            assert live(app) == ("v2", "green")
            assert tree(app.app_dir) == before
    finally:
        os.chown(app.app_dir, owner.st_uid, owner.st_gid)
        reset(app)


# ---- 17.6: an app name of 63 characters --------------------------------------------------------

LONG_NAME = ("records-" + "a-long-app-name-" * 4)[:63]


def reload_mode_template(lab: dict[str, Any], tmp_path: Path) -> str:
    """The lab's template without bluegreen's switch variables: every switch is a reload."""
    text = Path(lab["nginx_template"]).read_text()
    for seamless, reload in (
        ("{{ bluegreen_main }}", ""),
        ("{{ bluegreen_upstreams | indent(4, first=True) }}", ""),
        ("{{ bluegreen_backend }}", "{{ upstream }}"),
    ):
        assert seamless in text
        text = text.replace(seamless, reload)
    return write(tmp_path, "reload.conf.j2", text)


def test_an_app_name_of_63_characters_deploys_in_both_switch_modes_under_load(
    lab: dict[str, Any], tmp_path: Path
) -> None:
    assert len(LONG_NAME) == 63
    app = App(lab, LONG_NAME, 21530, 21531, 21532)
    reset(app)
    reload_mode = {"nginx-template": reload_mode_template(lab, tmp_path)}
    try:
        assert app.deploy(lab["images"]["v1"]).expect_ok()["switch_mode"] == "seamless"
        for version, mode, overrides in (("v2", "seamless", {}), ("v1", "reload", reload_mode)):
            run, records = under_load(lambda: app.deploy(lab["images"][version], **overrides), app)  # noqa: B023
            assert run.expect_ok()["switch_mode"] == mode, run.stderr
            assert failures(records) == [], describe_failures(records)
            counted(records)
            assert live(app)[0] == version
    finally:
        reset(app)
