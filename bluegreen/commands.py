"""Pure command builders: each returns the argv to run on the host, nothing is executed here."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bluegreen.render import PROXY_CONFIG_DIR

COMPOSE_V2 = ("docker", "compose")
COMPOSE_V1 = ("docker-compose",)
LOCK_ACQUIRED = "bluegreen-lock-acquired"


@dataclass(frozen=True)
class Compose:
    """One compose project on the host: `<compose> -p PROJECT -f FILE... ARGS`, with its environment."""

    program: tuple[str, ...]
    project: str
    files: tuple[str, ...]
    env: Mapping[str, str]

    def __call__(self, *args: str) -> list[str]:
        env = [f"{key}={value}" for key, value in sorted(self.env.items())]
        files = [arg for path in self.files for arg in ("-f", path)]
        prefix = ["env", *env] if env else []
        return [*prefix, *self.program, "-p", self.project, *files, *args]

    def pull(self, *services: str) -> list[str]:
        return self("pull", "--quiet", *services)

    def up(self, *services: str, no_deps: bool = False) -> list[str]:
        """Start the services (all when none are named); no_deps leaves what they depend on alone."""
        deps = ["--no-deps"] if no_deps else []
        return self("up", "--detach", "--remove-orphans", *deps, *services)

    def create(self, *services: str, no_deps: bool = False) -> list[str]:
        """Create the services' containers without starting them (a kept color, put back)."""
        deps = ["--no-deps"] if no_deps else []
        return self("up", "--no-start", *deps, *services)

    def up_only(self, *services: str) -> list[str]:
        """Start just these services of a project that other projects' files also define."""
        return self("up", "--detach", *services)

    def run_once(self, service: str, argv: Sequence[str]) -> list[str]:
        """Run argv in a one-off container of the service, alone (its dependencies are not started),
        without a TTY (there is none over SSH), and remove the container when it exits."""
        return self("run", "--rm", "--no-deps", "-T", service, *argv)

    def stop(self, timeout: int = 10) -> list[str]:
        return self("stop", "--timeout", str(timeout))

    def down(self) -> list[str]:
        return self("down", "--remove-orphans", "--timeout", "10")


def compose_version(program: Sequence[str]) -> list[str]:
    return [*program, "version"]


def make_dirs(*paths: str) -> list[str]:
    return ["mkdir", "-p", "--", *paths]


def take_lock(lock_file: str, wait_seconds: float) -> list[str]:
    """Hold an flock on lock_file for as long as the SSH channel is open.

    `cat` blocks on the channel's stdin; when the deploy ends, dies or loses its connection, stdin
    closes, cat exits and the kernel releases the lock: a killed deploy never blocks the next one.
    """
    return [
        "flock", "--exclusive", "--wait", f"{wait_seconds:g}", "--conflict-exit-code", "75",
        lock_file, "sh", "-c", f"echo {LOCK_ACQUIRED} && exec cat",
    ]  # fmt: skip


def nginx_test(container: str, config_path: str) -> list[str]:
    return ["docker", "exec", container, "nginx", "-t", "-q", "-c", config_path]


def nginx_test_in(container: str) -> list[str]:
    """`nginx -t` of the config a running nginx container loads."""
    return ["docker", "exec", container, "nginx", "-t", "-q"]


def nginx_test_in_new_container(
    image: str, config_dir: str, config_path: str, volumes: Sequence[str] = ()
) -> list[str]:
    """`nginx -t` before the proxy runs (or runs another image): a throwaway container with the
    same mounts."""
    mounts = [
        arg for volume in (f"{config_dir}:{PROXY_CONFIG_DIR}:ro", *volumes) for arg in ("--volume", volume)
    ]
    return ["docker", "run", "--rm", "--network", "host", *mounts, image,
            "nginx", "-t", "-q", "-c", config_path]  # fmt: skip


def overwrite(path: str) -> list[str]:
    """Rewrite a file in place from stdin (same inode: a single-file bind mount sees it)."""
    return ["sh", "-c", 'cat > "$1"', "sh", path]


def remove(*paths: str) -> list[str]:
    return ["rm", "-f", "--", *paths]


KEEP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
"""A plain file name: no glob character (find's -name takes a pattern), no `/`, not `.` or `..`."""


def remove_all_but(directory: str, keep: str) -> list[str]:
    """Remove every entry of directory except the one named keep.

    Refuses (ValueError) a keep that is not a plain name and a directory that is not an absolute
    path below /: an empty keep would make the command remove every entry, the one in use included.
    """
    if not KEEP_NAME.fullmatch(keep):
        raise ValueError(f"refusing to remove all but {keep!r} in {directory!r}: not a plain file name")
    if not directory.startswith("/") or not directory.strip("/") or "\0" in directory:
        raise ValueError(f"refusing to remove entries of {directory!r}: not an absolute directory below /")
    return ["find", directory, "-mindepth", "1", "-maxdepth", "1", "!", "-name", keep,
            "-exec", "rm", "-rf", "--", "{}", "+"]  # fmt: skip


def _first_file_script(paths: Sequence[str]) -> str:
    return (
        "for f in "
        + " ".join(shlex.quote(p) for p in paths)
        + '; do [ -f "$f" ] && echo "$f" && exit 0; done; exit 1'
    )


def first_file_in(container: str, paths: Sequence[str]) -> list[str]:
    """Print the first of paths that exists in a running container."""
    return ["docker", "exec", container, "sh", "-c", _first_file_script(paths)]


def first_file_in_image(image: str, paths: Sequence[str]) -> list[str]:
    """Print the first of paths that exists in an image (a throwaway container)."""
    return ["docker", "run", "--rm", "--entrypoint", "sh", image, "-c", _first_file_script(paths)]


def nginx_config_dump(container: str) -> list[str]:
    return ["docker", "exec", container, "nginx", "-T", "-q"]
