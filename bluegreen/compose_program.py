"""Which compose the host has: `docker compose` (v2) or `docker-compose` (v1)."""

from __future__ import annotations

from bluegreen import commands
from bluegreen.errors import BluegreenError
from bluegreen.host import Host


def find_compose(host: Host) -> tuple[str, ...]:
    for program in (commands.COMPOSE_V2, commands.COMPOSE_V1):
        if host.run(commands.compose_version(program)).ok:
            return program
    raise BluegreenError(
        f"neither `docker compose` nor `docker-compose` works on {host.name}; install Docker Compose there"
    )
