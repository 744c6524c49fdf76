"""The user's own nginx container in states the blog's setup does not show (issue 17, findings 7
and 9): started with `-c /etc/nginx/…/other.conf`, shared by apps deployed through two servers
with their own remote-dirs, and an upload cut by a dropped SSH connection.

Each nginx here is the lab's proxy image started with `nginx -c <file> -g "daemon off;"`: its image
still holds Debian's /etc/nginx/nginx.conf, which includes none of the apps' files, so an
`nginx -t` of that default file passes whatever the apps' files say.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import paramiko
import pytest

from bluegreen import commands
from bluegreen.config import load_private_key
from bluegreen.progress import StderrReporter
from bluegreen.proxy import Candidate
from bluegreen.ssh import HostKeyCheck, SshHost, connect
from bluegreen.user_proxy import UserProxy
from lab.settings import LAB_LABEL, lab_name
from lab.traffic import Traffic, describe_failures, failures, get_once
from tests.e2e.apps import App, Run, reset
from tests.e2e.test_own_nginx import owned_by_deploy, server_block

pytestmark = pytest.mark.lab

LOAD = {"clients": 8, "rate": 120.0, "slow_clients": 4, "slow_ms": 1000}
BAD_DIRECTIVE = "userproxy_unknown_directive on;"


def run_nginx_with_c(
    lab: dict[str, Any], name: str, config: str, volumes: dict[str, str], options: tuple[str, ...] = ()
) -> Any:
    """The user's nginx, started with `-c config` after `options` (volumes: host path -> container
    path, read-only)."""
    client = docker.from_env()
    for container in client.containers.list(all=True, filters={"name": f"^{name}$"}):
        container.remove(force=True)
    argv = ["nginx", *options, "-c", config, "-g", "daemon off;"]
    container = client.containers.run(
        lab["proxy_image"], argv, name=name, network_mode="host", detach=True, labels={LAB_LABEL: lab_name()},
        volumes={source: {"bind": target, "mode": "ro"} for source, target in volumes.items()},
    )  # fmt: skip
    client.close()
    return container


def other_conf(*includes: str) -> str:
    lines = "\n".join(f"    include {pattern};" for pattern in includes)
    head = "error_log stderr notice;\nevents { worker_connections 256; }\n"
    return f"{head}http {{\n    access_log off;\n{lines}\n}}\n"


def a_fresh_second() -> int:
    """The next whole second, once it has begun: Docker's `logs(since=)` counts whole seconds, so a
    moment taken inside the second of an earlier reload would count that reload too."""
    second = int(time.time()) + 1
    time.sleep(second - time.time())
    return second


def reloads_logged(nginx: Any, since: int) -> list[str]:
    """nginx's own log lines of a reload (a HUP) since a whole second (see `a_fresh_second`)."""
    logs = nginx.logs(since=since, stdout=True, stderr=True).decode(errors="replace")
    return [line for line in logs.splitlines() if "SIGHUP" in line or "reconfiguring" in line]


def nginx_test(nginx: Any, config: str) -> tuple[int, str]:
    code, output = nginx.exec_run(["nginx", "-t", "-c", config, "-g", "daemon off;"])
    return code, output.decode(errors="replace")


def serving(url: str, server_name: str) -> tuple[str, str]:
    status, headers = get_once(url, "/", server_name)
    assert status == 200, (status, headers)
    return headers["x-app-version"], headers["x-app-color"]


def app_behind(
    lab: dict[str, Any], workspace: Path, name: str, ports: tuple[int, int, int], config_file: Path,
    nginx: str, compose_v1: bool = False,
) -> App:  # fmt: skip
    server_name = f"{name}.lab.test"
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "nginx.conf.j2").write_text(server_block(name, server_name))
    (workspace / "bad.conf.j2").write_text(
        server_block(name, server_name).replace("keepalive 16;", f"keepalive 16;\n    {BAD_DIRECTIVE}")
    )
    http_port, blue, green = ports
    app = App(lab, name=name, http_port=http_port, blue_port=blue, green_port=green, workspace=workspace,
              compose_v1=compose_v1)  # fmt: skip
    reset(app)
    app.extra.update({
        "nginx-template": "nginx.conf.j2",
        "proxy-container": nginx,
        "proxy-config-file": str(config_file),
        "verify-url": f"http://{server_name}:{http_port}/health",
    })  # fmt: skip
    return app


# ---- 17.7: nginx started with -c -------------------------------------------------------------


