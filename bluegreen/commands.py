"""Pure command builders: each returns the argv to run on the host, nothing is executed here."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bluegreen.nginx_master import NginxCommand
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

    def run_once(self, service: str, argv: Sequence[str], name: str = "") -> list[str]:
        """Run argv in a one-off container of the service, alone (its dependencies are not started),
        without a TTY (there is none over SSH), and remove the container when it exits."""
        named = ["--name", name] if name else []
        return self("run", "--rm", "--no-deps", "-T", *named, service, *argv)

    def stop(self, timeout: int = 10) -> list[str]:
        return self("stop", "--timeout", str(timeout))

    def down(self) -> list[str]:
        return self("down", "--remove-orphans", "--timeout", "10")


def compose_version(program: Sequence[str]) -> list[str]:
    return [*program, "version"]


def make_dirs(*paths: str, mode: int | None = None) -> list[str]:
    """With mode: the named directories get it when they are made, whatever the server's umask."""
    return ["mkdir", "-p", *(["-m", f"{mode:04o}"] if mode is not None else []), "--", *paths]


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


def nginx_test_in(container: str, nginx: NginxCommand) -> list[str]:
    """`nginx -t` of the config a running nginx container loads: its master's program and options."""
    return ["docker", "exec", container, nginx.program, "-t", "-q", *nginx.options()]


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


COPY_IN_PLACE_SCRIPT = """trap '' HUP PIPE
staged=$1 live=$2 backup=$3
same() { [ "$(cksum <"$1")" = "$(cksum <"$2")" ]; }
if ! { cat "$live" >"$backup" && same "$live" "$backup"; }; then
    rm -f -- "$backup"; echo "could not keep a copy of $live in $backup" >&2; exit 3
fi
if cat "$staged" >"$live" && same "$staged" "$live"; then rm -f -- "$staged" "$backup"; exit 0; fi
if cat "$backup" >"$live" && same "$backup" "$live"; then
    rm -f -- "$backup"; echo "writing $live failed; it holds its previous content again" >&2; exit 4
fi
echo "writing $live failed, and so did putting its previous content back: it is in $backup" >&2
exit 5
"""


def copy_in_place(staged: str, live: str, backup: str) -> list[str]:
    """Copy the complete staged file over live, keeping live's inode (a single-file bind mount
    sees only that inode); check the copy and put live's previous content back if it differs.

    The content is already on the server and the copy ignores SIGHUP and SIGPIPE: a dropped SSH
    connection cannot cut it. Only a crash of the server during the copy itself (a few
    microseconds for a config file) could, and the previous content then waits in `backup`.
    Paths are absolute (`cat` gets no `--`: busybox's may not take it)."""
    return ["sh", "-c", COPY_IN_PLACE_SCRIPT, "sh", staged, live, backup]


SWITCH_LOCK_FILE = "/tmp/.bluegreen-switch.lock"
"""Inside the user's nginx container: one lock per nginx, whatever the app's SSH user or remote-dir."""
SWITCH_LOCK_CONFLICT = 75
SWITCH_LOCK_CANNOT_CREATE = 73
SWITCH_LOCK_NO_FLOCK = 69
SWITCH_LOCK_ERROR = 70
SWITCH_LOCK_SCRIPT = f"""lock=$1 holder=$2 wait=$3
command -v flock >/dev/null 2>&1 || {{ echo "no flock command" >&2; exit {SWITCH_LOCK_NO_FLOCK}; }}
[ -f "$lock" ] || true >>"$lock" || exit {SWITCH_LOCK_CANNOT_CREATE}
true <"$lock" || exit {SWITCH_LOCK_CANNOT_CREATE}
exec 9<"$lock"
start=$(date +%s)
while ! error=$(flock -n 9 2>&1); do
    if [ -n "$error" ]; then echo "$error" >&2; exit {SWITCH_LOCK_ERROR}; fi
    if [ $(($(date +%s) - start)) -gt "$wait" ]; then
        cat "$lock.holder" >&2 2>/dev/null; exit {SWITCH_LOCK_CONFLICT}
    fi
    sleep 0.1
done
printf '%s\\n' "$holder" >"$lock.holder" 2>/dev/null
echo {LOCK_ACQUIRED}
exec cat
"""


def switch_lock(lock_file: str, holder: str, wait_seconds: int) -> list[str]:
    """Take an flock on lock_file and hold it while stdin stays open (as take_lock), writing
    holder into lock_file.holder; after wait_seconds print the holder's line and exit 75.

    Written for busybox too (its flock has no --wait, no --conflict-exit-code; the script was run
    by busybox's sh): it polls `flock -n` on an fd opened read-only (no O_CREAT on a file another
    user made, which fs.protected_regular would refuse in a sticky /tmp).
    Exit 69: no flock; 73: the lock file cannot be made or opened (the shell says why)."""
    return ["sh", "-c", SWITCH_LOCK_SCRIPT, "sh", lock_file, holder, str(wait_seconds)]


def in_container(container: str, argv: Sequence[str], *, stdin: bool = False) -> list[str]:
    """argv run inside a running container (stdin: attached, so that closing it ends argv)."""
    return ["docker", "exec", *(["-i"] if stdin else []), container, *argv]


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


def _first_file_script(paths: Sequence[str], text: str) -> str:
    mark = f' && {{ grep -qF {shlex.quote(text)} "$f" && echo {CONTAINS} || true; }}' if text else ""
    return (
        "for f in "
        + " ".join(shlex.quote(p) for p in paths)
        + f'; do [ -f "$f" ] && echo "$f"{mark} && exit 0; done; exit 1'
    )


CONTAINS = "contains"
"""The second line first_file_in prints when the file found contains `text`."""


def first_file_in(container: str, paths: Sequence[str], text: str = "") -> list[str]:
    """Print the first of paths that exists in a running container (then CONTAINS if it has text)."""
    return ["docker", "exec", container, "sh", "-c", _first_file_script(paths, text)]


def first_file_in_image(image: str, paths: Sequence[str], text: str = "") -> list[str]:
    """Print the first of paths that exists in an image (a throwaway container), as first_file_in."""
    return ["docker", "run", "--rm", "--entrypoint", "sh", image, "-c", _first_file_script(paths, text)]


def nginx_config_dump(container: str, nginx: NginxCommand) -> list[str]:
    """`nginx -T` (the whole config as loaded) of the config a running nginx container loads."""
    return ["docker", "exec", container, nginx.program, "-T", "-q", *nginx.options()]
