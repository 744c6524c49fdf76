"""One command's run on one host: what every phase reads and shares (the config, the host, where the
app lives, its records, the proxy, the health gate, the check through nginx) and the small helpers
they have in common. A fleet holds one of these per host.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from bluegreen.colors import project_name
from bluegreen.commands import Compose
from bluegreen.compose_program import find_compose
from bluegreen.config import Config
from bluegreen.errors import BluegreenError, UnreadableFile
from bluegreen.health_gate import HealthGate, Probe
from bluegreen.host import Host
from bluegreen.layout import Layout, resolve_remote_dir
from bluegreen.managed_proxy import ManagedProxy
from bluegreen.progress import Reporter, Timer
from bluegreen.proxy import Proxy, Routing, wait_for_no_connections
from bluegreen.records import Records, Release
from bluegreen.release_command import ReleaseTurn
from bluegreen.routing import SeamlessFiles
from bluegreen.user_proxy import UserProxy
from bluegreen.verify import ProxyCheck

SHARED = "shared"
"""The compose project (`<app>-shared`) and the directory of the services both colors use."""


def default_actor() -> str:
    github_actor = os.environ.get("GITHUB_ACTOR")
    if github_actor:
        run = os.environ.get("GITHUB_RUN_ID", "")
        return f"{github_actor} (github run {run})" if run else github_actor
    return f"{getpass.getuser()}@{socket.gethostname()}"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def color_compose(program: tuple[str, ...], app: str, layout: Layout, release: Release) -> Compose:
    """The compose project of one color, exactly as its release record says it was started."""
    files = (*release.compose_files, layout.override_file(release.color))
    return Compose(program, project_name(app, release.color), files, release.environment)


@dataclass(frozen=True)
class Template:
    """The nginx template this run renders, and what to call it in an error."""

    text: str
    source: str


class HostRun:
    """One command against one host: the parts the phases share, and which colors are in play."""

    def __init__(
        self, config: Config, host: Host, reporter: Reporter, timer: Timer | None = None, actor: str = ""
    ) -> None:
        self.config = config
        self.host = host
        self.report = reporter
        self.timer = timer or Timer(reporter)
        self.actor = actor or default_actor()
        self.app = config.app_name
        self.layout = Layout(app_dir=f"{resolve_remote_dir(config.remote_dir, host)}/{self.app}")
        self.records = Records(host, self.layout, reporter)
        self.proxy = self._make_proxy()
        self.gate = HealthGate(host, reporter, config.health_path, config.health_timeout, self.logs_hint)
        self.check = ProxyCheck.for_config(config, Probe(host), reporter)
        self.live: str | None = None
        """The color serving now, as far as this run knows (what a failure reports)."""
        self.target: str | None = None
        self.seamless: SeamlessFiles | bool | None = None
        """The proxy's seamless files once asked (False: the proxy cannot switch seamlessly)."""
        self.ports = dict(config.ports)
        """The port of each color this run routes to: a color already started keeps the port it was
        started with (detect.choose_ports); only the color this run starts takes its input."""
        self.template: Template | None = None
        """The template to render; None: the nginx-template input (read when first rendered)."""
        self.switch_mode = ""
        self.routes_per_request = False
        """Whether the config switched to picks the color per request (njs): the drain then also
        waits for the old color's connections to close."""
        self.warned: set[str] = set()
        """Warnings given once per run."""
        self.release_turn = ReleaseTurn()
        self.leads_release = True
        """Whether this host runs the release command (a fleet's first host) or waits for it."""
        self.deploy_id = ""
        """The id every host's audit line of this run shares."""
        self.background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bluegreen")
        self._compose_program: Future[tuple[str, ...]] | None = None

    def close(self) -> None:
        self.background.shutdown(wait=False, cancel_futures=True)

    def _make_proxy(self) -> Proxy:
        config = self.config
        if config.proxy_container:
            lock_dir = self.layout.app_dir.rsplit("/", 1)[0]
            return UserProxy(
                self.host, self.app, config.proxy_container, config.proxy_config_file, lock_dir, self.report
            )
        return ManagedProxy(
            self.host, self.app, self.layout, config.proxy_image, config.proxy_volumes, self.report,
            self.proxy_compose, http_port=config.http_port,
        )  # fmt: skip

    def nginx_template(self) -> Template:
        if self.template is None:
            path = self.config.nginx_template
            self.template = Template(path.read_text(), str(path))
        return self.template

    # ---- what routes now ------------------------------------------------------------------

    def routed_color(self) -> str | None:
        try:
            return self.proxy.routed_color()
        except UnreadableFile as exc:
            self.report.warning(f"the live nginx config is unreadable ({exc})")
            return None

    def routing(self) -> Routing:
        try:
            return self.proxy.routing()
        except UnreadableFile as exc:
            raise BluegreenError(
                f"the live nginx config cannot be read, so nothing was switched: {exc}"
            ) from None

    def find_switch_mode(self) -> None:
        """Seamless (njs picks the color per request) where the proxy and the template allow it."""
        if self.seamless is not None:
            return
        files = self.proxy.seamless_files()
        self.seamless = files or False
        if files is None:
            self.report.warning(
                "the proxy's nginx has no njs module (ngx_http_js_module): switching with a reload, which "
                "closes keep-alive connections idle at that moment. Use an nginx with njs (Debian: "
                "libnginx-mod-http-js; the official nginx image has it) to switch without closing any"
            )

    def recorded_ports(self) -> dict[str, int]:
        """Each color's port as its release was started with (the inputs of `status` may differ)."""
        ports = dict(self.config.ports)
        for color in ports:
            release = self.records.release(color)
            recorded = release.environment.get("BLUEGREEN_PORT", "") if release else ""
            if recorded.isdigit():
                ports[color] = int(recorded)
        return ports

    def drain(self, color: str) -> None:
        """Wait (up to drain-timeout) until nothing is in flight to a color nginx no longer routes to:
        the workers of an old config have exited, and in seamless mode no connection to its port
        is left open."""
        started = time.monotonic()
        self.proxy.drain(self.config.drain_timeout)
        if self.routes_per_request:
            left = max(self.config.drain_timeout - (time.monotonic() - started), 0.5)
            wait_for_no_connections(self.host, self.ports[color], left, self.report)

    # ---- compose ----------------------------------------------------------------------------

    def find_compose_soon(self) -> Future[tuple[str, ...]]:
        """Ask which compose the host has, in the background (while detecting)."""
        self._compose_program = self.background.submit(find_compose, self.host)
        return self._compose_program

    def compose_cmd(self) -> tuple[str, ...]:
        return (self._compose_program or self.find_compose_soon()).result()

    def compose(self, release: Release) -> Compose:
        return color_compose(self.compose_cmd(), self.app, self.layout, release)

    def shared_compose(self, release: Release) -> Compose:
        bundle = self.config.bundles[release.color]
        files = tuple(f"{self.layout.shared_dir}/{name}" for name in bundle.compose_files)
        env = {**release.environment, "BLUEGREEN_ENV_FILE": self.layout.env_file(SHARED)}
        return Compose(
            self.compose_cmd(),
            project_name(self.app, SHARED),
            (*files, self.layout.override_file(SHARED)),
            env,
        )

    def proxy_compose(self) -> Compose:
        return Compose(self.compose_cmd(), f"{self.app}-proxy", (f"{self.layout.proxy_dir}/compose.yml",), {})

    def logs_hint(self, project: str) -> str:
        return f" (see `{' '.join(self.compose_cmd())} -p {project} logs`)"
