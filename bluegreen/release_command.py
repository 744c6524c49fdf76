"""The release command: run once per deploy, before the new color starts (pure: inputs in, a
ReleaseCommand or one InputError out)."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bluegreen.bundle import Bundle
from bluegreen.errors import InputError

COMMAND_INPUT = "release-command"
SERVICE_INPUT = "release-service"
RELEASE_TIMEOUT = 3600.0
"""Seconds a release command may run (a long migration); the deploy fails after that."""


@dataclass(frozen=True)
class ReleaseCommand:
    service: str
    argv: tuple[str, ...]

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
