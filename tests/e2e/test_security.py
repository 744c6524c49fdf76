"""Host keys, refused keys, unreachable hosts, bad input and secrets, against the real lab sshd.

Every bad input gives exactly one error naming the input, exit 1, and no change on the host.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import paramiko
import pytest

from bluegreen.ssh import fingerprint_of
from tests.e2e.apps import App, error_lines, reset

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def app(lab: dict[str, Any]) -> Iterator[App]:
    app = App(lab, name="secure", http_port=18600, blue_port=18601, green_port=18602)
    reset(app)
    yield app
    reset(app)


def host_snapshot(app: App) -> tuple[list[tuple[str, int, float]], list[tuple[str, str]]]:
    """This app's files on the server and its containers on the engine: what a run could change."""
    files = sorted(
        (str(path), path.stat().st_size, path.stat().st_mtime)
        for path in app.app_dir.rglob("*")
        if path.is_file()
    )
    client = docker.from_env()
    containers = sorted(
        (c.name or "", c.status)
        for c in client.containers.list(all=True)
        if (c.name or "").startswith(app.name)
    )
    client.close()
    return files, containers


def lab_host_key(lab: dict[str, Any]) -> paramiko.PKey:
    line = Path(lab["known_hosts_file"]).read_text().splitlines()[0]
    entry = paramiko.hostkeys.HostKeyEntry.from_line(line)
    assert entry is not None and entry.key is not None
    return entry.key


