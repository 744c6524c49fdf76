"""bluegreen's own nginx container for an app (host network, the app's nginx directory mounted, plus
`proxy-volumes`), in the compose project `<app>-proxy` or `<app>-proxy-alt`: started when missing,
reloaded for a changed config, and replaced when `proxy-image` or `proxy-volumes` change or when it
sees another folder than the app's nginx directory (a directory removed and made again).

A replacement refuses no connection: every config this proxy runs listens with `reuseport`, so the
new proxy starts beside the old one on the same port (in the other project); once the new one runs,
the old one gets SIGQUIT: it closes its listening sockets at once, finishes the requests it has and
exits, and is removed at the drain."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bluegreen import commands
from bluegreen.colors import project_name
from bluegreen.commands import Compose
from bluegreen.containers import state_of
from bluegreen.errors import BluegreenError, InputError
from bluegreen.host import Host
from bluegreen.layout import Layout
from bluegreen.mounts import bind_mounts, normal_volume
from bluegreen.progress import Reporter
from bluegreen.proxy import (
    RELOAD_TIMEOUT,
    Candidate,
    NginxProcess,
    Routing,
    SwitchFiles,
    nginx_test_failure,
    routed_color_of,
)
from bluegreen.proxy_containers import (
    NOT_SERVING,
    SLOTS,
    PortInUse,
    other_slot,
    proxy_containers,
    retire,
    serving_proxy,
    set_restart_policy,
    slot_of,
    wait_until_exited,
    wait_until_serving,
)
from bluegreen.render import PROXY_CONFIG_DIR, proxy_compose
from bluegreen.reuseport import lacks_reuseport, with_reuseport
from bluegreen.routing import NJS_MODULE_PATHS, SEAMLESS, SeamlessFiles
from bluegreen.switch_file import MEMORY_DIRECTIVE, check_nginx_can_read

if TYPE_CHECKING:
    from docker.models.containers import Container

PULL_FAILURES = (
    "Unable to find image",
    "pull access denied",
    "manifest unknown",
    "repository does not exist",
)
FOLDER_MARK = ".bluegreen-folder"
"""A file in the app's nginx directory that the proxy must see too (else it mounts a folder that
was removed and made again on the host, and sees an empty one)."""
PORT_PROBE_TIMEOUT = 5.0
TCP_MIGRATE_REQ = "/proc/sys/net/ipv4/tcp_migrate_req"


class ManagedProxy:
    def __init__(
        self,
        host: Host,
        app: str,
        layout: Layout,
        image: str,
        volumes: tuple[str, ...],
        report: Reporter,
        compose: Callable[[], Compose],
        http_port: int | None = None,
    ) -> None:
        self.host, self.app, self.layout, self.report = host, app, layout, report
        self.image, self.volumes = image, tuple(normal_volume(volume) for volume in volumes)
        self.http_port = http_port
        self.compose = compose
        """The proxy's compose project (built lazily: it needs the host's compose program)."""
        self.live_config = layout.live_config
        nginx_dir = layout.nginx_dir
        self.switch_files = SwitchFiles(host, f"{nginx_dir}/bluegreen.js", f"{nginx_dir}/active")
        self._written: bytes | None = None
        self._seen_folder: dict[str, bool] = {}
        self._retiring: list[Container] = []

    # ---- which proxy, and how it differs from what the inputs ask for --------------------------

    def _container(self) -> Container | None:
        return serving_proxy(self.host.docker(), self.app)

    def check(self) -> None:
        """The port is free for a first proxy, and the image the proxy will run is there or can be
        pulled (a missing proxy is started at the switch; one of another image is replaced there)."""
        import docker.errors

        container = self._container()
        if container is None:
            self._check_port_free()
        if container is not None and not self.changes(container, look_inside=False):
            return
        client = self.host.docker()
        try:
            client.images.get(self.image)
            return
        except docker.errors.ImageNotFound:
            pass
        try:
            client.images.pull(self.image)
        except docker.errors.APIError as exc:
            raise InputError(
                "proxy-image", f"{self.image} cannot be pulled on {self.host.name} ({exc.explanation})",
                "Give an nginx image the server can pull (and log in to its registry there)",
            ) from None  # fmt: skip

    def _check_port_free(self) -> None:
        """No proxy of this app runs: whatever answers on the port is another program."""
        if self.http_port is None:
            return
        try:
            self.host.connect_tcp(self.http_port, PORT_PROBE_TIMEOUT).close()
        except OSError:  # refused: free; any other failure: nginx's own log will tell
            return
        raise InputError(
            "http-port",
            f"port {self.http_port} is already in use on {self.host.name}: another program listens on "
            f"127.0.0.1:{self.http_port} (bluegreen's proxy of {self.app} does not run). Nothing was changed",
            "Choose a free `http-port`, stop what listens there, or put the app behind that nginx with "
            "`proxy-container`",
        )

    def changes(self, container: Container, look_inside: bool = True) -> list[str]:
        """How the running proxy differs from what the inputs ask for (look_inside: also whether it
        sees the app's nginx directory)."""
        found: list[str] = []
        running_image = str(container.attrs.get("Config", {}).get("Image", ""))
        if running_image != self.image:
            found.append(f"proxy-image is {self.image}, the proxy runs {running_image}")
        mounts = bind_mounts(container.attrs.get("Mounts") or [], skip=PROXY_CONFIG_DIR)
        wanted = set(self.volumes)
        if mounts != wanted:
            asked, has = sorted(wanted) or "none", sorted(mounts) or "none"
            found.append(f"proxy-volumes asks for {asked}, the proxy mounts {has}")
        if look_inside and not self._sees_folder(container):
            found.append(f"the proxy does not see {self.layout.nginx_dir} (it was removed and made again)")
        return found

    def _sees_folder(self, container: Container) -> bool:
        """Whether the proxy sees the nginx directory as it is on the host now: a mark written there
        reads the same inside (shell builtins only: an nginx image need not have cat)."""
        key = str(container.id)
        if key not in self._seen_folder:
            mark = f"{self.layout.nginx_dir}/{FOLDER_MARK}"
            outside = self.host.read_file(mark)
            if outside is None:
                outside = f"{self.app} {time.time_ns()}\n".encode()
                try:
                    self.host.write_file(mark, outside)
                except OSError:  # no such directory on the host: the proxy cannot see it either
                    outside = None
            inside_mark = f"{PROXY_CONFIG_DIR}/{FOLDER_MARK}"
            inside = self.host.run(commands.read_line_in(str(container.name), inside_mark))
            unknown = inside.exit_code in (126, 127)  # no shell in the image: cannot tell
            self._seen_folder[key] = unknown or (
                outside is not None and inside.ok and inside.stdout.strip() == outside.decode().strip()
            )
        return self._seen_folder[key]

    # ---- what the routine asks --------------------------------------------------------------------

    def seamless_files(self) -> SeamlessFiles | None:
        """Seamless when the image the proxy runs (or will run) has njs."""
        container = self._container()
        if container is not None and not self.changes(container):
            found = self.host.run(
                commands.first_file_in(str(container.name), NJS_MODULE_PATHS, MEMORY_DIRECTIVE)
            )
        else:
            found = self.host.run(
                commands.first_file_in_image(self.image, NJS_MODULE_PATHS, MEMORY_DIRECTIVE)
            )
        lines = found.stdout.split() if found.ok else []
        if not lines:
            return None
        return SeamlessFiles(
            js_path=f"{PROXY_CONFIG_DIR}/bluegreen.js",
            active_path=f"{PROXY_CONFIG_DIR}/active",
            module_path=lines[0],
            memory=commands.CONTAINS in lines[1:],
        )

    def nginx_container(self) -> str | None:
        container = self._container()
        return str(container.name) if container is not None and not self.changes(container) else None

    def routing(self) -> Routing:
        return Routing(self.host.read_file(self.live_config), self.switch_files.read_active())

    def routed_color(self) -> str | None:
        return routed_color_of(self.routing(), self.app)

    def settle(self, candidate: Candidate) -> None:
        candidate = sharing_its_port(candidate)
        self.switch_files.flip(candidate)
        self.host.write_file(self.live_config, candidate.config)

    def validate(self, candidate: Candidate) -> None:
        """`nginx -t` of the candidate: in the running proxy, or, before it runs or when it is to be
        replaced, in a throwaway container of the image the proxy will run."""
        candidate = sharing_its_port(candidate)
        self.host.run(commands.make_dirs(self.layout.nginx_dir, self.layout.proxy_dir, mode=0o755)).check(
            "creating the proxy's directories"
        )  # 0755: nginx's workers (another user) read the active-color file in it
        self.switch_files.prepare(candidate)
        self.host.write_file(self.layout.next_config, candidate.config)
        self._written = candidate.config
        config = f"{PROXY_CONFIG_DIR}/nginx.conf.next"
        container = self._container()
        if container is not None and not self.changes(container):
            result = self.host.run(commands.nginx_test(str(container.name), config))
        else:
            nginx_dir = self.layout.nginx_dir
            result = self.host.run(
                commands.nginx_test_in_new_container(self.image, nginx_dir, config, self.volumes)
            )
            output = (result.stderr or result.stdout).strip()
            if not result.ok and "nginx:" not in output and any(m in output for m in PULL_FAILURES):
                last = output.splitlines()[-1] if output else "no output"
                raise InputError(
                    "proxy-image", f"{self.image} cannot be pulled on {self.host.name}: {last}",
                    "Give an nginx image the server can pull (and log in to its registry there)",
                )  # fmt: skip
        if not result.ok:
            raise nginx_test_failure(result.stderr or result.stdout)
        check_nginx_can_read(self.host, self.nginx_container(), candidate, self.switch_files.active_file)

    def switch(self, candidate: Candidate) -> None:
        candidate = sharing_its_port(candidate)
        self._remove_not_serving()
        container = self._container()
        differences = self.changes(container) if container is not None else []
        same_config = self.host.read_file(self.live_config) == candidate.config
        if candidate.mode == SEAMLESS and container is not None and not differences and same_config:
            self.switch_files.flip(candidate)  # nginx reads the active color per request: no reload
            self.discard()
            return
        if self._written != candidate.config:
            self.host.write_file(self.layout.next_config, candidate.config)
        self.switch_files.prepare(candidate)
        if container is None:  # nothing serves through it yet
            self.switch_files.flip(candidate)
            self.host.rename(self.layout.next_config, self.live_config)
            self._start(SLOTS[0])
            return
        if differences:
            self._replace(container, differences, candidate)
            return
        self.switch_files.hold(candidate)  # a changed config goes live still routing to the live color
        self.host.rename(self.layout.next_config, self.live_config)
        NginxProcess(container, self.report).reload()
        self.switch_files.flip(candidate)

    def _replace(self, old: Container, differences: list[str], candidate: Candidate) -> None:
        """The new proxy beside the old one on the same port, then the old one quits gracefully. The
        new one starts routing to the live color (its config goes live with the holding file) and
        the color switches once the old one has closed its listening sockets."""
        self.report.info(
            f"replacing the proxy ({'; '.join(differences)}): the new one starts beside it on the same "
            "port (reuseport), then the old one finishes its requests and exits"
        )
        self._share_port_of(old)
        self._check_request_migration()
        if candidate.holding is None:  # nothing served before: the new color at once
            self.switch_files.flip(candidate)
        else:
            self.switch_files.hold(candidate)
        self.host.rename(self.layout.next_config, self.live_config)
        slot = other_slot(slot_of(old))
        try:
            self._start(slot)
        except PortInUse as exc:
            self.report.warning(
                f"the new proxy cannot listen beside the old one ({exc}): the old one does not share its "
                "port (it runs a config without reuseport, or sees another folder). Stopping it first: "
                "new connections are refused until the new proxy runs (about a second); requests in "
                "flight finish"
            )
            self._retire(old)
            self._start(slot)
        else:
            self._retire(old)
        for leftover in proxy_containers(self.host.docker(), self.app):  # an interrupted replacement's
            if leftover.id != old.id and slot_of(leftover) != slot and state_of(leftover).status == "running":
                self._retire(leftover)
        self.switch_files.flip(candidate)

    def _check_request_migration(self) -> None:
        """When the old proxy closes its listening sockets, the kernel resets the connections that
        reached them but were not yet accepted, unless it migrates them to the new proxy's sockets
        (net.ipv4.tcp_migrate_req, Linux 5.14+). Measured in the lab: 4 resets in 12 replacements
        without it, none with it."""
        setting = self.host.read_file(TCP_MIGRATE_REQ)
        if setting is not None and setting.strip() == b"1":
            return
        now = "is 0" if setting is not None else "is not available (Linux before 5.14)"
        self.report.warning(
            f"net.ipv4.tcp_migrate_req {now} on {self.host.name}: a connection that reaches the old "
            "proxy in the instant it closes its listening sockets is reset (measured under load: 0 to "
            "3 per replacement, mostly clients reconnecting after it closed their idle keep-alive "
            "connection). `sysctl -w net.ipv4.tcp_migrate_req=1` (kept in /etc/sysctl.d/) hands them "
            "to the new proxy instead"
        )

    def _share_port_of(self, old: Container) -> None:
        """A proxy started before bluegreen added reuseport listens without it: a reload with its own
        config plus reuseport moves its sockets over (nginx sets SO_REUSEPORT on the sockets it has)."""
        live = self.host.read_file(self.live_config)
        if live is None or not lacks_reuseport(live.decode(errors="replace")) or not self._sees_folder(old):
            return
        self.report.info("the running proxy listens without reuseport: reloading it with reuseport first")
        self.host.write_file(self.live_config, with_reuseport(live.decode(errors="replace")).encode())
        NginxProcess(old, self.report).reload()

    def _start(self, slot: str) -> Container:
        """Start the proxy in a slot's project; once nginx runs its workers it serves. A proxy that
        cannot start is taken away again (it would restart forever), its reason in the error."""
        compose = self._compose_of(slot)
        proxy_file = proxy_compose(self.image, self.layout.nginx_dir, self.app, self.volumes)
        self.host.write_file(compose.files[0], proxy_file.encode())
        self.host.run(compose.up()).check("starting the nginx proxy")
        client = self.host.docker()
        try:
            started = wait_until_serving(client, self.app, slot, self.host.name, RELOAD_TIMEOUT)
        except BluegreenError:
            self.host.run(compose.down()).check("taking away the nginx proxy that did not start")
            raise
        left = self.changes(started, look_inside=False)
        if left:  # it serves: say how Docker reports it, never "did not start"
            self.report.warning(f"the nginx proxy runs, but Docker reports: {'; '.join(left)}")
        return started

    def _compose_of(self, slot: str) -> Compose:
        first = self.compose()
        if slot == SLOTS[0]:
            return first
        file = f"{self.layout.proxy_dir}/compose-{slot}.yml"
        return dataclasses.replace(first, project=project_name(self.app, slot), files=(file,))

    def _retire(self, container: Container) -> None:
        retire(container, RELOAD_TIMEOUT)
        self._retiring.append(container)

    def _remove_not_serving(self) -> None:
        """A proxy that does not run (restarting, stopped, exited) serves nothing: it goes, so that
        a fresh one starts from the current inputs."""
        for container in proxy_containers(self.host.docker(), self.app):
            status = state_of(container).status
            if status in NOT_SERVING:
                self.report.info(f"removing the nginx proxy {container.name}: it is {status}")
                container.remove(force=True)

    def restore(self, routing: Routing) -> None:
        if routing.config is None:  # nothing served through a proxy before this run: take it away
            for container in proxy_containers(self.host.docker(), self.app):
                container.remove(force=True)
            return
        self.switch_files.put_back(routing)
        if self.host.read_file(self.live_config) != routing.config:
            self.host.write_file(self.live_config, routing.config)
            self.reload_if_running()
        if self._container() is None:
            self._revive()

    def _revive(self) -> None:
        """No proxy runs after a failed replacement: the old one comes back as it was."""
        old = self._retiring.pop() if self._retiring else None
        if old is None:
            self._start(SLOTS[0])
            return
        wait_until_exited(old, RELOAD_TIMEOUT)
        set_restart_policy(old, "unless-stopped")
        old.start()
        wait_until_serving(self.host.docker(), self.app, slot_of(old), self.host.name, RELOAD_TIMEOUT)

    def discard(self) -> None:
        self.host.run(commands.remove(self.layout.next_config))

    def reload_if_running(self) -> None:
        container = self._container()
        if container is not None:
            NginxProcess(container, self.report).reload()

    def drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        container = self._container()
        if container is not None:
            NginxProcess(container, self.report).drain(timeout)
        while self._retiring:
            old = self._retiring.pop(0)
            if not wait_until_exited(old, max(deadline - time.monotonic(), 0.0)):
                self.report.warning(
                    f"the old nginx proxy {old.name} was still finishing requests after {timeout:g} s "
                    "(drain-timeout); removing it anyway"
                )
            old.remove(force=True)


def sharing_its_port(candidate: Candidate) -> Candidate:
    """The candidate as bluegreen's proxy runs it: every listening socket with reuseport."""
    config = with_reuseport(candidate.config.decode(errors="replace")).encode()
    return candidate if config == candidate.config else dataclasses.replace(candidate, config=config)
