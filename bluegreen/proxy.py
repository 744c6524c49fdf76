"""The nginx that routes to the live color: what every kind of proxy does the same way.

Two kinds (the routine takes either, through the `Proxy` interface):
- managed_proxy.ManagedProxy: bluegreen's own nginx container per app (the default);
- user_proxy.UserProxy: an nginx container the user runs and keeps (`proxy-container`).

Both load a new config the same way: HUP the master and wait until every old worker has been
told to quit and a new one runs (`nginx -s reload` returns before that), and drain the same way:
wait until the old workers have finished their requests and exited.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bluegreen.colors import routed_color
from bluegreen.containers import nginx_workers
from bluegreen.errors import BluegreenError
from bluegreen.health import backoff
from bluegreen.host import Host
from bluegreen.progress import Reporter
from bluegreen.routing import RELOAD, SEAMLESS, SEAMLESS_MARK, SeamlessFiles, color_of_active_file
from bluegreen.tcp_table import established_to

if TYPE_CHECKING:
    from docker.models.containers import Container

RELOAD_TIMEOUT = 10.0


@dataclass(frozen=True)
class Candidate:
    """What a switch makes nginx serve: the config, and in seamless mode the njs module and the
    active-color file (reload mode: both None)."""

    config: bytes
    js: bytes | None = None
    active: bytes | None = None
    holding: bytes | None = None
    """The active-color file naming the live color: what it must say while nginx loads a changed
    seamless config, so that the new config routes to the new color only once it is live (and never
    if it cannot be loaded). None when nothing serves yet."""
    holding_js: bytes | None = None
    """The njs module whose last-resort color is the live one: what it says until the switch (js
    names the new color). None when nothing serves yet."""
    files: SeamlessFiles | None = None
    """Where nginx finds the two files (paths inside the proxy), in seamless mode."""

    @property
    def mode(self) -> str:
        return SEAMLESS if self.active is not None else RELOAD


@dataclass(frozen=True)
class Routing:
    """What routes now: the live config file and the active-color file, as they are on the host."""

    config: bytes | None
    active: bytes | None = None


class SwitchFiles:
    """The seamless mode's two files on the host, beside the config nginx loads: bluegreen's njs
    module (read when nginx loads a config) and the active-color file (read on every request).
    Both are written mode 0644 whatever the server's umask: nginx's workers read the active one."""

    def __init__(self, host: Host, js_file: str, active_file: str) -> None:
        self.host, self.js_file, self.active_file = host, js_file, active_file
        self._module: bytes | None = None
        """The module file as this run last read or wrote it (once `_known`)."""
        self._known = False
        self._replaced: bytes | None = None
        """The module as it was before this run first wrote it (put back at a switch-back)."""

    def read_active(self) -> bytes | None:
        return self.host.read_file(self.active_file)

    def prepare(self, candidate: Candidate) -> None:
        """Before nginx tests or loads the candidate: the module, still naming the live color as its
        last resort (the new color may never be switched to)."""
        self._write_module(candidate.holding_js or candidate.js)

    def hold(self, candidate: Candidate) -> None:
        """While nginx loads a changed config: the active-color file names the live color."""
        self.write_active(candidate.holding)

    def flip(self, candidate: Candidate) -> None:
        """The switch: the active-color file names the new color, then so does the module's last resort."""
        self.write_active(candidate.active)
        self._write_module(candidate.js)

    def put_back(self, routing: Routing) -> None:
        """A switch-back: the active-color file and the module as they were before this run."""
        self.write_active(routing.active)
        if self._replaced is not None:
            self._write_module(self._replaced)

    def _write_module(self, js: bytes | None) -> None:
        if js is None:
            return
        if not self._known:
            self._module = self._replaced = self.host.read_file(self.js_file)
            self._known = True
        if self._module != js:
            self.host.write_file(self.js_file, js, mode=0o644)
            self._module = js

    def write_active(self, content: bytes | None) -> None:
        """Atomic (write, then rename): a request reads the old file or the new one."""
        if content is not None:
            self.host.write_file(self.active_file, content, mode=0o644)