@pytest.fixture(scope="module")
def files(lab: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Keys and known_hosts variants the cases below point at."""
    tmp = tmp_path_factory.mktemp("keys")
    other_key, encrypted = tmp / "other_key", tmp / "encrypted_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True)
    shutil.copy(lab["ssh_key_file"], encrypted)
    os.chmod(encrypted, 0o600)
    subprocess.run(["ssh-keygen", "-q", "-p", "-N", "s3cret passphrase", "-f", str(encrypted)], check=True)
    other_host_key = (tmp / "other_key.pub").read_text().split()[:2]
    changed = tmp / "changed_known_hosts"
    changed.write_text(f"[127.0.0.1]:{lab['port']} {' '.join(other_host_key)}\n")
    (tmp / "empty").write_text("")
    (tmp / "not_a_key").write_text("hello, I am not a key\n")
    return {
        "other_key": str(other_key),
        "encrypted": str(encrypted),
        "changed": str(changed),
        "empty": str(tmp / "empty"),
        "not_a_key": str(tmp / "not_a_key"),
        "compose": str(Path(lab["compose_file"])),
        "not_yaml": str(_write(tmp / "bad.yml", "services: [oops\n")),
        "no_services": str(_write(tmp / "none.yml", "volumes: {}\n")),
    }


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections and never says anything: an SSH server that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


BAD = [
    # (flags, input named, words of the error)
    ({"host": ""}, "host", "is required but empty"),
    ({"username": ""}, "username", "is required but empty"),
    ({"app-name": ""}, "app-name", "is required but empty"),
    ({"ssh-key-file": "{empty}"}, "ssh-key", "is required but empty"),
    ({"ssh-key-file": "{not_a_key}"}, "ssh-key", "is not a private key"),
    ({"ssh-key-file": "/nonexistent/key"}, "ssh-key-file", "cannot be read"),
    ({"ssh-key-file": "{encrypted}"}, "ssh-key-passphrase", "is needed"),
    (
        {"ssh-key-file": "{encrypted}", "ssh-key-passphrase": "wrong"},
        "ssh-key-passphrase",
        "does not decrypt",
    ),
    ({"ssh-key-file": "{other_key}"}, "ssh-key", "was refused by deploy@127.0.0.1:"),
    ({"username": "nobody"}, "ssh-key", "was refused by nobody@127.0.0.1:"),
    ({"port": "1"}, "port", "connection to 127.0.0.1:1 was refused"),
    ({"port": "{silent}", "connect-timeout": "2"}, "host", "did not answer within 2 s"),
    ({"known-hosts-file": "{empty}"}, "known-hosts", "is empty, so the host key of [127.0.0.1]:"),
    ({"known-hosts-file": "{changed}"}, "known-hosts", "has CHANGED"),
    (
        {"known-hosts-file": "{empty}", "host-fingerprint": "SHA256:" + "A" * 43},
        "host-fingerprint",
        "does not match",
    ),
    ({"host-fingerprint": "md5:12:34"}, "host-fingerprint", "not a SHA256 fingerprint"),
    ({"compose-file": "/nonexistent/compose.yml"}, "compose-file", "does not exist"),
    ({"compose-file": "{not_yaml}"}, "compose-file", "is not valid YAML"),
    ({"compose-file": "{no_services}"}, "compose-file", "defines no services"),
    ({"nginx-template": "/nonexistent/nginx.conf.j2"}, "nginx-template", "does not exist"),
    ({"health-timeout": "abc"}, "health-timeout", "not a number"),
    ({"drain-timeout": "-1"}, "drain-timeout", "Give a positive number"),
    ({"lock-timeout": "0"}, "lock-timeout", "Give a positive number"),
    ({"health-path": "health"}, "health-path", "starting with '/'"),
    ({"app-name": "my shop"}, "app-name", "Use lowercase letters"),
    ({"app-name": "shop;reboot"}, "app-name", "Use lowercase letters"),
    ({"app-name": "$(reboot)"}, "app-name", "Use lowercase letters"),
    ({"app-name": ".."}, "app-name", "Use lowercase letters"),
    ({"blue-port": "18602"}, "green-port", "equals blue-port"),
]


@pytest.mark.parametrize(("flags", "input_name", "words"), BAD, ids=[f"{c[1]}: {c[2]}" for c in BAD])
def test_bad_input_one_error_naming_the_input_no_change_on_the_host(
    app: App, lab: dict[str, Any], files: dict[str, str], silent_port: int,
    flags: dict[str, str], input_name: str, words: str,
) -> None:  # fmt: skip
    values = {**files, "silent": str(silent_port)}
    resolved = {name: value.format(**values) for name, value in flags.items()}
    before = host_snapshot(app)
    started = time.monotonic()
    run = app.deploy(lab["images"]["v1"], **resolved)
    assert time.monotonic() - started < 15
    assert run.exit_code == 1, run.stderr
    assert len(error_lines(run)) == 1, run.stderr
    # The CLI names the flag the value came from (--ssh-key-file for `ssh-key`) or the input's flag.
    assert re.match(rf"error: --{input_name}(-file)?: ", error_lines(run)[0]), run.stderr
    assert words in error_lines(run)[0]
    assert host_snapshot(app) == before
    assert not app.app_dir.exists()


def test_unknown_command_is_refused(app: App) -> None:
    run = app.run("destroy")
    assert run.exit_code == 2 and "invalid choice: 'destroy'" in run.stderr


def test_fingerprint_instead_of_known_hosts(app: App, lab: dict[str, Any], files: dict[str, str]) -> None:
    fingerprint = fingerprint_of(lab_host_key(lab))
    run = app.run("status", **{"known-hosts-file": files["empty"], "host-fingerprint": fingerprint})
    assert run.expect_ok()["status"] == "ok"


def test_known_hosts_from_ssh_keyscan_dash_h_with_hashed_names(
    app: App, lab: dict[str, Any], tmp_path: Path
) -> None:
    """`ssh-keyscan -H` (and OpenSSH's HashKnownHosts, on by default on Debian and Ubuntu) writes
    `|1|salt|hash` instead of the host's name."""
    name, key_type, key = Path(lab["known_hosts_file"]).read_text().split()[:3]
    hashed = tmp_path / "hashed_known_hosts"
    hashed.write_text(f"# {name} SSH-2.0-OpenSSH\n{paramiko.HostKeys.hash_host(name)} {key_type} {key}\n")
    run = app.run("status", **{"known-hosts-file": str(hashed)})
    assert run.expect_ok()["status"] == "ok"


def test_insecure_opt_out_connects_and_warns_loudly(app: App, files: dict[str, str]) -> None:
    run = app.run("status", **{"known-hosts-file": files["empty"], "insecure-skip-host-key-check": "true"})
    assert run.expect_ok()["status"] == "ok"
    assert (
        "WARNING: insecure-skip-host-key-check is true: the server's identity is NOT verified" in run.stderr
    )
    assert "NOT verified" in run.stderr


def test_secrets_never_reach_the_output(app: App, lab: dict[str, Any], files: dict[str, str]) -> None:
    key_lines = [line for line in Path(files["encrypted"]).read_text().splitlines() if "-----" not in line]
    secret = {"ssh-key-file": files["encrypted"], "ssh-key-passphrase": "s3cret passphrase"}
    runs = [
        app.deploy(lab["images"]["v1"], **secret),
        app.deploy(lab["images"]["broken"], **secret, **{"health-timeout": "2"}),
    ]
    assert runs[0].exit_code == 0, runs[0].stderr
    assert runs[1].exit_code == 1
    for run in runs:
        output = run.stdout + run.stderr
        assert "s3cret" not in output
        assert not [line for line in key_lines if line in output]
    state = (app.app_dir / "state.json").read_text() + (app.app_dir / "audit.log").read_text()
    assert "s3cret" not in state


def test_app_env_reaches_the_containers_through_a_0600_file_and_no_log(
    app: App, lab: dict[str, Any], tmp_path: Path
) -> None:
    compose = Path(lab["compose_file"]).read_text()
    assert "    environment:\n" in compose
    with_env = compose.replace(
        "    environment:\n", '    env_file: ["${BLUEGREEN_ENV_FILE}"]\n    environment:\n'
    )
    (tmp_path / "compose.yml").write_text(with_env)
    secret_value = "postgres://app:hunter2-" + os.urandom(4).hex() + "@db/app"
    run = app.deploy(
        lab["images"]["v1"],
        **{"compose-file": str(tmp_path / "compose.yml"), "env": f"DATABASE_URL={secret_value}\n"},
    )
    result = run.expect_ok()
    color = result["active_color"]
    env_file = app.app_dir / color / "app.env"
    assert env_file.read_text() == f'DATABASE_URL="{secret_value}"\n'
    assert env_file.stat().st_mode & 0o777 == 0o600
    client = docker.from_env()
    (container,) = client.containers.list(filters={"label": f"com.docker.compose.project={app.name}-{color}"})
    assert f"DATABASE_URL={secret_value}" in container.attrs["Config"]["Env"]
    client.close()
    assert secret_value not in run.stdout + run.stderr
    assert "hunter2" not in (app.app_dir / "state.json").read_text() + (app.app_dir / "audit.log").read_text()
