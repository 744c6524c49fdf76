"""bluegreen's proxy containers of one app, as Docker has them: two compose projects (`<app>-proxy`
and `<app>-proxy-alt`) so that a new proxy can start beside the old one; which of them serves;
waiting for one to start (and reading why it did not); retiring one gracefully."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from bluegreen.colors import project_name
from bluegreen.containers import logs_tail, nginx_workers, project_containers, state_of
from bluegreen.errors import BluegreenError
from bluegreen.health import backoff
from bluegreen.untrusted import printable

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

SLOTS = ("proxy", "proxy-alt")
"""The two compose projects a proxy can run in (`<app>-<slot>`): a replacement takes the other one."""
ADDRESS_IN_USE = re.compile(r"bind\(\) to (?P<address>\S+) failed \(98: Address already in use\)")
NOT_SERVING = ("created", "restarting", "exited", "dead")


class PortInUse(BluegreenError):
    """nginx could not listen: another program (or a proxy without `reuseport`) holds the port."""

    def __init__(self, address: str, host: str, detail: str) -> None:
        self.address = address
        self.port = address.rpartition(":")[2]
        super().__init__(f"port {self.port} is already in use on {host}: {detail}")


def created_at(container: Container) -> str:
    """Docker's creation time, comparable as text (RFC 3339, fraction padded to nanoseconds)."""
    stamp = str(container.attrs.get("Created", "")).removesuffix("Z")
    whole, _, fraction = stamp.partition(".")
    return f"{whole}.{fraction.ljust(9, '0')}"


def proxy_containers(client: docker.DockerClient, app: str) -> list[Container]:
    """Every proxy container of the app, in both projects, oldest first."""
    found = [c for slot in SLOTS for c in project_containers(client, project_name(app, slot))]
    return sorted(found, key=created_at)


def serving_proxy(client: docker.DockerClient, app: str) -> Container | None:
    """The proxy that serves: the newest running one (an older one still running is being retired,
    or was left by an interrupted replacement)."""
    running = [c for c in proxy_containers(client, app) if state_of(c).status == "running"]
    return running[-1] if running else None


def slot_of(container: Container) -> str:
    project = str(container.attrs.get("Config", {}).get("Labels", {}).get("com.docker.compose.project", ""))
    return next((slot for slot in SLOTS if project.endswith(f"-{slot}")), SLOTS[0])


def other_slot(slot: str) -> str:
    return SLOTS[1] if slot == SLOTS[0] else SLOTS[0]


def wait_until_serving(
    client: docker.DockerClient, app: str, slot: str, host: str, timeout: float
) -> Container:
    """The slot's proxy once nginx runs its workers (they accept from sockets the master has bound).
    Raises PortInUse as soon as nginx's log says it could not listen, and a BluegreenError naming
    the container's state and log when it neither runs nor fails within timeout."""
    project = project_name(app, slot)
    deadline = time.monotonic() + timeout
    for delay in backoff(0.05, 1.5, 0.5):
        containers = project_containers(client, project)
        running = [c for c in containers if state_of(c).status == "running"]
        if running and nginx_workers(running[0]):
            return running[0]
        failed = [c for c in containers if state_of(c).status in NOT_SERVING or state_of(c).restarts]
        log = logs_tail(client, str(failed[0].id), lines=20) if failed else ""
        in_use = ADDRESS_IN_USE.search(log)
        if in_use:
            line = printable(next(li for li in log.splitlines() if "Address already in use" in li), 300)
            address = in_use["address"]
            raise PortInUse(address, host, f"nginx could not listen on {address} ({line})")
        if time.monotonic() > deadline:
            if not containers:
                raise BluegreenError(f"compose started no container in {project}")
            state = state_of(containers[0])
            doing = (
                "runs, but nginx started no worker process"
                if state.status == "running"
                else (f"is {state.status} (restarted {state.restarts} times)")
            )
            tail = printable(log or logs_tail(client, str(containers[0].id), lines=10), 1500)
            raise BluegreenError(
                f"the nginx proxy container {state.name} {doing} after {timeout:g} s"
                + (f"; its log ends:\n{tail}" if tail else "")
            )
        time.sleep(delay)
    raise AssertionError("unreachable")


def retire(container: Container, timeout: float) -> None:
    """Stop a proxy gracefully: SIGQUIT to nginx's master (whatever the image's STOPSIGNAL), with
    its restart policy off first so that Docker does not start it again. Returns once it has
    closed its listening sockets (every worker is shutting down): from then on only the other
    proxy takes new connections, while this one finishes the requests it has."""
    set_restart_policy(container, "no")
    container.kill(signal="QUIT")
    deadline = time.monotonic() + timeout
    for delay in backoff(0.02, 1.5, 0.2):
        if _listeners_closed(container):
            return
        if time.monotonic() > deadline:
            raise BluegreenError(
                f"the old nginx proxy {container.name} did not begin to quit within {timeout:g} s"
            )
        time.sleep(delay)


def set_restart_policy(container: Container, name: str) -> None:
    updatable: Any = container  # docker's stubs know only "always" and "on-failure"
    updatable.update(restart_policy={"Name": name})


def _listeners_closed(container: Container) -> bool:
    import docker.errors

    try:
        return not is_running(container) or all(w.shutting_down for w in nginx_workers(container))
    except docker.errors.APIError:  # it exited between the two questions
        return True


def is_running(container: Container) -> bool:
    import docker.errors

    try:
        container.reload()
    except docker.errors.NotFound:
        return False
    return state_of(container).status == "running"


def wait_until_exited(container: Container, timeout: float) -> bool:
    """Whether the retired proxy finished its requests and exited within timeout."""
    deadline = time.monotonic() + timeout
    for delay in backoff(0.05, 1.5, 0.5):
        if not is_running(container):
            return True
        if time.monotonic() + delay > deadline:
            return False
        time.sleep(delay)
    raise AssertionError("unreachable")