class Proxy(Protocol):
    live_config: str
    """The host path of the file bluegreen renders: nginx's whole config or an included file."""
    switch_files: SwitchFiles

    def nginx_container(self) -> str | None:
        """The running nginx container whose workers read the switch files now (None: none runs,
        or the next switch recreates it)."""

    def check(self) -> None:
        """Refuse a proxy that cannot work, before anything changes on the host."""

    def seamless_files(self) -> SeamlessFiles | None:
        """Where the njs module and the active-color file go, if this proxy can switch seamlessly."""

    def routing(self) -> Routing: ...

    def routed_color(self) -> str | None:
        """The color the files route to (the config's mark, or the active-color file)."""

    def settle(self, candidate: Candidate) -> None:
        """Write the files so that they say what nginx serves already; no reload."""

    def validate(self, candidate: Candidate) -> None:
        """Check a candidate config while the new color starts (`nginx -t`), where the proxy can."""

    def switch(self, candidate: Candidate) -> None:
        """Make nginx serve the candidate: the swap, the last validation, a reload if needed."""

    def restore(self, routing: Routing) -> None:
        """Put the previous files back and make nginx serve them (a switch-back)."""

    def discard(self) -> None:
        """Forget a candidate that will not be switched to."""

    def reload_if_running(self) -> None: ...

    def drain(self, timeout: float) -> None:
        """Wait until nginx workers of an old config have finished their requests."""


class NginxProcess:
    """nginx's master and workers in one container, seen through Docker."""

    def __init__(self, container: Container, report: Reporter) -> None:
        self.container, self.report = container, report

    @property
    def name(self) -> str:
        return str(self.container.name)

    def reload(self) -> None:
        """HUP the master and wait until the new config is live."""
        before = {w.pid for w in nginx_workers(self.container)}
        self.container.kill(signal="HUP")  # nginx is PID 1 of its container: HUP reaches the master
        deadline = time.monotonic() + RELOAD_TIMEOUT
        for delay in backoff(0.02, 1.5, 0.2):
            workers = nginx_workers(self.container)
            old_still_serving = any(w.pid in before and not w.shutting_down for w in workers)
            new_started = any(w.pid not in before for w in workers)
            if new_started and not old_still_serving:
                return
            if time.monotonic() > deadline:
                raise BluegreenError(
                    f"nginx did not load the new config within {RELOAD_TIMEOUT:g} s "
                    f"(see `docker logs {self.name}`)"
                )
            time.sleep(delay)

    def drain(self, timeout: float) -> None:
        """Wait until the workers still serving an old config have finished their requests."""
        deadline = time.monotonic() + timeout
        for delay in backoff(0.05, 1.5, 0.5):
            draining = [w for w in nginx_workers(self.container) if w.shutting_down]
            if not draining:
                return
            if time.monotonic() + delay > deadline:
                self.report.warning(
                    f"{len(draining)} old nginx worker(s) still finishing requests after "
                    f"{timeout:g} s (drain-timeout); stopping the old color anyway"
                )
                return
            time.sleep(delay)


def nginx_test_failure(output: str) -> BluegreenError:
    return BluegreenError(
        f"nginx rejected the rendered config (nginx -t), nothing was switched:\n{output.strip()}\n"
        "Fix the nginx-template"
    )


def wait_for_no_connections(host: Host, port: int, timeout: float, report: Reporter) -> None:
    """Seamless drain: wait until no connection to 127.0.0.1:port is open on the host (nginx's pool
    lets idle ones go within its keepalive_timeout; a request in flight keeps its own open)."""
    deadline = time.monotonic() + timeout
    zero_in_a_row = 0
    time.sleep(0.3)  # a request that picked the old color just before the switch has connected by now
    for delay in backoff(0.1, 1.5, 0.3):
        tables = [host.read_file(path, limit=16 * 1024 * 1024) or b"" for path in TCP_TABLES]
        open_now = sum(established_to(port, table.decode(errors="replace")) for table in tables)
        zero_in_a_row = zero_in_a_row + 1 if open_now == 0 else 0
        if zero_in_a_row >= 2:
            return
        if time.monotonic() + delay > deadline:
            report.warning(
                f"{open_now} connection(s) to the old color (port {port}) still open after {timeout:g} s "
                "(drain-timeout); stopping it anyway"
            )
            return
        time.sleep(delay)


TCP_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


def routed_color_of(routing: Routing, app_name: str) -> str | None:
    """The color the files route to: a reload-mode config names it; a seamless one defers to the
    active-color file."""
    if routing.config is not None and routing.config.startswith(SEAMLESS_MARK.encode()):
        return color_of_active_file(app_name, routing.active)
    return routed_color(routing.config)
