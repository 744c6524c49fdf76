"""Install the Debian/Ubuntu packages a `make` target needs, or say in one line how to.

    python3 tools/system_packages.py [--lab] [--docker] [PACKAGE...]

Runs with the system python3 alone (the virtualenv may not exist yet). A package counts as present
when what it provides is there (an `ssh` for openssh-client, any compose for docker-compose);
missing ones are installed with apt-get, as root or through `sudo -n`. When that is not possible
it prints one line naming the packages and the command to run, and exits 1. --lab adds the
packages the lab needs (LAB_PACKAGES); --docker also checks that a Docker engine answers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from importlib.util import find_spec
from pathlib import Path

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
# What the lab runs on this machine: mmdebstrap (with Debian's keys) builds its images offline,
# compose starts it, ssh is the client some tests compare against.
LAB_PACKAGES = ("mmdebstrap", "debian-archive-keyring", "docker-compose", "openssh-client")


def on_path(program: str) -> bool:
    return shutil.which(program) is not None


def succeeds(argv: Sequence[str]) -> bool:
    if not on_path(argv[0]):
        return False
    try:
        return subprocess.run(argv, capture_output=True, timeout=60, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def has_compose() -> bool:
    return on_path("docker-compose") or succeeds(["docker", "compose", "version"])


# What each package provides; any other package is taken to provide a program of its own name.
PROVIDES: dict[str, Callable[[], bool]] = {
    "docker-compose": has_compose,
    "openssh-client": lambda: on_path("ssh"),
    "python3-venv": lambda: find_spec("ensurepip") is not None,
    "debian-archive-keyring": lambda: Path("/usr/share/keyrings/debian-archive-keyring.gpg").is_file(),
}


def present(package: str) -> bool:
    return PROVIDES.get(package, lambda: on_path(package))()


def missing(packages: Sequence[str]) -> list[str]:
    return [package for package in packages if not present(package)]


def privilege_prefix(euid: int, sudo_works: bool) -> list[str] | None:
    """How to run apt-get as root: directly, through `sudo -n`, or not at all (None)."""
    if euid == 0:
        return []
    return ["sudo", "-n"] if sudo_works else None


def manual_command(packages: Sequence[str]) -> str:
    return f"sudo apt-get install {' '.join(packages)}"


def _apt(prefix: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **APT_ENV}
    argv = [*prefix, "apt-get", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


def install(packages: Sequence[str]) -> str:
    """Install the packages; "" when done, else the one line saying why not and what to run."""
    needed = f"missing system packages: {' '.join(packages)}"
    if not on_path("apt-get"):
        return f"{needed}; install them with your package manager (Debian/Ubuntu: {manual_command(packages)})"
    euid = os.geteuid()
    prefix = privilege_prefix(euid, euid == 0 or succeeds(["sudo", "-n", "true"]))
    if prefix is None:
        return (
            f"{needed}; installing them needs root (sudo asks for a password): run {manual_command(packages)}"
        )
    print(f"installing system packages: {' '.join(packages)}", flush=True)
    install_args = ("install", "-y", "-qq", "--no-install-recommends", *packages)
    done = _apt(prefix, *install_args)
    if done.returncode != 0:  # a fresh machine has no package lists yet
        _apt(prefix, "update", "-qq")
        done = _apt(prefix, *install_args)
    still = missing(packages)
    if done.returncode != 0 or still:
        output = (done.stderr or done.stdout).strip().splitlines()
        reason = f" ({output[-1].strip()})" if output else ""
        failed = still or list(packages)
        return f"installing {' '.join(failed)} failed{reason}: run {manual_command(failed)}"
    return ""


def docker_problem() -> str:
    if not on_path("docker"):
        return (
            "Docker is not installed: install Docker Engine (Debian/Ubuntu: sudo apt-get install docker.io)"
        )
    if not succeeds(["docker", "info"]):
        return (
            "the Docker engine does not answer (`docker info` failed): "
            "start it, or add your user to the docker group"
        )
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check_docker = "--docker" in args
    packages = [arg for arg in args if not arg.startswith("--")]
    packages += list(LAB_PACKAGES) if "--lab" in args else []
    absent = missing(packages)
    problem = install(absent) if absent else ""
    if not problem and check_docker:
        problem = docker_problem()
    if problem:
        print(f"make: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
