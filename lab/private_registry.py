"""The lab's second registry, which wants a login (htpasswd, bcrypt), for deploys of private images.

It runs the lab's registry image as a container of its own (not part of lab/compose.yml, so that
starting it never touches the running lab's containers); `ensure` is idempotent: a running
instance with the same settings is kept, its credentials and storage stay in the lab dir.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from pathlib import Path
from typing import Any

import bcrypt
import docker
import docker.errors

from lab import recipes
from lab.readiness import wait_until
from lab.registry import PushFailed
from lab.settings import HOST, LAB_LABEL, LabPaths, lab_name, ports

USERNAME = "bluegreen-lab"
REPOSITORY = "bluegreen-private"
VERSION = "v2"
"""The demo version pushed to the private registry (its `/` answers `"version": "v2"`)."""
CONTAINER_HTPASSWD = "/etc/lab/htpasswd"
CONTAINER_STORAGE = "/var/lib/docker-registry"


def container_name() -> str:
    return f"{lab_name()}-registry-auth"


def address() -> str:
    return f"{HOST}:{ports().private_registry}"


def image() -> str:
    return f"{address()}/{REPOSITORY}:{VERSION}"


def _directory(paths: LabPaths) -> Path:
    return paths.root / "private-registry"


def credentials(paths: LabPaths) -> tuple[str, str]:
    """The username and the password, made once per lab dir (kept like the registry's storage)."""
    directory = _directory(paths)
    directory.mkdir(parents=True, exist_ok=True)
    file = directory / "credentials.json"
    if not file.is_file():
        password = secrets.token_urlsafe(18)
        htpasswd = f"{USERNAME}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()}\n"
        (directory / "htpasswd").write_text(htpasswd)
        file.write_text(json.dumps({"username": USERNAME, "password": password}))
        file.chmod(0o600)
    saved = json.loads(file.read_text())
    return str(saved["username"]), str(saved["password"])


def _environment() -> dict[str, str]:
    return {
        "REGISTRY_HTTP_ADDR": address(),
        "REGISTRY_AUTH": "htpasswd",
        "REGISTRY_AUTH_HTPASSWD_REALM": "bluegreen-lab",
        "REGISTRY_AUTH_HTPASSWD_PATH": CONTAINER_HTPASSWD,
    }


def _start(client: docker.DockerClient, paths: LabPaths) -> None:
    """Start the container unless one with these settings runs (another one is replaced)."""
    directory = _directory(paths)
    storage = directory / "data"
    storage.mkdir(parents=True, exist_ok=True)
    wanted = [f"{key}={value}" for key, value in sorted(_environment().items())]
    with contextlib.suppress(docker.errors.NotFound):
        found = client.containers.get(container_name())
        image_tags = found.image.tags if found.image else []
        same = image_tags == [recipes.REGISTRY.tag] and set(wanted) <= set(found.attrs["Config"]["Env"])
        if same and found.status == "running":
            return
        found.remove(force=True)
    client.containers.run(
        recipes.REGISTRY.tag,
        name=container_name(),
        detach=True,
        network_mode="host",
        restart_policy={"Name": "always"},
        environment=_environment(),
        volumes={
            str(directory / "htpasswd"): {"bind": CONTAINER_HTPASSWD, "mode": "ro"},
            str(storage): {"bind": CONTAINER_STORAGE, "mode": "rw"},
        },
        labels={LAB_LABEL: lab_name()},
    )


def _answers_with_a_login_wanted() -> bool:
    """The API answers, and answers 401 without credentials."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{address()}/v2/", timeout=2):
            return False  # 200 without a login: not the registry this module starts
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except OSError:
        return False


def ensure(client: docker.DockerClient, paths: LabPaths) -> dict[str, Any]:
    """Run the login-only registry, push the private demo image to it, and describe it for lab.json."""
    username, password = credentials(paths)
    _start(client, paths)
    wait_until(_answers_with_a_login_wanted, f"the login-only registry on {address()}")
    repository, tag = image().rsplit(":", 1)
    client.images.get(recipes.DEMO[VERSION].tag).tag(repository, tag)
    auth = {"username": username, "password": password}
    for event in client.images.push(repository, tag=tag, stream=True, decode=True, auth_config=auth):
        if "error" in event:
            raise PushFailed(f"push {image()}: {event['error']}")
    return {"address": address(), "username": username, "password": password, "image": image()}
