"""Pure readings of what Docker reports: container states, a started project's verdict, nginx workers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
ONE_OFF_LABEL = "com.docker.compose.oneoff"
CRASH_LOOP_RESTARTS = 3
DEFAULT_HEALTHCHECK_TIMEOUT = 30.0


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
    healthcheck_timeout: float = DEFAULT_HEALTHCHECK_TIMEOUT
    image_id: str = ""
    image_reference: str = ""
    """The image as the compose file names it (e.g. registry/app:latest)."""
    service: str = ""
    restart_policy: str = ""
    one_off: bool = False
    """A `compose run` container (such as a release command), not one of the project's services."""

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any], fallback_name: str = "") -> ContainerState:
        """From `docker inspect` (a container's attrs)."""
        state: Mapping[str, Any] = attrs.get("State") or {}
        config: Mapping[str, Any] = attrs.get("Config") or {}
        healthcheck: Mapping[str, Any] = config.get("Healthcheck") or {}
        health: Mapping[str, Any] = state.get("Health") or {}
        labels: Mapping[str, Any] = config.get("Labels") or {}
        policy: Mapping[str, Any] = (attrs.get("HostConfig") or {}).get("RestartPolicy") or {}
        timeout_ns = healthcheck.get("Timeout") or 0
        return cls(
            name=str(attrs.get("Name") or fallback_name).lstrip("/"),
            status=str(state.get("Status", "unknown")),
            health=health.get("Status"),
            restarts=int(attrs.get("RestartCount") or 0),
            exit_code=int(state.get("ExitCode") or 0),
            id=str(attrs.get("Id", "")),
            healthcheck=tuple(healthcheck.get("Test") or ()),
            healthcheck_timeout=timeout_ns / 1e9 if timeout_ns else DEFAULT_HEALTHCHECK_TIMEOUT,
            image_id=str(attrs.get("Image", "")),
            image_reference=str(config.get("Image", "")),
            service=str(labels.get(SERVICE_LABEL, "")),
            restart_policy=str(policy.get("Name") or "no"),
            one_off=labels.get(ONE_OFF_LABEL) == "True",
        )

    @property
    def finished_task(self) -> bool:
        """A one-shot task (a migration, a seed) that ran and exited 0 without being restarted."""
        return self.status == "exited" and self.exit_code == 0 and self.restart_policy == "no"


@dataclass(frozen=True)
class Verdict:
    """What a freshly started project's containers say: fatal, still waiting, or ready."""

    fatal: str | None = None
    waiting: str | None = None
    failed_container: str | None = None
    """The id of the container whose exit is fatal (its logs explain it)."""


def startup_verdict(states: Iterable[ContainerState]) -> Verdict:
    states = list(states)
    if not states:
        return Verdict(fatal="compose started no containers")
    waiting = None
    for state in states:
        if state.finished_task:
            continue
        if state.status in ("exited", "dead"):
            return Verdict(
                fatal=f"container {state.name} exited with code {state.exit_code}",
                failed_container=state.id,
            )
        if state.restarts >= CRASH_LOOP_RESTARTS:
            return Verdict(
                fatal=f"container {state.name} is crash-looping ({state.restarts} restarts)",
                failed_container=state.id,
            )
        if state.status != "running":
            waiting = waiting or f"container {state.name} is {state.status}"
        elif state.health not in (None, "healthy"):
            waiting = waiting or f"container {state.name} docker health is {state.health}"
    return Verdict(waiting=waiting)


def healthcheck_argv(test: tuple[str, ...]) -> list[str] | None:
    """The command a healthcheck test runs in the container; None when there is none to run."""
    if len(test) >= 2 and test[0] == "CMD":
        return list(test[1:])
    if len(test) == 2 and test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", test[1]]
    return None


@dataclass(frozen=True)
class NginxWorker:
    pid: str
    shutting_down: bool


def nginx_workers_of(top: Mapping[str, Any]) -> list[NginxWorker]:
    """nginx's worker processes in the answer of `docker top` (no ps needed in the image)."""
    titles: list[str] = list(top.get("Titles") or [])
    if "PID" not in titles or "CMD" not in titles:
        return []
    pid_at, cmd_at = titles.index("PID"), titles.index("CMD")
    return [
        NginxWorker(pid=str(row[pid_at]), shutting_down="shutting down" in str(row[cmd_at]))
        for row in top.get("Processes") or []
        if "worker process" in str(row[cmd_at])
    ]
