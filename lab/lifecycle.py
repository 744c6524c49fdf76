"""Bringing the lab up and down. `up` = prepare + compose up + publish; the pytest fixtures run
the same steps with pytest-docker doing the compose part."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import docker

from lab import fleet, keys, private_registry, recipes
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

SERVER_FLAVOURS = ("v2", "v1", "nofwd")
"""Server containers: compose v2, compose v1, and compose v2 behind an sshd forbidding TCP forwarding."""


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
    """Creates the keys that are missing (a running lab keeps its keys; a new server flavour gets
    its host key alone). Returns True when the client key is new: running servers must then be
    recreated, as they authorize the old one."""
    fresh_client = not keys.key_pair_exists(paths.client_key)
    if fresh_client:
        say("generating the client key")
        client_public = keys.write_key_pair(paths.client_key, "bluegreen-lab-client")
        keys.write_authorized_keys(paths.authorized_keys, [client_public])
    for flavour in (*SERVER_FLAVOURS, *fleet.key_flavours(paths)):
        if fresh_client or not keys.key_pair_exists(paths.host_key(flavour)):
            say(f"generating the host key of server {flavour}")
            keys.write_key_pair(paths.host_key(flavour), f"bluegreen-lab-server-{flavour}")
    return fresh_client


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
        "BGLAB_SERVER_NOFWD_PORT": str(p.server_nofwd),
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
        servers = [
            (HOST, port, keys.public_key_line(paths.host_key(flavour)))
            for flavour, port in _server_ports().items()
        ]
        keys.write_known_hosts(paths.known_hosts, servers + fleet.known_hosts_entries(paths))
        for flavour in SERVER_FLAVOURS:
            home = paths.home(flavour)
            home.mkdir(parents=True, exist_ok=True)
            os.chown(home, DEPLOY_UID, DEPLOY_UID)
        paths.registry_data.mkdir(parents=True, exist_ok=True)
        _write_env(paths)
        return fresh_keys


def _server_ports() -> dict[str, int]:
    p = ports()
    return {"v2": p.server_v2, "v1": p.server_v1, "nofwd": p.server_nofwd}


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
        "no_forwarding_port": p.server_nofwd,
        "no_forwarding_remote_dir": str(paths.home("nofwd")),
        "http_port": p.http,
        "blue_port": p.blue,
        "green_port": p.green,
    }


def publish() -> dict[str, Any]:
    """Waits for the started lab, pushes the demo and proxy images, starts what is missing of the
    fleet (lab/fleet.py), writes lab.json."""
    paths = lab_paths()
    p = ports()
    with lab_lock(paths):
        say("waiting for sshd and the registry")
        for port in _server_ports().values():
            wait_until(partial(sshd_answers, port), f"sshd on port {port}")
        wait_until(lambda: registry_answers(p.registry), f"registry on port {p.registry}")
        client = docker.from_env()
        say("pushing demo and proxy images")
        for version, target in images().items():
            push(client, recipes.DEMO[version].tag, target)
        push(client, recipes.NGINX.tag, proxy_image())
        info = describe(paths)
        info["fleet"] = fleet.up(paths)
        info["private_registry"] = private_registry.ensure(client, paths)
        paths.info_file.write_text(json.dumps(info) + "\n")
        return info


def up() -> dict[str, Any]:
    """Builds what is missing, starts the lab (reusing a running one) and returns its info."""
    fresh_keys = prepare()
    say("starting lab containers")
    run_compose(lab_paths(), "up", "-d", *(["--force-recreate"] if fresh_keys else []))
    return publish()


def down() -> None:
    """Removes the fleet, the lab's containers, networks and volumes and those of deploys through
    it, then the lab's keys, homes and files. Images and registry storage stay as the cache."""
    paths = lab_paths()
    with lab_lock(paths):
        fleet.down(paths)
        remove_lab_resources(docker.from_env(), paths.root)
        for directory in (paths.ssh_dir, paths.root / "home"):
            shutil.rmtree(directory, ignore_errors=True)
        for file in (paths.env_file, paths.info_file):
            file.unlink(missing_ok=True)


def info() -> dict[str, Any]:
    """The info of the running lab (lab.json)."""
    data: dict[str, Any] = json.loads(lab_paths().info_file.read_text())
    return data
