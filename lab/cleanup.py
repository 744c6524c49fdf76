"""Finding and removing everything the lab and the deploys through it left on the engine:
the lab's own containers, compose projects whose files lie under the lab dir, containers that
mount something from under the lab dir, containers labelled bluegreen.managed (for the default
lab, which owns the machine), and their networks and volumes. Images stay (they are the cache)."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.resource import Model

from lab.progress import say
from lab.settings import DEFAULT_LAB_NAME, LAB_LABEL, MANAGED_LABEL, lab_name

PROJECT = "com.docker.compose.project"
# v2 and v1 (1.29) both set working_dir (absolute); v1 writes config_files relative to it.
PROJECT_PATH_LABELS = (
    "com.docker.compose.project.working_dir",
    "com.docker.compose.project.config_files",
)
BUILTIN_NETWORKS = {"bridge", "host", "none"}


def _under(paths: list[str], root: Path) -> bool:
    return any(p.startswith("/") and Path(p).is_relative_to(root) for p in paths)


def _labels(obj: Model) -> dict[str, str]:
    attrs: dict[str, Any] = obj.attrs
    labels = attrs.get("Labels") or (attrs.get("Config") or {}).get("Labels") or {}
    return {str(k): str(v) for k, v in labels.items()}


def belongs_to_lab(labels: dict[str, str], mount_sources: list[str], root: Path) -> bool:
    name = lab_name()
    if labels.get(LAB_LABEL) == name or labels.get(PROJECT) == name:
        return True
    if MANAGED_LABEL in labels and name == DEFAULT_LAB_NAME:
        return True
    path_labels = [p for label in PROJECT_PATH_LABELS for p in labels.get(label, "").split(",")]
    return _under(path_labels, root) or _under(mount_sources, root)


def lab_containers(client: docker.DockerClient, root: Path) -> list[Container]:
    found = []
    for container in client.containers.list(all=True):
        sources = [str(m.get("Source", "")) for m in container.attrs.get("Mounts") or []]
        if belongs_to_lab(_labels(container), sources, root):
            found.append(container)
    return found


def remove_lab_resources(client: docker.DockerClient, root: Path) -> None:
    containers = lab_containers(client, root)
    projects = {lab_name()} | {p for c in containers if (p := _labels(c).get(PROJECT))}
    for container in containers:
        say(f"removing container {container.name}")
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)

    def ours(labels: dict[str, str]) -> bool:
        return labels.get(PROJECT) in projects or belongs_to_lab(labels, [], root)

    for network in client.networks.list():
        if network.name not in BUILTIN_NETWORKS and ours(_labels(network)):
            say(f"removing network {network.name}")
            with contextlib.suppress(docker.errors.NotFound):
                network.remove()
    for volume in client.volumes.list():
        if ours(_labels(volume)):
            say(f"removing volume {volume.name}")
            with contextlib.suppress(docker.errors.NotFound):
                volume.remove(force=True)


APP_PROJECT_SUFFIXES = ("blue", "green", "proxy", "proxy-alt", "shared")


def remove_app(client: docker.DockerClient, app: str, app_dir: Path) -> None:
    """What deploys of one app left on one engine: its compose projects' containers and volumes,
    its network, its owner claim, and its directory on the host."""
    for suffix in APP_PROJECT_SUFFIXES:
        label = f"{PROJECT}={app}-{suffix}"
        for container in client.containers.list(all=True, filters={"label": label}):
            container.remove(force=True)
        for volume in client.volumes.list(filters={"label": label}):
            volume.remove(force=True)
    for network in client.networks.list(names=[f"bluegreen-{app}"]):
        network.remove()
    with contextlib.suppress(docker.errors.NotFound):
        client.volumes.get(f"bluegreen-owner-{app}").remove(force=True)
    shutil.rmtree(app_dir, ignore_errors=True)
