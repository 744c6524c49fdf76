"""bluegreen's own nginx container for an app (compose project `<app>-proxy`, host network, the
app's nginx directory mounted, plus `proxy-volumes`): started when missing, recreated only when
`proxy-image` or `proxy-volumes` changed, otherwise reloaded."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bluegreen import commands
from bluegreen.colors import project_name
from bluegreen.commands import Compose
from bluegreen.containers import nginx_workers, running_container
from bluegreen.errors import BluegreenError, InputError
from bluegreen.health import backoff
from bluegreen.host import Host
from bluegreen.layout import Layout
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
from bluegreen.render import PROXY_CONFIG_DIR, proxy_compose
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
    ) -> None:
        self.host, self.app, self.layout, self.report = host, app, layout, report
        self.image, self.volumes = image, volumes
        self.compose = compose
        """The proxy's compose project (built lazily: it needs the host's compose program)."""
        self.live_config = layout.live_config
        nginx_dir = layout.nginx_dir
        self.switch_files = SwitchFiles(host, f"{nginx_dir}/bluegreen.js", f"{nginx_dir}/active")
        self._written: bytes | None = None

    def check(self) -> None:
        """The image the proxy will run is there, or can be pulled (a missing proxy is started at the
        switch; a running one of another image is recreated there)."""
        import docker.errors

        container = self._container()
        if container is not None and not self.changes(container):
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

    def _container(self) -> Container | None:
        return running_container(self.host.docker(), project_name(self.app, "proxy"))

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
        self.switch_files.flip(candidate)
        self.host.write_file(self.live_config, candidate.config)

    def changes(self, container: Container) -> list[str]:
        """How the running proxy differs from what the inputs ask for."""
        found: list[str] = []
        running_image = str(container.attrs.get("Config", {}).get("Image", ""))
        if running_image != self.image:
            found.append(f"proxy-image is {self.image}, the proxy runs {running_image}")
        mounts = {
            f"{m.get('Source')}:{m.get('Destination')}" + ("" if m.get("RW", True) else ":ro")
            for m in container.attrs.get("Mounts") or []
            if m.get("Destination") != PROXY_CONFIG_DIR
        }
        wanted = {volume.removesuffix(":rw") for volume in self.volumes}
        if mounts != wanted:
            asked, has = sorted(wanted) or "none", sorted(mounts) or "none"
            found.append(f"proxy-volumes asks for {asked}, the proxy mounts {has}")
        return found

    def validate(self, candidate: Candidate) -> None:
        """`nginx -t` of the candidate: in the running proxy, or, before it runs or when its image or
        volumes change, in a throwaway container of the image the proxy will run."""
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
        container = self._container()
        unchanged = container is not None and not self.changes(container)
        same_config = self.host.read_file(self.live_config) == candidate.config
        if candidate.mode == SEAMLESS and unchanged and same_config:
            self.switch_files.flip(candidate)  # nginx reads the active color per request: no reload
            self.discard()
            return
        if self._written != candidate.config:
            self.host.write_file(self.layout.next_config, candidate.config)
        self.switch_files.prepare(candidate)
        if container is None or not unchanged:  # nothing serves through it yet, or it is recreated
            self.switch_files.flip(candidate)
            self.host.rename(self.layout.next_config, self.live_config)
            if container is not None:
                self.report.warning(
                    f"recreating the proxy: {'; '.join(self.changes(container))} "
                    "(connections open on it are dropped)"
                )
            self._up()
            return
        self.switch_files.hold(candidate)  # a changed config goes live still routing to the live color
        self.host.rename(self.layout.next_config, self.live_config)
        NginxProcess(container, self.report).reload()
        self.switch_files.flip(candidate)

    def _up(self) -> None:
        proxy_file = proxy_compose(self.image, self.layout.nginx_dir, self.app, self.volumes)
        self.host.write_file(f"{self.layout.proxy_dir}/compose.yml", proxy_file.encode())
        self.host.run(self.compose().up()).check("starting the nginx proxy")
        deadline = time.monotonic() + RELOAD_TIMEOUT
        for delay in backoff(0.05):
            container = self._container()
            if container is not None and nginx_workers(container) and not self.changes(container):
                return
            if time.monotonic() > deadline:
                raise BluegreenError(
                    f"the nginx proxy container did not start (see `docker logs {self.app}-proxy-nginx-1`)"
                )
            time.sleep(delay)

    def restore(self, routing: Routing) -> None:
        if routing.config is None:
            self.host.run(self.compose().stop()).check("stopping the nginx proxy")
            return
        self.switch_files.put_back(routing)
        if self.host.read_file(self.live_config) != routing.config:
            self.host.write_file(self.live_config, routing.config)
            self.reload_if_running()

    def discard(self) -> None:
        self.host.run(commands.remove(self.layout.next_config))

    def reload_if_running(self) -> None:
        container = self._container()
        if container is not None:
            NginxProcess(container, self.report).reload()

    def drain(self, timeout: float) -> None:
        container = self._container()
        if container is not None:
            NginxProcess(container, self.report).drain(timeout)
