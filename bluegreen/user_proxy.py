"""An nginx container the user runs and keeps (`proxy-container`), loading `proxy-config-file`:
bluegreen renders that file, validates it inside that container, swaps it, signals that container
and waits for its workers. It never starts, stops or recreates the container.

The file reaches the container through a bind mount of its directory (a rename on the host is
seen inside) or of the file itself (the container keeps the file's inode, so a rename would be
invisible: the content is copied in place instead). Either way the new content is uploaded whole
first, under a name no include of the user's nginx matches, and takes the file's place in one step
(see write_live).

`nginx -t` and `nginx -T` run with the options the container's nginx master was started with
(`-c`, `-p`, `-g`: nginx_master), so they test the config it really runs. Apps behind one nginx take
turns through a lock inside that container (commands.switch_lock): the same for every app, whatever
its SSH user or remote-dir.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bluegreen import commands
from bluegreen.errors import BluegreenError, InputError
from bluegreen.host import CommandResult, Host
from bluegreen.nginx_master import NginxCommand, running_command
from bluegreen.progress import Reporter
from bluegreen.proxy import Candidate, NginxProcess, Routing, SwitchFiles, nginx_test_failure, routed_color_of
from bluegreen.routing import NJS_MODULE_PATHS, SEAMLESS, SeamlessFiles
from bluegreen.switch_file import MEMORY_DIRECTIVE, check_nginx_can_read
from bluegreen.untrusted import printable

if TYPE_CHECKING:
    from docker.models.containers import Container

SWITCH_LOCK_WAIT = 120


@dataclass(frozen=True)
class ConfigMount:
    """How the container sees the config file."""

    path_inside: str
    single_file: bool


def config_mount(mounts: list[dict[str, Any]], config_file: str) -> ConfigMount | None:
    """The bind mount through which the container sees config_file, if any (pure)."""
    best: ConfigMount | None = None
    best_length = -1
    for mount in mounts:
        source, destination = str(mount.get("Source", "")), str(mount.get("Destination", ""))
        if not source or not destination:
            continue
        if source == config_file:
            return ConfigMount(destination, single_file=True)
        prefix = source.rstrip("/") + "/"
        if config_file.startswith(prefix) and len(source) > best_length:
            best = ConfigMount(posixpath.join(destination, config_file[len(prefix) :]), single_file=False)
            best_length = len(source)
    return best


class UserProxy:
    def __init__(
        self, host: Host, app: str, container_name: str, config_file: str, remote_dir: str, report: Reporter
    ) -> None:
        self.host, self.app, self.container_name, self.report = host, app, container_name, report
        self.remote_dir = remote_dir
        self.live_config = config_file
        directory = posixpath.dirname(config_file)
        # Beside the config file, in the directory the container mounts. Hidden: nginx's include
        # globs (glob(3) without GLOB_PERIOD) match no name that starts with a dot, not even `*`.
        self.switch_files = SwitchFiles(
            host, f"{directory}/.bluegreen-{app}.js", f"{directory}/.bluegreen-{app}.active"
        )
        self.staged_beside = f"{directory}/.bluegreen-{app}.next"
        """A directory mount: the new config, complete, before its rename over the live one."""
        app_dir = f"{remote_dir}/{app}"  # the app's Layout.app_dir, made before any switch
        self.staged_in_app_dir = f"{app_dir}/.proxy-config.next"
        self.backup_in_app_dir = f"{app_dir}/.proxy-config.previous"
        """A single-file mount: the new config, and the old one while it is copied over (in the
        app's own directory, which bluegreen may write, unlike perhaps the config file's)."""
        self._mount: ConfigMount | None = None
        self._nginx: NginxCommand | None = None

    def _container(self) -> Container:
        import docker.errors

        try:
            return self.host.docker().containers.get(self.container_name)
        except docker.errors.NotFound:
            raise InputError(
                "proxy-container",
                f"no container named {self.container_name!r} exists on {self.host.name}",
                "Give the name of your running nginx container (`docker ps --format '{{.Names}}'`)",
            ) from None

    def check(self) -> None:
        container = self._container()
        if container.status != "running":
            raise InputError(
                "proxy-container",
                f"{self.container_name} is {container.status}, not running",
                "Start your nginx container (bluegreen never starts or recreates it)",
            )
        nginx = running_command(container.top().get("Processes") or [], container.attrs)
        if nginx is None:
            raise InputError(
                "proxy-container",
                f"{self.container_name} runs no nginx master process",
                "Give the name of the container that runs nginx",
            )
        mount = config_mount(container.attrs.get("Mounts") or [], self.live_config)
        if mount is None:
            raise InputError(
                "proxy-config-file",
                f"{self.live_config} is not mounted into {self.container_name}",
                "Give the host path of the config file your nginx container loads (a file or directory "
                "it bind-mounts, e.g. /srv/nginx/conf.d/shop.conf)",
            )
        self._mount, self._nginx = mount, nginx

    @property
    def mount(self) -> ConfigMount:
        if self._mount is None:
            self.check()
        assert self._mount is not None
        return self._mount

    @property
    def nginx(self) -> NginxCommand:
        """How the container's nginx master was started: what `nginx -t` must repeat."""
        if self._nginx is None:
            self.check()
        assert self._nginx is not None
        return self._nginx

    def seamless_files(self) -> SeamlessFiles | None:
        """Seamless when the container sees the config's directory (not a single-file mount) and
        its nginx loads njs (the user's nginx.conf does: `load_module`, or Debian's modules-enabled)."""
        if self.mount.single_file:
            return None
        dump = self.host.run(commands.nginx_config_dump(self.container_name, self.nginx))
        if not dump.ok or "ngx_http_js_module" not in dump.stdout:
            return None
        inside = posixpath.dirname(self.mount.path_inside)
        loaded = re.search(r"load_module\s+(/\S*ngx_http_js_module\.so)", dump.stdout)
        paths = (loaded.group(1), *NJS_MODULE_PATHS) if loaded else NJS_MODULE_PATHS
        probe = self.host.run(commands.first_file_in(self.container_name, paths, MEMORY_DIRECTIVE))
        return SeamlessFiles(
            js_path=f"{inside}/{posixpath.basename(self.switch_files.js_file)}",
            active_path=f"{inside}/{posixpath.basename(self.switch_files.active_file)}",
            memory=probe.ok and commands.CONTAINS in probe.stdout.split(),
        )

    def nginx_container(self) -> str | None:
        return self.container_name

    def read_live(self) -> bytes | None:
        return self.host.read_file(self.live_config)

    def routing(self) -> Routing:
        return Routing(self.read_live(), self.switch_files.read_active())

    def routed_color(self) -> str | None:
        return routed_color_of(self.routing(), self.app)

    def settle(self, candidate: Candidate) -> None:
        self.switch_files.flip(candidate)
        self.write_live(candidate.config)

    def write_live(self, config: bytes) -> None:
        """Upload the whole config first, then replace the live file in one step: a dropped
        connection leaves the live file as it was and no partial file any include matches."""
        if self.mount.single_file and self.read_live() is not None:
            # The container holds the file's inode: a rename would not be seen. The staged copy is
            # copied over it on the server, checked, and the old content put back if it differs.
            self.host.write_file(self.staged_in_app_dir, config)
            self.host.run(
                commands.copy_in_place(self.staged_in_app_dir, self.live_config, self.backup_in_app_dir)
            ).check(f"writing {self.live_config}")
        else:
            self.host.write_file(self.staged_beside, config)
            self.host.rename(self.staged_beside, self.live_config)

    def validate(self, candidate: Candidate) -> None:
        """Included files cannot be tested alone: the candidate is tested in place, at the switch.
        Here: whether nginx's workers can read the active-color file in the config's directory."""
        check_nginx_can_read(self.host, self.container_name, candidate, self.switch_files.active_file)

    def switch(self, candidate: Candidate) -> None:
        with self._turn():
            previous = self.routing()
            if candidate.mode == SEAMLESS and previous.config == candidate.config:
                self.switch_files.flip(candidate)  # nginx reads the active color per request: no reload
                return
            self.switch_files.prepare(candidate)
            self.switch_files.hold(candidate)  # a changed config goes live still routing to the live color
            self.write_live(candidate.config)
            result = self.host.run(commands.nginx_test_in(self.container_name, self.nginx))
            if not result.ok:
                self._put_back(previous)
                raise nginx_test_failure(result.stderr or result.stdout)
            NginxProcess(self._container(), self.report).reload()
            self.switch_files.flip(candidate)

    def _put_back(self, routing: Routing) -> None:
        self.switch_files.put_back(routing)
        if routing.config is None:
            self.host.run(commands.remove(self.live_config)).check(f"removing {self.live_config}")
        else:
            self.write_live(routing.config)

    def restore(self, routing: Routing) -> None:
        with self._turn():
            config_changed = self.read_live() != routing.config
            self._put_back(routing)
            if config_changed:
                NginxProcess(self._container(), self.report).reload()

    def discard(self) -> None:
        """Nothing was written before the switch."""

    def reload_if_running(self) -> None:
        container = self._container()
        if container.status == "running":
            NginxProcess(container, self.report).reload()

    def drain(self, timeout: float) -> None:
        NginxProcess(self._container(), self.report).drain(timeout)

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """Apps behind this nginx take turns to swap, test and reload: one lock inside the
        container, so every app finds it, whatever its SSH user or remote-dir."""
        held = self.host.hold(
            commands.in_container(
                self.container_name,
                commands.switch_lock(commands.SWITCH_LOCK_FILE, self._holder(), SWITCH_LOCK_WAIT),
                stdin=True,
            ),
            commands.LOCK_ACQUIRED,
            SWITCH_LOCK_WAIT,
        )
        if isinstance(held, CommandResult):
            raise self._lock_failure(held)
        try:
            yield
        finally:
            with suppress(OSError, EOFError):
                held.close()

    def _holder(self) -> str:
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"app {self.app} (remote-dir {self.remote_dir} on {self.host.name}) since {since}"

    def _lock_failure(self, result: CommandResult) -> BluegreenError:
        """What went wrong taking the switch lock, as what it is; nothing was switched."""
        where = f"the switch lock {commands.SWITCH_LOCK_FILE} inside {self.container_name}"
        said = printable(result.stderr or result.stdout, 500).strip()
        if result.exit_code == commands.SWITCH_LOCK_CONFLICT:
            return BluegreenError(
                f"another app's switch held {where} for {SWITCH_LOCK_WAIT} s "
                f"({said or 'holder unknown'}); nothing was switched. Retry the deploy once it is done"
            )
        if result.exit_code == commands.SWITCH_LOCK_CANNOT_CREATE:
            return BluegreenError(
                f"cannot create or open {where}: {said}; nothing was switched. Make /tmp writable in "
                f"{self.container_name} (e.g. `tmpfs: [/tmp]` for a read-only container)"
            )
        if result.exit_code == commands.SWITCH_LOCK_NO_FLOCK:
            return BluegreenError(
                f"{self.container_name} has no `flock` command for {where}; nothing was switched. "
                "Use an nginx image with util-linux's flock (Debian-based nginx images have it)"
            )
        return BluegreenError(
            f"taking {where} failed (exit {result.exit_code}): {said}; nothing was switched. "
            f"bluegreen needs `sh` and `flock` in {self.container_name}"
        )
