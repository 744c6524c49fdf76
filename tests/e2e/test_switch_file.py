"""Issue 17, findings 1 and 2, in the lab under load, with clients that never retry.

1. The active-color file deleted, emptied, overwritten with garbage or a partial name, or made
   unreadable for nginx's workers while green is live: no request fails (njs keeps the last color
   it read), `status` says what is wrong, and the next deploy rewrites the file and switches.
2. A server whose deploy user has `umask 027` (sshd started under it: remote commands and SFTP
   both inherit it): v1 -> v2 -> v3 under load, 0 failed; then the proxy's directory made 0750
   while live: no outage, and the next deploy fails before its switch naming the directory and
   its mode.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from lab import recipes
from lab.settings import DEPLOY_UID
from lab.traffic import Traffic, describe_failures, failures
from tests.e2e.apps import App, Run, live, reset
from tests.e2e.test_seamless import STRICT_LOAD, own_nginx_with_njs

pytestmark = pytest.mark.lab

UMASK_SERVER = "switchfile-umask-server"
UMASK_SSHD_PORT = 21250


def chown_to_deploy(path: Path) -> None:
    os.chown(path, DEPLOY_UID, DEPLOY_UID)


def breakers(app: App) -> dict[str, Callable[[Path], None]]:
    partial = f"bluegreen_{app.name.replace('-', '_')}_gre\n"

    def write(text: str) -> Callable[[Path], None]:
        def apply(path: Path) -> None:
            path.write_text(text)
            chown_to_deploy(path)

        return apply

    def unreadable(path: Path) -> None:
        path.chmod(0o600)  # owned by the deploy user: bluegreen reads it, nginx's workers cannot

    return {
        "deleted": lambda path: path.unlink(),
        "empty": write(""),
        "garbage": write("garbage\n"),
        "partial name": write(partial),
        "unreadable for nginx": unreadable,
    }


@pytest.fixture
def green(lab: dict[str, Any]) -> Iterator[App]:
    app = App(lab, name="switchfile-broken", http_port=21200, blue_port=21201, green_port=21202)
    reset(app)
    for version in ("v1", "v2"):
        app.deploy(lab["images"][version]).expect_ok()
    assert live(app) == ("v2", "green")
    yield app
    reset(app)


def test_a_broken_active_file_fails_no_request_status_says_so_and_the_next_deploy_repairs_it(
    green: App, lab: dict[str, Any]
) -> None:
    active = green.app_dir / "nginx" / "active"
    good = active.read_text()
    statuses: dict[str, Run] = {}
    with Traffic(green.url, **STRICT_LOAD) as load:  # type: ignore[arg-type]
        time.sleep(0.5)
        for how, apply in breakers(green).items():
            apply(active)
            time.sleep(1.0)  # every worker has read the broken file many times
            statuses[how] = green.run("status")
            active.write_text(good)
            active.chmod(0o644)
            chown_to_deploy(active)
        active.unlink()
        time.sleep(1.0)
        run = green.deploy(lab["images"]["v1"])
        time.sleep(1.0)
    for how, status in statuses.items():
        assert status.expect_ok()["active_color"] == "green", (how, status.stderr)
        expected = "cannot read" if how == "unreadable for nginx" else f"the active-color file {active}"
        assert expected in status.stderr, (how, status.stderr)
    run.expect_ok()
    assert (
        f"the active-color file {active} is missing; nginx serves green: the file is rewritten" in run.stderr
    )
    assert live(green) == ("v1", "blue")
    assert len(load.records) > 1000
    assert failures(load.records) == [], describe_failures(load.records)


# ---- a server with umask 027 ------------------------------------------------------------------


@pytest.fixture
def umask_server(lab: dict[str, Any], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A lab server whose sshd (and so every session of `deploy`: commands and SFTP) runs under
    umask 027, as on a hardened server."""
    ssh_dir = Path(lab["ssh_key_file"]).parent
    home = ssh_dir.parent / "home" / "switchfile-umask"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    chown_to_deploy(home)
    host_key_pub = (ssh_dir / "ssh_host_ed25519_key_v2.pub").read_text().split()[:2]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{UMASK_SSHD_PORT} {' '.join(host_key_pub)}\n")
    client = docker.from_env()
    for old in client.containers.list(all=True, filters={"name": f"^{UMASK_SERVER}$"}):
        old.remove(force=True)
    server = client.containers.run(
        recipes.SERVER_V2.tag, name=UMASK_SERVER, network_mode="host", detach=True,
        entrypoint=["sh", "-c", "umask 027 && exec /usr/local/bin/lab-server-entry"],
        environment={"SSHD_PORT": str(UMASK_SSHD_PORT), "DEPLOY_HOME": str(home)},
        volumes={
            "/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"},
            str(home): {"bind": str(home), "mode": "rw"},
            str(ssh_dir / "authorized_keys"): {"bind": "/etc/lab/authorized_keys", "mode": "ro"},
            str(ssh_dir / "ssh_host_ed25519_key_v2"): {"bind": "/etc/lab/ssh_host_ed25519_key", "mode": "ro"},
        },
    )  # fmt: skip
    info = {**lab, "port": UMASK_SSHD_PORT, "known_hosts_file": str(known_hosts), "remote_dir": str(home)}
    ssh = [
        "ssh", "-i", lab["ssh_key_file"], "-o", f"UserKnownHostsFile={known_hosts}", "-o", "BatchMode=yes",
        "-p", str(UMASK_SSHD_PORT), "deploy@127.0.0.1",
    ]  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        answer = subprocess.run([*ssh, "umask"], capture_output=True, text=True, check=False)
        if answer.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert answer.stdout.strip() == "0027", answer  # remote commands run under umask 027
    sftp = subprocess.run(
        ["sftp", "-b", "-", "-i", lab["ssh_key_file"], "-o", f"UserKnownHostsFile={known_hosts}",
         "-P", str(UMASK_SSHD_PORT), "deploy@127.0.0.1"],
        input=f"put {known_hosts} {home}/sftp-probe\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    if sftp.returncode == 0:  # where the machine has an sftp client: SFTP writes get umask 027 too
        assert (home / "sftp-probe").stat().st_mode & 0o777 == 0o640, sftp
        (home / "sftp-probe").unlink()
    try:
        yield info
    finally:
        server.remove(force=True)
        client.close()
        shutil.rmtree(home, ignore_errors=True)


def test_a_server_with_umask_027_deploys_under_load_and_a_0750_directory_is_refused_before_the_switch(
    umask_server: dict[str, Any],
) -> None:
    app = App(umask_server, name="switchfile-umask", http_port=21210, blue_port=21211, green_port=21212)
    reset(app)
    images = umask_server["images"]
    try:
        app.deploy(images["v1"]).expect_ok()
        assert (app.app_dir.stat().st_mode & 0o777) == 0o750, "the server's umask did not apply"
        nginx_dir = app.app_dir / "nginx"
        assert (nginx_dir.stat().st_mode & 0o777) == 0o755
        assert ((nginx_dir / "active").stat().st_mode & 0o777) == 0o644
        with Traffic(app.url, **STRICT_LOAD) as load:  # type: ignore[arg-type]
            time.sleep(0.5)
            runs = [app.deploy(images[version]) for version in ("v2", "v1")]
            time.sleep(0.5)
            nginx_dir.chmod(0o750)
            time.sleep(1.0)
            status = app.run("status")
            refused = app.deploy(images["v2"])
            time.sleep(1.0)
        for run in runs:
            assert run.expect_ok()["switch_mode"] == "seamless", run.stderr
        assert status.expect_ok()["active_color"] == "blue"
        assert "cannot read" in status.stderr, status.stderr
        assert refused.exit_code == 1, refused.stderr
        assert f"{nginx_dir} is mode 0750, owner deploy:deploy" in refused.stderr, refused.stderr
        assert f"chmod o+x {nginx_dir}" in refused.stderr
        assert "nothing was switched" in refused.stderr
        assert live(app) == ("v1", "blue")
        assert len(load.records) > 1000
        assert failures(load.records) == [], describe_failures(load.records)
    finally:
        reset(app)


def test_your_own_nginx_whose_folder_its_workers_cannot_search_refuses_the_switch_with_the_fix(
    lab: dict[str, Any], tmp_path: Path
) -> None:
    """proxy-container, seamless: the mounted conf.d made 0750 (owned by the deploy user) while
    green is live. No request fails (njs keeps the last color it read); the next deploy is refused
    before its switch, naming the folder, its mode and the chmod; after the chmod it deploys."""
    root = Path(lab["remote_dir"]) / "switchfile-own-nginx"
    conf_d = root / "conf.d"
    nginx = own_nginx_with_njs(lab, "switchfile-nginx", root, tmp_path)
    app = App(
        lab, name="switchfile-own", http_port=21220, blue_port=21221, green_port=21222, workspace=tmp_path
    )
    reset(app)
    app.extra.update({
        "nginx-template": "site.conf.j2",
        "proxy-container": "switchfile-nginx",
        "proxy-config-file": str(conf_d / "site.conf"),
    })  # fmt: skip
    try:
        for version in ("v1", "v2"):
            assert app.deploy(lab["images"][version]).expect_ok()["switch_mode"] == "seamless"
        with Traffic(app.url, **STRICT_LOAD) as load:  # type: ignore[arg-type]
            time.sleep(0.5)
            conf_d.chmod(0o750)
            time.sleep(1.0)
            refused = app.deploy(lab["images"]["v1"])
            time.sleep(0.5)
            conf_d.chmod(0o755)
            fixed = app.deploy(lab["images"]["v1"])
            time.sleep(1.0)
        assert refused.exit_code == 1, refused.stderr
        assert f"{conf_d} is mode 0750, owner deploy:deploy" in refused.stderr, refused.stderr
        assert f"chmod o+x {conf_d}" in refused.stderr
        assert "nothing was switched" in refused.stderr
        assert fixed.expect_ok()["active_color"] == "blue"
        assert live(app) == ("v1", "blue")
        assert len(load.records) > 1000
        assert failures(load.records) == [], describe_failures(load.records)
    finally:
        reset(app)
        nginx.remove(force=True)
        shutil.rmtree(root, ignore_errors=True)
