"""Pytest fixtures of the lab, on pytest-docker.

Use the session fixture `lab` in any test marked `@pytest.mark.lab`: it returns the dict that
`python -m lab up` prints (host, port, username, ssh_key_file, known_hosts_file, images, ...).
The lab comes up once per session (images built only when missing, a running lab reused) and
is taken down at the end, unless BLUEGREEN_LAB_KEEP=1: then it stays up for the next session.

pytest-docker starts lab/compose.yml as project $BLUEGREEN_LAB_NAME (bluegreen-lab) with whichever compose the
machine has (`docker compose` or `docker-compose`); the lab's own code does the rest (images,
keys, waiting, pushing to the registry, `lab down`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from lab import lifecycle
from lab.compose import compose_prefix
from lab.settings import COMPOSE_FILE, keep_lab, lab_name, lab_paths
from tools.system_packages import LAB_PACKAGES, missing


@pytest.fixture(scope="session")
def lab_prepared() -> bool:
    """Lab images built and the lab dir written; True when its keys are new."""
    absent = missing(LAB_PACKAGES)
    if absent:
        pytest.fail(f"the lab needs {' '.join(absent)}: run `make lab-system`", pytrace=False)
    return lifecycle.prepare()


@pytest.fixture(scope="session")
def docker_compose_command(lab_prepared: bool) -> str:
    return compose_prefix(lab_paths())


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(COMPOSE_FILE)


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return lab_name()


@pytest.fixture(scope="session")
def docker_setup(lab_prepared: bool) -> list[str]:
    # No --wait (compose v1 has none): `lab` waits. New keys need new server containers.
    return ["up -d --force-recreate" if lab_prepared else "up -d"]


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    # `lab` tears down with lab.down(), which also removes what deploys through the lab left.
    return []


@pytest.fixture(scope="session")
def lab(docker_services: Any) -> Iterator[dict[str, Any]]:
    """The running lab's info (see module doc)."""
    info = lifecycle.publish()
    yield info
    if not keep_lab():
        lifecycle.down()


def ensure_ssh_client() -> str:
    """The `ssh` binary; installs Debian's openssh-client when it is missing and we are root."""
    found = shutil.which("ssh")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "openssh-client"]
        if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
            subprocess.run(install, env=env, capture_output=True, check=False)
        found = shutil.which("ssh")
    if found is None:
        pytest.fail("the ssh client is missing: apt-get install openssh-client")
    return found


@pytest.fixture(scope="session")
def ssh_binary() -> str:
    return ensure_ssh_client()
