"""bluegreen's own compose file, given after the user's for every project of an app.

Every project (the two colors and the shared services) joins one network, so the colors reach
shared services by name and an app holds one network on the engine instead of one per project.
For a color it also carries what belongs to the app rather than to one color (appdata.py): its data
folders and named volumes, mounted by both colors, and the `env` input's file when no compose file
names ${BLUEGREEN_ENV_FILE}. Compose merges a service's `volumes` by their target and appends to
its `env_file`, so the user's own entries stay as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass(frozen=True)
class AppParts:
    """What a color's override adds for the app: the same for both colors."""

    mounts: tuple[tuple[str, str | Mapping[str, Any]], ...] = ()
    """(service, volume entry) pairs: a data folder mounted where the service asked for it."""
    volumes: Mapping[str, str] = field(default_factory=dict)
    """Compose volume -> the app's Docker volume (external: one per app, never per color)."""
    env_file: str = ""
    """The `env` input's file on the host, for the services below ("" when they choose)."""
    env_services: tuple[str, ...] = ()


NO_APP_PARTS = AppParts()


def app_network(app_name: str) -> str:
    return f"bluegreen-{app_name}"


def project_override(
    app_name: str,
    shared_project: str = "",
    shared_volumes: tuple[str, ...] = (),
    parts: AppParts = NO_APP_PARTS,
) -> str:
    """The app's network for every project; for a color, the shared services' volumes are the
    shared project's (`<shared_project>_<volume>`): compose would otherwise create a per-color
    copy of every volume the files declare, even for services it does not start."""
    document: dict[str, object] = {"networks": {"default": {"name": app_network(app_name), "external": True}}}
    services: dict[str, dict[str, Any]] = {}
    for service, entry in parts.mounts:
        services.setdefault(service, {}).setdefault("volumes", []).append(_plain(entry))
    for service in parts.env_services if parts.env_file else ():
        services.setdefault(service, {})["env_file"] = [parts.env_file]
    if services:
        document["services"] = services
    volumes = {volume: {"name": name, "external": True} for volume, name in parts.volumes.items()}
    volumes.update(
        {volume: {"name": f"{shared_project}_{volume}", "external": True} for volume in shared_volumes}
    )
    if volumes:
        document["volumes"] = volumes
    return "# Written by bluegreen: the app's projects share one network.\n" + yaml.safe_dump(
        document, sort_keys=False
    )


def _plain(entry: str | Mapping[str, Any]) -> str | dict[str, Any]:
    return entry if isinstance(entry, str) else dict(entry)
