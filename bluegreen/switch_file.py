"""The seamless mode's active-color file, held to what nginx serves (issue 17, findings 1 and 2).

nginx's workers read that file on every request. When it is missing, empty, names no color of the
app or cannot be read, njs keeps serving the last color it read (routing.njs_module), so traffic
flows; but the file no longer says what serves. Here:
- `status` says so (and whether nginx's workers can read the file at all);
- every deploy and rollback rewrites it to name the color nginx serves, with a warning;
- before a switch, the file is read as nginx's workers read it (their uid and gid, inside the proxy
  container): a switch they cannot see is refused, naming the directory and its mode.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Callable

from bluegreen.errors import BluegreenError, UnreadableFile
from bluegreen.host import Host
from bluegreen.progress import Reporter
from bluegreen.proxy import Candidate, Proxy, Routing
from bluegreen.routing import SEAMLESS_MARK, SeamlessFiles, active_file, color_of_active_file, njs_module
from bluegreen.untrusted import printable

MEMORY_DIRECTIVE = "js_shared_dict_zone"
"""Present in the njs module's binary when njs can keep the last color read (njs 0.8.0 and later)."""

WORKER_IDS_SCRIPT = (
    "for d in /proc/[0-9]*; do "
    'case "$(tr \'\\000\' \' \' < "$d/cmdline" 2>/dev/null)" in "nginx: worker process"*) '
    'while read -r key real rest; do case "$key" in Uid:) u=$real;; Gid:) g=$real;; esac; '
    'done < "$d/status"; echo "$u:$g"; exit 0;; esac; done; exit 1'
)


def seamless_candidate(
    app: str, files: SeamlessFiles, config: bytes, target: str, live: str | None
) -> Candidate:
    """What a seamless switch from live to target writes: the config, the active-color file, and the
    njs module whose last resort is the target (the live color until the switch)."""

    def module(color: str) -> bytes:
        return njs_module(app, files.active_path, color, files.memory).encode()

    return Candidate(
        config,
        js=module(target),
        active=active_file(app, target),
        holding=active_file(app, live) if live else None,
        holding_js=module(live) if live else None,
        files=files,
    )


# ---- what the file says --------------------------------------------------------------------------


def is_seamless(routing: Routing) -> bool:
    return routing.config is not None and routing.config.startswith(SEAMLESS_MARK.encode())


def active_file_problem(app: str, content: bytes | None) -> str | None:
    """What is wrong with the active-color file's content, in words (None: it names a color)."""
    if content is None:
        return "is missing"
    if not content.strip():
        return "is empty"
    if color_of_active_file(app, content) is None:
        return (
            f"says {printable(content.decode(errors='replace').strip(), 80)!r}, which names no color of {app}"
        )
    return None


def _problem(proxy: Proxy, app: str) -> tuple[bool, str | None]:
    """Whether the config is seamless, and what is wrong with its active-color file."""
    try:
        routing = proxy.routing()
    except UnreadableFile as exc:
        try:
            config = proxy.switch_files.host.read_file(proxy.live_config)
        except UnreadableFile:
            return False, None
        return is_seamless(Routing(config)), f"cannot be read by bluegreen ({exc})"
    return is_seamless(routing), active_file_problem(app, routing.active) if is_seamless(routing) else None


def warn_about_active_file(proxy: Proxy, app: str, served: str | None, report: Reporter) -> None:
    """`status`: say when the active-color file does not name a color, or nginx cannot read it."""
    seamless, problem = _problem(proxy, app)
    if not seamless:
        return
    if problem:
        serving = f"nginx serves {served}" if served else "nginx serves the color it last read from it"
        report.warning(
            f"the active-color file {proxy.switch_files.active_file} {problem}: {serving} (njs keeps "
            "the last color it read); the next deploy or rollback rewrites the file"
        )
    files = proxy.seamless_files()
    container = proxy.nginx_container()
    if files is not None and container is not None:
        unreadable = nginx_cannot_read(
            proxy.switch_files.host, container, files, proxy.switch_files.active_file
        )
        if unreadable:
            report.warning(
                f"{unreadable}; nginx serves the color it last read, and every switch fails until then"
            )


