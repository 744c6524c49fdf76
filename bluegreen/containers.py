"""What the host's Docker engine says: compose projects, container health, nginx workers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

from bluegreen.colors import COLORS, project_name

PROJECT_LABEL = "com.docker.compose.project"
CRASH_LOOP_RESTARTS = 3


@dataclass(frozen=True)
class ContainerState:
    name: str
    status: str
    """created, running, restarting, exited, dead, paused."""
    health: str | None
    """starting, healthy or unhealthy; None when the service defines no healthcheck."""
    restarts: int
    exit_code: int
    id: str = ""
    healthcheck: tuple[str, ...] = ()
    """The compose healthcheck's test, as docker stores it (["CMD", ...] or ["CMD-SHELL", cmd])."""

    @classmethod
    def of(cls, container: Container) -> ContainerState:
        state: dict[str, Any] = container.attrs.get("State", {})
        health = state.get("Health") or {}
        return cls(
            name=container.name or container.short_id,
            status=str(state.get("Status", "unknown")),
            health=health.get("Status"),
            restarts=int(container.attrs.get("RestartCount", 0)),
            exit_code=int(state.get("ExitCode", 0)),
            id=str(container.id),
            healthcheck=tuple((container.attrs.get("Config", {}).get("Healthcheck") or {}).get("Test") or ()),
        )


def project_containers(client: docker.DockerClient, project: str) -> list[Container]:
    return list(client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"}))


def project_states(client: docker.DockerClient, project: str) -> list[ContainerState]:
    return [ContainerState.of(c) for c in project_containers(client, project)]


def running_colors(client: docker.DockerClient, app_name: str) -> set[str]:
    return {
        color
        for color in COLORS
        if any(s.status == "running" for s in project_states(client, project_name(app_name, color)))
    }


def startup_verdict(states: Iterable[ContainerState]) -> tuple[str | None, str | None]:
    """(fatal problem, reason to keep waiting) for a freshly started project; (None, None) is ready."""
    states = list(states)
    if not states:
        return "compose started no containers", None
    waiting = None
    for state in states:
        if state.status in ("exited", "dead"):
            return f"container {state.name} exited with code {state.exit_code}", None
        if state.restarts >= CRASH_LOOP_RESTARTS:
            return f"container {state.name} is crash-looping ({state.restarts} restarts)", None
        if state.status != "running":
            waiting = waiting or f"container {state.name} is {state.status}"
        elif state.health not in (None, "healthy"):
            waiting = waiting or f"container {state.name} docker health is {state.health}"
    return None, waiting


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


def healthcheck_argv(test: tuple[str, ...]) -> list[str] | None:
    """The command a healthcheck test runs in the container; None when there is none to run."""
    if len(test) >= 2 and test[0] == "CMD":
        return list(test[1:])
    if len(test) == 2 and test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", test[1]]
    return None


def run_healthcheck(client: docker.DockerClient, state: ContainerState) -> bool:
    """Run the container's healthcheck now, as docker would, instead of waiting for its interval."""
    argv = healthcheck_argv(state.healthcheck)
    if argv is None:
        return True
    exit_code, _ = client.containers.get(state.id).exec_run(argv)
    return exit_code == 0


def running_container(client: docker.DockerClient, project: str) -> Container | None:
    for container in project_containers(client, project):
        if ContainerState.of(container).status == "running":
            return container
    return None


@dataclass(frozen=True)
class NginxWorker:
    pid: str
    shutting_down: bool


def nginx_workers(container: Container) -> list[NginxWorker]:
    """nginx's worker processes, read with `docker top` (no ps needed in the image)."""
    top: Any = container.top()
    titles: list[str] = top.get("Titles") or []
    pid_at, cmd_at = titles.index("PID"), titles.index("CMD")
    return [
        NginxWorker(pid=row[pid_at], shutting_down="shutting down" in row[cmd_at])
        for row in top.get("Processes") or []
        if "worker process" in row[cmd_at]
    ]
