"""Bringing the lab up and down. `up` = prepare + compose up + publish; the pytest fixtures run
the same steps with pytest-docker doing the compose part."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import docker

from lab import keys, recipes
from lab.build import ensure_images
from lab.cleanup import remove_lab_resources
from lab.compose import run_compose
from lab.progress import say
from lab.readiness import registry_answers, sshd_answers, wait_until
from lab.registry import push
from lab.settings import (
    DEMO_REPOSITORY,
    DEPLOY_UID,
    EXAMPLE_DIR,
    HOST,
    NGINX_REPOSITORY,
    USERNAME,
    LabPaths,
    lab_name,
    lab_paths,
    ports,
)

SERVER_FLAVOURS = ("v2", "v1")


@contextmanager
def lab_lock(paths: LabPaths) -> Iterator[None]:
    """One lab operation at a time on this machine (engineers share its lab)."""
    paths.lock_file.parent.mkdir(parents=True, exist_ok=True)
    with paths.lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_keys(paths: LabPaths) -> bool:
    """Creates the lab's keys unless they exist (a running lab keeps its keys).
    Returns True when new keys were written."""
    wanted = [paths.client_key, *(paths.host_key(f) for f in SERVER_FLAVOURS)]
    if all(p.is_file() and p.with_name(p.name + ".pub").is_file() for p in wanted):
        return False
    say("generating client and host keys")
    client_public = keys.write_key_pair(paths.client_key, "bluegreen-lab-client")
    for flavour in SERVER_FLAVOURS:
        keys.write_key_pair(paths.host_key(flavour), f"bluegreen-lab-server-{flavour}")
    keys.write_authorized_keys(paths.authorized_keys, [client_public])
    return True


def _write_env(paths: LabPaths) -> None:
    p = ports()
    values = {
        "BGLAB_NAME": lab_name(),
        "BGLAB_DIR": str(paths.root),
        "BGLAB_REGISTRY_IMAGE": recipes.REGISTRY.tag,
        "BGLAB_SERVER_V2_IMAGE": recipes.SERVER_V2.tag,
        "BGLAB_SERVER_V1_IMAGE": recipes.SERVER_V1.tag,
        "BGLAB_REGISTRY_PORT": str(p.registry),
        "BGLAB_SERVER_V2_PORT": str(p.server_v2),
        "BGLAB_SERVER_V1_PORT": str(p.server_v1),
    }
    paths.env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))


def prepare() -> bool:
    """Builds missing images and writes the lab dir (keys, known_hosts, homes, env file) so that
    lab/compose.yml can start. Returns True when keys are new: running servers must then be
    recreated (compose up --force-recreate)."""
    paths = lab_paths()
    with lab_lock(paths):
        ensure_images(docker.from_env(), recipes.ALL_IMAGES)
        paths.root.mkdir(parents=True, exist_ok=True)
        fresh_keys = _write_keys(paths)
        p = ports()
        keys.write_known_hosts(
            paths.known_hosts,
            [
                (HOST, p.server_v2, keys.public_key_line(paths.host_key("v2"))),
                (HOST, p.server_v1, keys.public_key_line(paths.host_key("v1"))),
            ],
        )
        for flavour in SERVER_FLAVOURS:
            home = paths.home(flavour)
            home.mkdir(parents=True, exist_ok=True)
            os.chown(home, DEPLOY_UID, DEPLOY_UID)
        paths.registry_data.mkdir(parents=True, exist_ok=True)
        _write_env(paths)
        return fresh_keys


def images() -> dict[str, str]:
    registry = f"{HOST}:{ports().registry}"
    return {version: f"{registry}/{DEMO_REPOSITORY}:{version}" for version in recipes.DEMO}


def proxy_image() -> str:
    digest = recipes.NGINX.tag.rsplit(":", 1)[1]
    return f"{HOST}:{ports().registry}/{NGINX_REPOSITORY}:{digest}"


def describe(paths: LabPaths) -> dict[str, Any]:
    p = ports()
    return {
        "host": HOST,
        "port": p.server_v2,
        "username": USERNAME,
        "ssh_key_file": str(paths.client_key),
        "known_hosts_file": str(paths.known_hosts),
        "registry": f"{HOST}:{p.registry}",
        "http_url": f"http://{HOST}:{p.http}",
        "images": images(),
        "proxy_image": proxy_image(),
        "compose_file": str(EXAMPLE_DIR / "compose.yml"),
        "nginx_template": str(EXAMPLE_DIR / "nginx.conf.j2"),
        "compose_v1_port": p.server_v1,
        "remote_dir": str(paths.home("v2")),
        "compose_v1_remote_dir": str(paths.home("v1")),
        "http_port": p.http,
        "blue_port": p.blue,
        "green_port": p.green,
    }


def publish() -> dict[str, Any]:
    """Waits for the started lab, pushes the demo and proxy images, writes lab.json."""
    paths = lab_paths()
    p = ports()
    with lab_lock(paths):
        say("waiting for sshd and the registry")
        wait_until(lambda: sshd_answers(p.server_v2), f"sshd on port {p.server_v2}")
        wait_until(lambda: sshd_answers(p.server_v1), f"sshd on port {p.server_v1}")
        wait_until(lambda: registry_answers(p.registry), f"registry on port {p.registry}")
        client = docker.from_env()
        say("pushing demo and proxy images")
        for version, target in images().items():
            push(client, recipes.DEMO[version].tag, target)
        push(client, recipes.NGINX.tag, proxy_image())
        info = describe(paths)
        paths.info_file.write_text(json.dumps(info) + "\n")
        return info


def up() -> dict[str, Any]:
    """Builds what is missing, starts the lab (reusing a running one) and returns its info."""
    fresh_keys = prepare()
    say("starting lab containers")
    run_compose(lab_paths(), "up", "-d", *(["--force-recreate"] if fresh_keys else []))
    return publish()


def down() -> None:
    """Removes the lab's containers, networks and volumes and those of deploys through it, then
    the lab's keys, homes and files. Images and registry storage stay as the cache."""
    paths = lab_paths()
    with lab_lock(paths):
        remove_lab_resources(docker.from_env(), paths.root)
        for directory in (paths.ssh_dir, paths.root / "home"):
            shutil.rmtree(directory, ignore_errors=True)
        for file in (paths.env_file, paths.info_file):
            file.unlink(missing_ok=True)


def info() -> dict[str, Any]:
    """The info of the running lab (lab.json)."""
    data: dict[str, Any] = json.loads(lab_paths().info_file.read_text())
    return data
