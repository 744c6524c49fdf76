"""Finding and removing everything the lab and the deploys through it left on the engine:
the lab's own containers, compose projects whose files lie under the lab dir, containers
labelled bluegreen.managed, and their networks and volumes. Images stay (they are the cache)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.resource import Model

from lab.progress import say
from lab.settings import LAB_LABEL, MANAGED_LABEL, PROJECT_NAME

PROJECT = "com.docker.compose.project"
# v2 and v1 (1.29) both set working_dir; config_files is a second witness.
PROJECT_PATH_LABELS = (
    "com.docker.compose.project.working_dir",
    "com.docker.compose.project.config_files",
)
BUILTIN_NETWORKS = {"bridge", "host", "none"}


def _under(path_list: str, root: Path) -> bool:
    return any(Path(p).is_relative_to(root) for p in path_list.split(",") if p.startswith("/"))


def belongs_to_lab(labels: dict[str, str], root: Path) -> bool:
    if LAB_LABEL in labels or MANAGED_LABEL in labels or labels.get(PROJECT) == PROJECT_NAME:
        return True
    return any(_under(labels.get(name, ""), root) for name in PROJECT_PATH_LABELS)


def _labels(obj: Model) -> dict[str, str]:
    attrs = obj.attrs
    labels = attrs.get("Labels") or (attrs.get("Config") or {}).get("Labels") or {}
    return {str(k): str(v) for k, v in labels.items()}


def lab_containers(client: docker.DockerClient, root: Path) -> list[Container]:
    return [c for c in client.containers.list(all=True) if belongs_to_lab(_labels(c), root)]


def remove_lab_resources(client: docker.DockerClient, root: Path) -> None:
    containers = lab_containers(client, root)
    projects = {PROJECT_NAME} | {p for c in containers if (p := _labels(c).get(PROJECT))}
    for container in containers:
        say(f"removing container {container.name}")
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)

    def ours(labels: dict[str, str]) -> bool:
        return labels.get(PROJECT) in projects or belongs_to_lab(labels, root)

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
