"""Private images: the pull on the host logs in to the registry with a Docker config of the run's
own, never the deploy user's ~/.docker/config.json.

The run makes a directory (mode 0700, `mktemp -d`) under the app's directory, points
`DOCKER_CONFIG` at it for `docker login` (the password over stdin) and for the pull, and removes it
at the end, also when the run fails or is cancelled. A run killed outright (SIGKILL) leaves it
behind: the next run of the app removes such leftovers first (it holds the app's lock).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from bluegreen import cancellation
from bluegreen.commands import Compose
from bluegreen.errors import BluegreenError, InputError
from bluegreen.host import Host
from bluegreen.progress import Reporter
from bluegreen.untrusted import printable

DOCKER_HUB = "docker.io"
LOGIN_DIR_PREFIX = ".registry-login."
REGISTRY_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]{1,5})?$")
# What registries answer when a pull lacks (or has wrong) credentials.
REFUSALS = ("no basic auth credentials", "unauthorized", "authentication required", "denied")


@dataclass(frozen=True)
class RegistryLogin:
    registry: str
    username: str
    password: str

    def __repr__(self) -> str:  # never print the password
        return f"RegistryLogin(registry={self.registry!r}, username={self.username!r})"


def registry_of(image: str) -> str:
    """The registry host of an image reference (Docker's rule: a first component with `.` or `:`,
    or `localhost`, is a registry; otherwise the image is on Docker Hub)."""
    first, slash, _ = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return DOCKER_HUB


def parse_registry_login(registry: str, username: str, password: str, image: str) -> RegistryLogin | None:
    """The login of the inputs, or None when none is asked for; one InputError for a bad value."""
    if not username and not password:
        if registry:
            raise InputError(
                "registry",
                "is set but `registry-username` is empty",
                "Set `registry-username` and `registry-password`",
            )
        return None
    if not username:
        raise InputError(
            "registry-username", "is empty but `registry-password` is set", "Set both or neither"
        )
    if not password:
        raise InputError(
            "registry-password", "is empty but `registry-username` is set", "Set both or neither"
        )
    if any(c.isspace() for c in username) or username.startswith("-"):
        raise InputError(
            "registry-username", f"is {username!r}", "Give the registry's user name, without spaces"
        )
    if not registry and not image:
        raise InputError(
            "registry",
            "is needed: `image` is empty, so the registry to log in to is unknown",
            "Set `registry`, e.g. ghcr.io",
        )
    registry = registry or registry_of(image)
    if not REGISTRY_HOST.fullmatch(registry):
        raise InputError(
            "registry",
            f"is {registry!r}",
            "Give the registry's host (and port), e.g. ghcr.io or registry.example.com:5000",
        )
    return RegistryLogin(registry, username, password)


# ---- commands (pure) ----------------------------------------------------------------------------


def make_login_dir(app_dir: str) -> list[str]:
    """A new directory only the deploy user can enter (mktemp -d makes it 0700); prints its path."""
    return ["mktemp", "-d", f"{app_dir}/{LOGIN_DIR_PREFIX}XXXXXXXX"]


def remove_login_dirs(app_dir: str) -> list[str]:
    """Every login directory of the app: this run's, and any a killed run left."""
    return ["find", app_dir, "-mindepth", "1", "-maxdepth", "1", "-name", f"{LOGIN_DIR_PREFIX}*",
            "-exec", "rm", "-rf", "--", "{}", "+"]  # fmt: skip


def docker_login(docker_config: str, login: RegistryLogin) -> list[str]:
    """`docker login` into the run's own config; the password comes on stdin."""
    return ["env", f"DOCKER_CONFIG={docker_config}", "docker", "login", "--username", login.username,
            "--password-stdin", login.registry]  # fmt: skip


def docker_logout(docker_config: str, login: RegistryLogin) -> list[str]:
    """Forget the login (also where a credential helper the host has configured by default keeps it)."""
    return ["env", f"DOCKER_CONFIG={docker_config}", "docker", "logout", login.registry]


def with_docker_config(compose: Compose, docker_config: str | None) -> Compose:
    """The compose project, its commands run with the run's Docker config (None: unchanged)."""
    if docker_config is None:
        return compose
    return dataclasses.replace(compose, env={**compose.env, "DOCKER_CONFIG": docker_config})


# ---- running them -------------------------------------------------------------------------------


@contextmanager
def logged_in(
    host: Host, login: RegistryLogin | None, app_dir: str, report: Reporter
) -> Iterator[str | None]:
    """The Docker config directory to pull with (None without a login), removed when the block ends."""
    if login is None:
        yield None
        return
    docker_config = ""
    try:
        host.run(remove_login_dirs(app_dir)).check("removing registry logins a killed run left")
        docker_config = (
            host.run(make_login_dir(app_dir)).check("making a Docker config directory").stdout.strip()
        )
        result = host.run(docker_login(docker_config, login), stdin=login.password.encode() + b"\n")
        if not result.ok:
            raise BluegreenError(
                f"the login to the registry {login.registry} as {login.username} failed on {host.name}: "
                f"{last_line(result.stderr or result.stdout)}. Check `registry-username` and "
                "`registry-password`; the live color was not touched"
            )
        report.info(f"logged in to {login.registry} as {login.username} (a Docker config of this run's own)")
        yield docker_config
    finally:
        with cancellation.shielded():  # a second signal must not leave the credentials behind
            if docker_config:
                host.run(docker_logout(docker_config, login))
            removed = host.run(remove_login_dirs(app_dir))
        if not removed.ok:
            report.warning(
                f"could not remove the run's registry login in {app_dir}: {last_line(removed.stderr)}"
            )


def pull(
    host: Host, compose: Compose, services: Sequence[str], what: str, login: RegistryLogin | None, image: str
) -> None:
    """`compose pull`; a registry's refusal is one error that says which inputs log in."""
    result = host.run(compose.pull(*services))
    if result.ok:
        return
    output = (result.stderr or result.stdout).lower()
    if any(refusal in output for refusal in REFUSALS):
        registry = login.registry if login else (registry_of(image) if image else "the image's registry")
        fix = (
            f"the login as {login.username} is not allowed to pull it: check `registry-username`"
            if login
            else "set `registry-username` and `registry-password` (and `registry`, unless `image` names it)"
        )
        tail = last_line(result.stderr or result.stdout)
        raise BluegreenError(f"{what} failed: {registry} refused the pull ({tail}); {fix}")
    result.check(what)


def last_line(output: str) -> str:
    """The last non-blank line of a command's output, printable."""
    lines = [line for line in output.splitlines() if line.strip()]
    return printable(lines[-1].strip(), 500) if lines else "no output"
