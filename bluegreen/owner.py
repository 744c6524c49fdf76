"""One owner per app per host: the app's compose projects live on the engine, which every SSH user
and every remote-dir share, so the claim lives there too.

The claim is a Docker volume named after the app and labelled with the owning app directory.
Creating a volume that exists changes nothing, so the first deployment's label stays: whoever comes
second reads it and is refused, before anything else changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bluegreen.errors import BluegreenError

if TYPE_CHECKING:
    import docker

OWNER_LABEL = "bluegreen.app-dir"


def claim_name(app: str) -> str:
    return f"bluegreen-owner-{app}"


def owner_of(client: docker.DockerClient, app: str) -> str | None:
    """The app directory that owns the app on this engine, if any deployment claimed it."""
    import docker.errors

    try:
        volume = client.volumes.get(claim_name(app))
    except docker.errors.NotFound:
        return None
    labels = volume.attrs.get("Labels") or {}
    return str(labels.get(OWNER_LABEL, ""))


def check_owner(client: docker.DockerClient, app: str, app_dir: str) -> None:
    owner = owner_of(client, app)
    if owner not in (None, app_dir):
        raise BluegreenError(
            f"{app} on this host belongs to another deployment, kept in {owner!r} (another remote-dir "
            f"or SSH user): its compose projects {app}-blue/{app}-green are shared by the Docker engine. "
            f"Deploy with that remote-dir and user, or choose another app-name"
        )


def claim(client: docker.DockerClient, app: str, app_dir: str) -> None:
    """Claim the app for app_dir, or fail naming the deployment that has it."""
    client.volumes.create(claim_name(app), labels={OWNER_LABEL: app_dir, "bluegreen.app": app})
    check_owner(client, app, app_dir)