@pytest.fixture(params=["absolute", "relative"])
def c_nginx(lab: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[tuple[Any, Path]]:
    """nginx run with `-c /etc/nginx/userproxy/other.conf`, or with `-p /etc/nginx/userproxy/
    -e stderr -c other.conf` (a relative -c resolves against the prefix)."""
    root = Path(lab["remote_dir"]) / "userproxy-c"
    shutil.rmtree(root, ignore_errors=True)
    (root / "sites").mkdir(parents=True)
    (root / "other.conf").write_text(other_conf("/etc/nginx/userproxy/sites/*"))
    owned_by_deploy(root)
    volumes = {str(root): "/etc/nginx/userproxy"}
    if request.param == "absolute":
        nginx = run_nginx_with_c(lab, "userproxy-c-nginx", "/etc/nginx/userproxy/other.conf", volumes)
    else:
        options = ("-p", "/etc/nginx/userproxy/", "-e", "stderr")
        nginx = run_nginx_with_c(lab, "userproxy-c-nginx", "other.conf", volumes, options)
    yield nginx, root
    nginx.remove(force=True)
    shutil.rmtree(root, ignore_errors=True)


def test_nginx_started_with_c_refuses_a_bad_template_and_switches_a_good_one_under_load(
    lab: dict[str, Any], tmp_path: Path, c_nginx: tuple[Any, Path]
) -> None:
    nginx, root = c_nginx
    live = root / "sites" / "upc.conf"
    app = app_behind(lab, tmp_path, "upc", (21630, 21631, 21632), live, "userproxy-c-nginx")
    url, server_name = "http://127.0.0.1:21630", "upc.lab.test"
    try:
        app.deploy(lab["images"]["v1"]).expect_ok()
        assert serving(url, server_name) == ("v1", "blue")
        before, since = live.read_bytes(), a_fresh_second()

        with Traffic(url, server_name=server_name, **LOAD) as load:  # type: ignore[arg-type]
            time.sleep(0.5)
            refused = app.deploy(lab["images"]["v2"], **{"nginx-template": "bad.conf.j2"})
            time.sleep(1.0)
        assert refused.exit_code == 1, refused.stderr
        assert "nginx rejected the rendered config (nginx -t), nothing was switched" in refused.stderr
        assert f'unknown directive "userproxy_unknown_directive" in {"/etc/nginx/userproxy/sites"}' in (
            refused.stderr
        )
        assert live.read_bytes() == before
        assert reloads_logged(nginx, since) == []
        print(f"bad template refused: {len(load.records)} requests, {len(failures(load.records))} failed")
        assert failures(load.records) == [], describe_failures(load.records)
        assert len(load.records) > 100
        assert serving(url, server_name) == ("v1", "blue")

        with Traffic(url, server_name=server_name, **LOAD) as load:  # type: ignore[arg-type]
            time.sleep(0.5)
            app.deploy(lab["images"]["v2"]).expect_ok()
            time.sleep(1.0)
        print(f"good template switched: {len(load.records)} requests, {len(failures(load.records))} failed")
        assert failures(load.records) == [], describe_failures(load.records)
        assert serving(url, server_name) == ("v2", "green")
        assert reloads_logged(nginx, since)  # the good one was loaded with a reload
    finally:
        reset(app)


# ---- 17.7: apps through two servers, with two remote-dirs, take turns on one nginx ------------


@contextmanager
def switch_lock_held(container: str, holder: str) -> Iterator[None]:
    """Hold the nginx container's switch lock as another app's switch does (the same command)."""
    argv = commands.in_container(
        container, commands.switch_lock(commands.SWITCH_LOCK_FILE, holder, 60), stdin=True
    )
    held = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert held.stdout is not None
        assert held.stdout.readline().decode().strip() == commands.LOCK_ACQUIRED
        yield
    finally:
        assert held.stdin is not None
        held.stdin.close()
        held.wait(timeout=10)


def deploying(runs: dict[str, Run], key: str, app: App, image: str, **overrides: str) -> threading.Thread:
    """A deploy on its own thread; its Run lands in runs[key]."""
    thread = threading.Thread(target=lambda: runs.__setitem__(key, app.deploy(image, **overrides)))
    thread.start()
    return thread


def a_switch_waits(nginx: Any, app: str, until: Callable[[], bool], timeout: float) -> bool:
    """Whether app's switch comes to wait for the nginx's switch lock (its script, holder `app
    <name> …` among its arguments, polls `flock -n`) before `until()` is true or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until():
        commands_running = [str(row[-1]) for row in nginx.top()["Processes"]]
        if any("lock=$1" in command and f" app {app} (" in command for command in commands_running):
            return True
        time.sleep(0.1)
    return False


def test_apps_with_their_own_servers_and_remote_dirs_take_turns_on_one_nginx(
    lab: dict[str, Any], tmp_path: Path
) -> None:
    """shop deploys through server-v2 (remote-dir home/v2), blog through server-v1 (home/v1, its own
    sshd and /tmp): nothing on the servers' file systems is common to both, the nginx is."""
    root_a, root_b = (
        Path(lab["remote_dir"]) / "userproxy-turns",
        Path(lab["compose_v1_remote_dir"]) / "userproxy-turns",
    )
    for root in (root_a, root_b):
        shutil.rmtree(root, ignore_errors=True)
        (root / "sites").mkdir(parents=True)
    (root_a / "other.conf").write_text(other_conf("/etc/nginx/turns/sites/*", "/etc/nginx/turns-b/*"))
    for root in (root_a, root_b):
        owned_by_deploy(root)
    mounts = {str(root_a): "/etc/nginx/turns", str(root_b / "sites"): "/etc/nginx/turns-b"}
    nginx = run_nginx_with_c(lab, "userproxy-turns-nginx", "/etc/nginx/turns/other.conf", mounts)
    shop = app_behind(lab, tmp_path / "shop", "upshop", (21610, 21611, 21612), root_a / "sites" / "shop.conf",
                      "userproxy-turns-nginx")  # fmt: skip
    blog = app_behind(lab, tmp_path / "blog", "upblog", (21610, 21621, 21622), root_b / "sites" / "blog.conf",
                      "userproxy-turns-nginx", compose_v1=True)  # fmt: skip
    url = "http://127.0.0.1:21610"
    try:
        shop.deploy(lab["images"]["v1"]).expect_ok()
        blog.deploy(lab["images"]["v1"]).expect_ok()
        loads = [Traffic(url, server_name=f"{name}.lab.test", **LOAD) for name in ("upshop", "upblog")]  # type: ignore[arg-type]
        for load in loads:
            load.start()
        time.sleep(0.5)

        # One waits: while another app's switch holds the nginx, shop's switch does not start.
        shop_file = root_a / "sites" / "shop.conf"
        before = shop_file.read_bytes()
        runs: dict[str, Run] = {}
        with switch_lock_held("userproxy-turns-nginx", "app other (a test holding the switch)"):
            shop_deploy = deploying(runs, "shop", shop, lab["images"]["v2"])
            switched = lambda: shop_file.read_bytes() != before or "shop" in runs  # noqa: E731
            assert a_switch_waits(nginx, "upshop", switched, timeout=120), (
                "shop's switch did not wait for the lock"
            )
            time.sleep(1.0)  # it keeps waiting
            assert shop_file.read_bytes() == before, "shop switched while another app held the nginx"
            assert "shop" not in runs
        shop_deploy.join()
        assert runs["shop"].exit_code == 0, runs["shop"].stderr
        assert serving(url, "upshop.lab.test") == ("v2", "green")

        # Both at once, one with a bad template: it is refused, the other is never hurt by it.
        for round_number, image in enumerate(("v1", "v2")):
            threads = [
                deploying(runs, "shop", shop, lab["images"][image]),
                deploying(runs, "blog", blog, lab["images"]["v2"], **{"nginx-template": "bad.conf.j2"}),
            ]
            for thread in threads:
                thread.join()
            assert runs["shop"].exit_code == 0, (round_number, runs["shop"].stderr)
            assert runs["blog"].exit_code == 1, (round_number, runs["blog"].stderr)
            assert "nginx rejected the rendered config" in runs["blog"].stderr
            assert serving(url, "upshop.lab.test")[0] == image
            assert serving(url, "upblog.lab.test") == ("v1", "blue")
        time.sleep(1.0)
        records = [record for load in loads for record in load.stop()]
        print(f"two apps taking turns: {len(records)} requests, {len(failures(records))} failed")
        assert failures(records) == [], describe_failures(records)
        assert len(records) > 200
    finally:
        for app in (shop, blog):
            reset(app)
        nginx.remove(force=True)
        for root in (root_a, root_b):
            shutil.rmtree(root, ignore_errors=True)


# ---- 17.9: an upload cut by a dropped connection ----------------------------------------------


def ssh_host(lab: dict[str, Any]) -> SshHost:
    key = load_private_key(Path(lab["ssh_key_file"]).read_text(), "")
    check = HostKeyCheck(known_hosts=Path(lab["known_hosts_file"]).read_text())
    return connect(lab["host"], int(lab["port"]), lab["username"], key, check, 10)


def drop_connection_half_way_through(monkeypatch: pytest.MonkeyPatch, host: SshHost, marker: bytes) -> None:
    """From now on, the SSH connection drops once half of the bytes holding `marker` are sent: by
    SFTP (the server wrote them) or as a command's stdin (the command read them)."""
    write, sendall = paramiko.SFTPFile.write, paramiko.Channel.sendall

    def cut(send: Any, target: Any, data: bytes) -> None:
        send(target, data[: len(data) // 2])
        if isinstance(target, paramiko.SFTPFile):
            target.flush()  # waits for the server's reply: the half is on its disk
        else:
            time.sleep(0.5)  # the half reached the command
        host._client.close()
        raise EOFError("the SSH connection dropped (cut by the test)")

    def cutting_write(self: paramiko.SFTPFile, data: bytes) -> None:
        if marker in bytes(data):
            cut(write, self, bytes(data))
        write(self, data)

    def cutting_sendall(self: paramiko.Channel, data: bytes) -> None:
        if marker in bytes(data):
            cut(sendall, self, bytes(data))
        sendall(self, data)

    monkeypatch.setattr(paramiko.SFTPFile, "write", cutting_write)
    monkeypatch.setattr(paramiko.Channel, "sendall", cutting_sendall)


def site_config(port: int, words: str) -> bytes:
    """A server block long enough that half of it is no config (`{` left open)."""
    comment = "".join(f"    # {words} {n}\n" for n in range(8))
    location = f"    location / {{ return 200 '{words}\\n'; }}\n"
    return f"server {{\n    listen 127.0.0.1:{port};\n{comment}{location}}}\n".encode()


@pytest.mark.parametrize("single_file", [False, True], ids=["directory-mount", "single-file-mount"])
def test_an_upload_cut_by_a_dropped_connection_leaves_nothing_nginx_loads(
    lab: dict[str, Any], single_file: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(lab["remote_dir"]) / f"userproxy-cut-{int(single_file)}"
    remote_dir = f"{lab['remote_dir']}/userproxy-cut-apps-{int(single_file)}"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(remote_dir, ignore_errors=True)
    (root / "sites").mkdir(parents=True)
    (Path(remote_dir) / "upcut").mkdir(parents=True)
    port = 21640 + int(single_file)
    if single_file:  # the file itself is mounted; other.conf includes it
        live = root / "upcut.conf"
        (root / "other.conf").write_text(other_conf("/etc/nginx/cut/upcut.conf"))
        volumes = {
            str(root / "other.conf"): "/etc/nginx/cut/other.conf",
            str(live): "/etc/nginx/cut/upcut.conf",
        }
    else:  # the folder is mounted; other.conf includes everything in it, as `sites-enabled/*`
        live = root / "sites" / "upcut.conf"
        (root / "other.conf").write_text(other_conf("/etc/nginx/cut/sites/*"))
        volumes = {str(root): "/etc/nginx/cut"}
    live.write_bytes(site_config(port, "old"))
    owned_by_deploy(root)
    owned_by_deploy(Path(remote_dir))
    name = f"userproxy-cut-{int(single_file)}-nginx"
    nginx = run_nginx_with_c(lab, name, "/etc/nginx/cut/other.conf", volumes)
    new = site_config(port, "new")
    try:
        time.sleep(0.5)
        assert get_once(f"http://127.0.0.1:{port}", "/", "x")[0] == 200
        host = ssh_host(lab)
        proxy = UserProxy(host, "upcut", name, str(live), remote_dir, StderrReporter())
        proxy.check()
        assert proxy.mount.single_file is single_file
        with monkeypatch.context() as patch, pytest.raises(Exception):  # noqa: B017
            drop_connection_half_way_through(patch, host, b"# new 3")
            proxy.switch(Candidate(new))

        code, output = nginx_test(nginx, "/etc/nginx/cut/other.conf")
        assert code == 0, output  # no partial file is loaded
        assert live.read_bytes() == site_config(port, "old")
        partials = [p for p in [*root.rglob("*"), *Path(remote_dir).rglob("*")] if ".tmp-" in p.name]
        assert partials, "the upload was not cut"
        assert all(p.name.startswith(".") for p in partials), partials

        again = ssh_host(lab)  # a later deploy: the lock was let go with the dropped connection
        proxy = UserProxy(again, "upcut", name, str(live), remote_dir, StderrReporter())
        proxy.check()
        started = time.monotonic()
        proxy.switch(Candidate(new))
        assert time.monotonic() - started < 10
        assert live.read_bytes() == new
        assert get_once(f"http://127.0.0.1:{port}", "/", "x")[0] == 200
        again.close()
    finally:
        nginx.remove(force=True)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(remote_dir, ignore_errors=True)
