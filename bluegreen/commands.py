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
"""A plain file name: no glob character, no `/`, not `.` or `..`."""


def _refuse_widening(directory: str, keep: str) -> None:
    """An empty or odd keep, or a directory that is not an absolute path below /, could make a
    cleanup remove every entry, the one in use included: refused (ValueError)."""
    if not KEEP_NAME.fullmatch(keep):
        raise ValueError(f"refusing to remove all but {keep!r} in {directory!r}: not a plain file name")
    if not directory.startswith("/") or not directory.strip("/") or "\0" in directory:
        raise ValueError(f"refusing to remove entries of {directory!r}: not an absolute directory below /")


KEPT_RELEASE = "bluegreen-kept"

_REMOVE_OLDER_RELEASES = r"""
folder=$1 keep=$2; shift 2
[ -d "$folder" ] || exit 0
me=$(id -u)
for release in "$folder"/*; do
  [ -e "$release" ] || [ -L "$release" ] || continue
  [ "${release##*/}" = "$keep" ] && continue
  held=""
  for data in "$@"; do
    [ -d "$release/$data" ] && [ ! -L "$release/$data" ] || continue
    if [ -n "$(ls -A -- "$release/$data")" ]; then held=$data; break; fi
  done
  # An empty directory Docker made holds nothing (and its parent's owner may remove it).
  found=$(find "$release" ! -user "$me" ! \( -type d -empty \) -print -quit 2>/dev/null)
  if [ -z "$held" ] && [ -n "$found" ]; then
    held="files the deploy user does not own"
  fi
  if [ -n "$held" ]; then echo "bluegreen-kept $release ($held)"; continue; fi
  rm -rf -- "$release"
done
"""


def remove_older_releases(directory: str, keep: str, data_paths: Sequence[str]) -> list[str]:
    """Remove a color's older release directories, except keep, and except any that holds what an
    app wrote: a data folder of the app with something in it (a real directory, not bluegreen's
    symlink), or anything but an empty directory that the deploy user does not own (a container
    made it). Each kept one is printed as `bluegreen-kept PATH (WHY)`."""
    _refuse_widening(directory, keep)
    return ["sh", "-c", _REMOVE_OLDER_RELEASES, "sh", directory, keep, *data_paths]


_MAKE_DATA_DIR = r"""
target=$1 earlier=$2 image=$3 app_dir=$4
[ -e "$target" ] && exit 0
mkdir -p -- "${target%/*}" || exit 1
if [ -n "$earlier" ] && [ -d "$earlier" ] && [ ! -L "$earlier" ]; then
  # A directory Docker made is root's: the deploy user may not move it (it must rewrite its ..).
  mv -- "$earlier" "$target" 2>/dev/null \
    || docker run --rm --user 0 --entrypoint mv --volume "$app_dir:$app_dir" "$image" \
      -- "$earlier" "$target" \
    || exit 1
  ln -s -- "$target" "$earlier" && echo "bluegreen-adopted $earlier"
  exit 0
fi
mkdir -p -- "$target"
"""


def make_data_dir(target: str, earlier: str = "", image: str = "", app_dir: str = "") -> list[str]:
    """Create one of the app's data folders, once. When the live color's release directory holds
    the folder an earlier deploy mounted (earlier), it is moved there instead (as root, in a
    throwaway container of image, when Docker made it), and a symlink to it is left in its place:
    the live color's containers keep their mount, and a restart of them finds the same folder."""
    return ["sh", "-c", _MAKE_DATA_DIR, "sh", target, earlier, image, app_dir]


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


def read_line_in(container: str, path: str) -> list[str]:
    """The first line of a file as a running container sees it (shell builtins only, no cat)."""
    return ["docker", "exec", container, "sh", "-c", 'read -r line < "$1" && echo "$line"', "sh", path]


def first_file_in_image(image: str, paths: Sequence[str], text: str = "") -> list[str]:
    """Print the first of paths that exists in an image (a throwaway container), as first_file_in."""
    return ["docker", "run", "--rm", "--entrypoint", "sh", image, "-c", _first_file_script(paths, text)]


def nginx_config_dump(container: str, nginx: NginxCommand) -> list[str]:
    """`nginx -T` (the whole config as loaded) of the config a running nginx container loads."""
    return ["docker", "exec", container, nginx.program, "-T", "-q", *nginx.options()]
