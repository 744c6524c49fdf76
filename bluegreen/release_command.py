"""The release command: run once per deploy, before the new color starts. Parsing is pure (inputs
in, a ReleaseCommand or one InputError out); `run_release_command` runs it on the host, within
`release-timeout`."""

from __future__ import annotations

import secrets
import shlex
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bluegreen.bundle import Bundle
from bluegreen.commands import Compose
from bluegreen.errors import BluegreenError, CommandTimedOut, InputError, RemoteCommandError
from bluegreen.host import Host
from bluegreen.progress import Reporter
from bluegreen.untrusted import printable

COMMAND_INPUT = "release-command"
SERVICE_INPUT = "release-service"
RELEASE_TIMEOUT = 600.0
"""Seconds a release command may run by default (`release-timeout`); the deploy fails after that."""
LAST_LINES = 15
GONE_WAIT = 15.0
"""Seconds to wait for a stopped one-off container to be removed."""


@dataclass(frozen=True)
class ReleaseCommand:
    service: str
    argv: tuple[str, ...]
    timeout: float = RELEASE_TIMEOUT

    def __str__(self) -> str:
        return f"{shlex.join(self.argv)} (service {self.service})"


def parse_release_command(
    command: str, service: str, bundles: Iterable[Bundle], shared: Sequence[str]
) -> ReleaseCommand | None:
    """The release command of a deploy, checked against the compose files of every color."""
    if not command.strip():
        if service.strip():
            raise InputError(SERVICE_INPUT, "is set but `release-command` is empty", "Set both or neither")
        return None
    try:
        argv = tuple(shlex.split(command))
    except ValueError as exc:
        raise InputError(
            COMMAND_INPUT, f"cannot be split into words ({exc})", "Quote it as you would in a shell"
        ) from None
    for bundle in bundles:
        own = [name for name in bundle.services if name not in shared]
        service = service.strip() or _only(own)
        if service not in own:
            problem = (
                f"names {service!r}, a shared service"
                if service in shared
                else f"names {service!r}, which the compose files do not define"
            )
            raise InputError(SERVICE_INPUT, problem, f"Use one of the app's services: {', '.join(own)}")
    return ReleaseCommand(service, argv)


def _only(services: Sequence[str]) -> str:
    if not services:
        raise InputError(
            SERVICE_INPUT,
            "has no service to run the command in: every service is in `shared-services`",
            "Take the app's service out of `shared-services`",
        )
    if len(services) != 1:
        raise InputError(
            SERVICE_INPUT,
            f"is needed: the compose files define several services ({', '.join(services)})",
            "Set `release-service` to the service whose image runs `release-command`",
        )
    return services[0]


# ---- running it ----------------------------------------------------------------------------------


def one_off_name(project: str) -> str:
    """A name of the one-off container's own, so that it can be found if it outlasts the timeout."""
    return f"{project}-release-{secrets.token_hex(4)}"


def container_logs(name: str, lines: int = LAST_LINES) -> list[str]:
    return ["docker", "logs", "--tail", str(lines), name]


def stop_container(name: str, grace: int = 10) -> list[str]:
    return ["docker", "stop", "--time", str(grace), name]


def remove_container(name: str) -> list[str]:
    return ["docker", "rm", "--force", name]


def container_exists(name: str) -> list[str]:
    return ["docker", "container", "inspect", "--format", "{{.Id}}", name]


def run_release_command(host: Host, compose: Compose, release: ReleaseCommand, report: Reporter) -> None:
    """Run the command in a one-off container; past `release.timeout` the container is stopped and
    removed and the deploy fails with its last lines. The kept containers stay as they are."""
    report.info(f"release command: {release}")
    name = one_off_name(compose.project)
    argv = compose.run_once(release.service, release.argv, name=name)
    try:
        result = host.run(argv, timeout=release.timeout)
    except CommandTimedOut:
        raise _timed_out(host, release, name) from None
    output = "\n".join(part.strip() for part in (result.stdout, result.stderr) if part.strip())
    if not result.ok:
        raise RemoteCommandError("the release command", str(release), result.exit_code, output)
    for line in output.splitlines()[-LAST_LINES:]:
        report.info(f"release command: {printable(line, 500)}")


def _timed_out(host: Host, release: ReleaseCommand, name: str) -> BluegreenError:
    """Stop and remove the one-off container that outlasted the timeout; the error to raise."""
    logs = host.run(container_logs(name))
    host.run(stop_container(name), timeout=60)
    host.run(remove_container(name), timeout=60)  # fails when --rm is removing it already
    deadline = time.monotonic() + GONE_WAIT
    while (still := host.run(container_exists(name)).ok) and time.monotonic() < deadline:
        time.sleep(0.2)
    what = (
        f"stopped, but {name} is still there (remove it with `docker rm -f`)"
        if still
        else "stopped and removed"
    )
    output = "\n".join(part.strip() for part in (logs.stdout, logs.stderr) if part.strip()) if logs.ok else ""
    tail = printable("\n".join(output.splitlines()[-LAST_LINES:]))
    return BluegreenError(
        f"the release command {release} ran longer than {release.timeout:g} s (release-timeout): its "
        f"container was {what}; the new color was not started and nothing else changed"
        + (f". Its last lines:\n{tail}" if tail else "")
    )
