"""An nginx container the user runs and keeps (`proxy-container`), loading `proxy-config-file`:
bluegreen renders that file, validates it inside that container, swaps it, signals that container
and waits for its workers. It never starts, stops or recreates the container.

The file reaches the container through a bind mount of its directory (a rename on the host is
seen inside) or of the file itself (the container keeps the file's inode, so a rename would be
invisible: the content is rewritten in place instead).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bluegreen import commands
from bluegreen.errors import BluegreenError, InputError
from bluegreen.host import CommandResult, Host
from bluegreen.progress import Reporter
from bluegreen.proxy import Candidate, NginxProcess, Routing, SwitchFiles, nginx_test_failure, routed_color_of
from bluegreen.routing import NJS_MODULE_PATHS, SEAMLESS, SeamlessFiles
from bluegreen.switch_file import MEMORY_DIRECTIVE, check_nginx_can_read

if TYPE_CHECKING:
    from docker.models.containers import Container

SWITCH_LOCK_WAIT = 120.0


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
        self, host: Host, app: str, container_name: str, config_file: str, lock_dir: str, report: Reporter
    ) -> None:
        self.host, self.app, self.container_name, self.report = host, app, container_name, report
        self.live_config = config_file
        directory = posixpath.dirname(config_file)
        # Beside the config file, in the directory the container mounts (hidden: no *.conf match).
        self.switch_files = SwitchFiles(
            host, f"{directory}/.bluegreen-{app}.js", f"{directory}/.bluegreen-{app}.active"
        )
        self.lock_file = f"{lock_dir}/.proxy-{container_name}.lock"
        """Apps behind the same nginx take turns to swap, test and reload."""
        self._mount: ConfigMount | None = None

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
        if not NginxProcess(container, self.report).is_nginx():
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
        self._mount = mount

    @property
    def mount(self) -> ConfigMount:
        if self._mount is None:
            self.check()
        assert self._mount is not None
        return self._mount

    def seamless_files(self) -> SeamlessFiles | None:
        """Seamless when the container sees the config's directory (not a single-file mount) and
        its nginx loads njs (the user's nginx.conf does: `load_module`, or Debian's modules-enabled)."""
        if self.mount.single_file:
            return None
        dump = self.host.run(commands.nginx_config_dump(self.container_name))
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
        if self.mount.single_file and self.read_live() is not None:
            # The container holds the file's inode: a rename would not be seen, rewrite in place.
            self.host.run(commands.overwrite(self.live_config), stdin=config).check(
                f"writing {self.live_config}"
            )
        else:
            self.host.write_file(self.live_config, config)

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
            result = self.host.run(commands.nginx_test_in(self.container_name))
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
        held = self.host.hold(commands.take_lock(self.lock_file, SWITCH_LOCK_WAIT), commands.LOCK_ACQUIRED,
                              SWITCH_LOCK_WAIT)  # fmt: skip
        if isinstance(held, CommandResult):
            raise BluegreenError(
                f"another app's switch held {self.container_name} for {SWITCH_LOCK_WAIT:g} s "
                f"({self.lock_file}); retry the deploy"
            )
        try:
            yield
        finally:
            with suppress(OSError, EOFError):
                held.close()