def repair_active_file(
    proxy: Proxy, app: str, live: str | None, served: Callable[[], str | None], report: Reporter
) -> None:
    """deploy and rollback: a seamless active-color file that names no color is rewritten to name
    the color nginx serves (else the live one), before anything else changes."""
    seamless, problem = _problem(proxy, app)
    if not seamless or problem is None:
        return
    color = served() or live
    if color is None:
        report.warning(f"the active-color file {proxy.switch_files.active_file} {problem}")
        return
    report.warning(
        f"the active-color file {proxy.switch_files.active_file} {problem}; nginx serves {color}: "
        f"the file is rewritten to name {color}"
    )
    proxy.switch_files.write_active(active_file(app, color))


# ---- can nginx's workers read it ---------------------------------------------------------------


def worker_ids(container: str) -> list[str]:
    """`uid:gid` of one of nginx's worker processes in a running container (as root, from /proc)."""
    return ["docker", "exec", container, "sh", "-c", WORKER_IDS_SCRIPT]


def read_as(container: str, ids: str, path: str) -> list[str]:
    return ["docker", "exec", "--user", ids, container, "cat", "--", path]


def enter_as(container: str, ids: str, directory: str) -> list[str]:
    return ["docker", "exec", "--user", ids, container, "test", "-x", directory]


def modes(*paths: str) -> list[str]:
    """On the host: each path's mode in octal, its owner and group, its name."""
    return ["stat", "-c", "%a %U:%G %n", "--", *paths]


def nginx_cannot_read(host: Host, container: str, files: SeamlessFiles, active_on_host: str) -> str | None:
    """`status`: why nginx's workers in `container` cannot read the active-color file as it is now
    (None: they can, it does not exist, or it cannot be told: no worker found, no shell in the image)."""
    worker = _worker(host, container)
    if worker is None or not _exists(host, active_on_host):
        return None
    read = host.run(read_as(container, worker, files.active_path))
    if read.ok or "permission denied" not in read.stderr.lower():
        return None
    return _denied(host, container, worker, active_on_host)


def nginx_cannot_enter(host: Host, container: str, files: SeamlessFiles, active_on_host: str) -> str | None:
    """Before a switch: why nginx's workers could not read the active-color file the switch writes
    (a new file, mode 0644): they cannot search its directory. None: they can, or it cannot be told."""
    worker = _worker(host, container)
    if worker is None:
        return None
    if host.run(enter_as(container, worker, posixpath.dirname(files.active_path))).ok:
        return None
    return _denied(host, container, worker, active_on_host)


def _exists(host: Host, path: str) -> bool:
    try:
        return host.read_file(path) is not None
    except UnreadableFile:
        return True


def _worker(host: Host, container: str) -> str | None:
    ids = host.run(worker_ids(container))
    return ids.stdout.strip().splitlines()[0] if ids.ok and ":" in ids.stdout else None


def _denied(host: Host, container: str, worker: str, active_on_host: str) -> str:
    directory = posixpath.dirname(active_on_host)
    found = host.run(modes(directory, active_on_host))
    listed = "; ".join(_mode_words(line) for line in found.stdout.splitlines()) or "modes unknown"
    return (
        f"nginx's worker processes in {container} (uid:gid {worker}) cannot read {active_on_host} "
        f"({listed}). Make the directory searchable and the file readable for them: "
        f"chmod o+x {shlex.quote(directory)} && chmod o+r {shlex.quote(active_on_host)} "
        "(bluegreen writes its files 0644 and makes its own directories 0755)"
    )


def _mode_words(line: str) -> str:
    mode, _, rest = line.partition(" ")
    owner, _, name = rest.partition(" ")
    return f"{name} is mode {mode.zfill(4)}, owner {owner}" if name else printable(line, 200)


def check_nginx_can_read(
    host: Host, container: str | None, candidate: Candidate, active_on_host: str
) -> None:
    """Before a seamless switch: refuse it when nginx's workers could not read the active-color file
    it writes. (An active-color file they cannot read now is replaced by the switch's own, 0644.)"""
    if container is None or candidate.files is None:
        return
    problem = nginx_cannot_enter(host, container, candidate.files, active_on_host)
    if problem:
        raise BluegreenError(f"{problem}; nothing was switched")
