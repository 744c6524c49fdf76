"""bluegreen's own compose file, given after the user's: every project of the app (both colors and
the shared services) joins one network, so the colors reach shared services by name and an app
holds one network on the engine instead of one per project."""

from __future__ import annotations

import yaml


def app_network(app_name: str) -> str:
    return f"bluegreen-{app_name}"


def network_override(app_name: str) -> str:
    document = {"networks": {"default": {"name": app_network(app_name), "external": True}}}
    return "# Written by bluegreen: the app's projects share one network.\n" + yaml.safe_dump(
        document, sort_keys=False
    )
