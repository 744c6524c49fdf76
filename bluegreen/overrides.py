"""bluegreen's own compose file, given after the user's: every project of the app (both colors and
the shared services) joins one network, so the colors reach shared services by name and an app
holds one network on the engine instead of one per project."""

from __future__ import annotations

import yaml


def app_network(app_name: str) -> str:
    return f"bluegreen-{app_name}"


def project_override(app_name: str, shared_project: str = "", shared_volumes: tuple[str, ...] = ()) -> str:
    """The app's network for every project; for a color, the shared services' volumes are the
    shared project's (`<shared_project>_<volume>`): compose would otherwise create a per-color
    copy of every volume the files declare, even for services it does not start."""
    document: dict[str, object] = {"networks": {"default": {"name": app_network(app_name), "external": True}}}
    if shared_volumes:
        document["volumes"] = {
            volume: {"name": f"{shared_project}_{volume}", "external": True} for volume in shared_volumes
        }
    return "# Written by bluegreen: the app's projects share one network.\n" + yaml.safe_dump(
        document, sort_keys=False
    )
