"""Pushing images to the lab's registry and reading what it holds."""

from __future__ import annotations

import json
import urllib.request

import docker

from lab.settings import HOST


class PushFailed(RuntimeError):
    pass


def push(client: docker.DockerClient, local_tag: str, target: str) -> None:
    """Tags `local_tag` as `target` (registry/repository:tag) and pushes it."""
    repository, tag = target.rsplit(":", 1)
    client.images.get(local_tag).tag(repository, tag)
    for event in client.images.push(repository, tag=tag, stream=True, decode=True):
        if "error" in event:
            raise PushFailed(f"push {target}: {event['error']}")


def registry_tags(port: int, repository: str, host: str = HOST) -> list[str]:
    url = f"http://{host}:{port}/v2/{repository}/tags/list"
    with urllib.request.urlopen(url, timeout=5) as response:
        tags = json.load(response).get("tags") or []
    return sorted(str(t) for t in tags)
