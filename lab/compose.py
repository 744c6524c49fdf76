"""Runs lab/compose.yml with whichever compose this machine has (v2 plugin or v1 binary)."""

from __future__ import annotations

import functools
import shlex
import shutil
import subprocess
import sys

from lab.settings import COMPOSE_FILE, LabPaths, lab_name


class ComposeNotFound(RuntimeError):
    pass


@functools.cache
def compose_command() -> tuple[str, ...]:
    """`docker compose` when the plugin works, else `docker-compose`."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False, timeout=30)
        if probe.returncode == 0:
            return ("docker", "compose")
    if shutil.which("docker-compose"):
        return ("docker-compose",)
    raise ComposeNotFound("neither `docker compose` nor `docker-compose` is installed")


def compose_prefix(paths: LabPaths) -> str:
    """The compose command with the lab's env file, as one shell string (for pytest-docker)."""
    return shlex.join([*compose_command(), "--env-file", str(paths.env_file)])


def run_compose(paths: LabPaths, *args: str) -> None:
    argv = [
        *compose_command(),
        "--env-file",
        str(paths.env_file),
        "-f",
        str(COMPOSE_FILE),
        "-p",
        lab_name(),
        *args,
    ]
    subprocess.run(argv, check=True, stdout=sys.stderr)
