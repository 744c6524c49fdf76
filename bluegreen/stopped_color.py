"""A stopped color stays stopped: Docker starts a container with `restart: always` again when the
engine or the server restarts, even one stopped by hand. Stopping a color therefore also takes away
its containers' restart policies (`docker update --restart=no`), recorded in the color's directory;
starting the color again (a rollback, or a deploy to it) puts them back.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bluegreen import commands
from bluegreen.colors import project_name
from bluegreen.containers import NO_RESTART, restart_policies, set_restart_policies, stop_project
from bluegreen.errors import UnreadableFile
from bluegreen.host import Host
from bluegreen.layout import Layout

RECORD_LIMIT = 256 * 1024
CONTAINER_ID = re.compile(r"^[0-9a-f]{12,64}$")
POLICY_NAMES = ("always", "unless-stopped", "on-failure")


def stop_color(host: Host, layout: Layout, app: str, color: str, timeout: int = 10) -> list[str]:
    """Record and take away the restart policies of the color's containers, then stop them."""
    client = host.docker()
    project = project_name(app, color)
    policies = {**recorded_policies(host, layout, color), **restart_policies(client, project)}
    if policies:  # written first: whatever happens next, the policies can be put back
        host.write_file(layout.restart_file(color), (json.dumps(policies, indent=2) + "\n").encode())
        set_restart_policies(client, {container_id: NO_RESTART for container_id in policies})
    return stop_project(client, project, timeout)


def restore_restart_policies(host: Host, layout: Layout, color: str) -> list[str]:
    """Put back the policies a stop took away (containers a deploy replaced have their own)."""
    policies = recorded_policies(host, layout, color)
    if not policies:
        return []
    restored = set_restart_policies(host.docker(), policies)
    host.run(commands.remove(layout.restart_file(color))).check("removing the restart-policy record")
    return restored


def recorded_policies(host: Host, layout: Layout, color: str) -> dict[str, dict[str, Any]]:
    """The record, read as untrusted: anything malformed is left out."""
    try:
        raw = host.read_file(layout.restart_file(color), limit=RECORD_LIMIT)
    except UnreadableFile:
        return {}
    try:
        data: Any = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    policies = {}
    for container_id, policy in data.items():
        if not (isinstance(container_id, str) and CONTAINER_ID.fullmatch(container_id)):
            continue
        if not isinstance(policy, dict) or policy.get("Name") not in POLICY_NAMES:
            continue
        retries = policy.get("MaximumRetryCount", 0)
        retries = retries if isinstance(retries, int) and 0 <= retries < 1_000_000 else 0
        policies[container_id] = {"Name": policy["Name"], "MaximumRetryCount": retries}
    return policies
