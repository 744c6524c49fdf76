"""Actions on the host's Docker engine: list a compose project, start and stop its containers,
run a healthcheck, read logs, create the app's network, remove old images.

What Docker's answers mean is decided in docker_state.py; this module only asks and acts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

from bluegreen.colors import COLORS, project_name
from bluegreen.docker_state import (
    PROJECT_LABEL,
    ContainerState,
    NginxWorker,
    healthcheck_argv,
    nginx_workers_of,
)
from bluegreen.errors import BluegreenError

POOL_EXHAUSTED = "could not find an available, non-overlapping"


def project_containers(client: docker.DockerClient, project: str) -> list[Container]:
    return list(client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"}))


def state_of(container: Container) -> ContainerState:
    return ContainerState.from_attrs(container.attrs, container.short_id)


def project_states(client: docker.DockerClient, project: str) -> list[ContainerState]:
    """The project's service containers: a one-off (`compose run`, such as a release command that
    a cancelled deploy left running) is not one of them."""
    return [state for state in map(state_of, project_containers(client, project)) if not state.one_off]


def running_colors(client: docker.DockerClient, app_name: str) -> set[str]:
    return {
        color
        for color in COLORS
        if any(s.status == "running" for s in project_states(client, project_name(app_name, color)))
    }


def running_container(client: docker.DockerClient, project: str) -> Container | None:
    for container in project_containers(client, project):
        if state_of(container).status == "running":
            return container
    return None


def stop_project(client: docker.DockerClient, project: str, timeout: int = 10) -> list[str]:
    """Stop every running container of a project (as `compose stop`), keeping them for a rollback.

    Works from what the engine says, not from compose files: a color is stopped exactly as it runs,
    whatever files the current run was given.
    """
    stopped = []
    for container in project_containers(client, project):
        if state_of(container).status in ("running", "restarting", "paused"):
            container.stop(timeout=timeout)
            stopped.append(str(container.name))
    return stopped


NO_RESTART = {"Name": "no", "MaximumRetryCount": 0}


def restart_policies(client: docker.DockerClient, project: str) -> dict[str, dict[str, Any]]:
    """Container id -> its restart policy, for the project's containers that have one."""
    policies = {}
    for container in project_containers(client, project):
        policy = (container.attrs.get("HostConfig") or {}).get("RestartPolicy") or {}
        if policy.get("Name") not in (None, "", "no"):
            policies[str(container.id)] = {
                "Name": str(policy["Name"]),
                "MaximumRetryCount": int(policy.get("MaximumRetryCount") or 0),
            }
    return policies


def set_restart_policies(client: docker.DockerClient, policies: dict[str, dict[str, Any]]) -> list[str]:
    """Give each container (by id) its policy; a container that is gone is skipped."""
    import docker.errors

    changed = []
    for container_id, policy in policies.items():
        try:
            client.containers.get(container_id).update(restart_policy=cast(Any, policy))
        except docker.errors.NotFound:
            continue
        changed.append(container_id)
    return changed


def start_containers(client: docker.DockerClient, ids: Iterable[str]) -> None:
    """Start kept containers as they are: the same image (by id), environment and mounts."""
    import docker.errors

    for container_id in ids:
        try:
            container = client.containers.get(container_id)
        except docker.errors.NotFound:
            raise BluegreenError(f"the kept container {container_id[:12]} is gone") from None
        if state_of(container).status != "running":
            container.start()


def remove_project(client: docker.DockerClient, project: str) -> None:
    """Remove a project's containers (as `compose down`, keeping volumes and external networks)."""
    for container in project_containers(client, project):
        container.remove(force=True)


def logs_tail(client: docker.DockerClient, container_id: str, lines: int = 15) -> str:
    try:
        raw: bytes = client.containers.get(container_id).logs(tail=lines)
    except Exception:  # the logs only explain a failure already reported
        return ""
    return raw.decode(errors="replace").strip()


def run_healthcheck(client: docker.DockerClient, state: ContainerState) -> bool:
    """Run the container's healthcheck now, as docker would, within the healthcheck's own timeout."""
    argv = healthcheck_argv(state.healthcheck)
    if argv is None:
        return True
    api: Any = client.api
    exec_id = api.exec_create(state.id, argv, stdout=False, stderr=False)["Id"]
    api.exec_start(exec_id, detach=True)
    deadline = time.monotonic() + state.healthcheck_timeout
    while True:
        inspected = api.exec_inspect(exec_id)
        if not inspected.get("Running"):
            return bool(inspected.get("ExitCode") == 0)
        if time.monotonic() > deadline:
            return False  # as docker counts it: a check over its timeout failed
        time.sleep(0.05)


def ensure_network(client: docker.DockerClient, name: str, app_name: str) -> None:
    """The one network all of an app's compose projects join (its colors and shared services)."""
    import docker.errors

    if client.networks.list(names=[name]):
        return
    try:
        client.networks.create(name, driver="bridge", labels={"bluegreen.app": app_name})
    except docker.errors.APIError as exc:
        if POOL_EXHAUSTED in str(exc):
            raise BluegreenError(
                f"Docker has no address pool left for the network {name}: every pool of the engine is "
                "in use. Remove unused networks (`docker network prune`) or widen the pools with "
                "`default-address-pools` in /etc/docker/daemon.json"
            ) from None
        raise BluegreenError(f"creating the Docker network {name} failed: {exc.explanation}") from None


def project_images(client: docker.DockerClient, project: str) -> set[str]:
    """The image references (e.g. registry/app:sha) the project's containers were created from."""
    return {_image_reference(c) for c in project_containers(client, project)} - {""}


def remove_unused_images(client: docker.DockerClient, references: Iterable[str]) -> list[str]:
    """Untag the images a redeployed color used before, unless a container still uses them.

    Each deploy pulls a new image; without this a server's disk fills up with old versions. An
    image goes away with its last tag; docker refuses to remove one that a container uses.
    """
    import docker.errors

    removed = []
    for reference in sorted(set(references)):
        if client.containers.list(all=True, filters={"ancestor": reference}):
            continue
        try:
            client.images.remove(reference)
            removed.append(reference)
        except docker.errors.APIError:  # in use after all, or already gone
            continue
    return removed


def _image_reference(container: Container) -> str:
    return str(container.attrs.get("Config", {}).get("Image", ""))


def nginx_workers(container: Container) -> list[NginxWorker]:
    top: Any = container.top()
    return nginx_workers_of(top)
