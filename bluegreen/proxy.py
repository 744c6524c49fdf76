"""The app's nginx proxy container: validate a config, load it, wait for old workers to drain."""

from __future__ import annotations

import time
from collections.abc import Callable

from bluegreen import commands
from bluegreen.colors import project_name
from bluegreen.commands import Compose
from bluegreen.containers import nginx_workers, running_container
from bluegreen.errors import BluegreenError
from bluegreen.health import backoff
from bluegreen.host import Host
from bluegreen.layout import Layout
from bluegreen.progress import Reporter
from bluegreen.render import PROXY_CONFIG_DIR

RELOAD_TIMEOUT = 10.0


class Proxy:
    def __init__(
        self,
        host: Host,
        app: str,
        layout: Layout,
        image: str,
        report: Reporter,
        compose: Callable[[], Compose],
    ) -> None:
        self.host, self.app, self.layout, self.image, self.report = host, app, layout, image, report
        self.compose = compose
        """The proxy's compose project (built lazily: it needs the host's compose program)."""

    def running(self) -> str | None:
        """The name of the running proxy container, if there is one."""
        container = running_container(self.host.docker(), project_name(self.app, "proxy"))
        return container.name if container else None

    def test_next_config(self, proxy: str | None) -> None:
        """`nginx -t` of nginx.conf.next, in the running proxy or a throwaway one."""
        config = f"{PROXY_CONFIG_DIR}/nginx.conf.next"
        if proxy:
            argv = commands.nginx_test(proxy, config)
        else:
            argv = commands.nginx_test_in_new_container(self.image, self.layout.nginx_dir, config)
        result = self.host.run(argv)
        if not result.ok:
            raise BluegreenError(
                f"nginx rejected the rendered config (nginx -t), nothing was switched:\n"
                f"{(result.stderr or result.stdout).strip()}\nFix the nginx-template"
            )

    def reload(self, proxy: str | None) -> None:
        """Make nginx serve its config file: HUP it and wait until the new config is live, or start it."""
        if proxy is None:
            self.host.run(self.compose().up()).check("starting the nginx proxy")
            self._wait_running()
            return
        container = self.host.docker().containers.get(proxy)
        before = {w.pid for w in nginx_workers(container)}
        container.kill(signal="HUP")  # nginx is PID 1 of its container: HUP reaches the master
        # `nginx -s reload` returns before the new config is live; it is live once every old
        # worker has been told to quit and a new one has started.
        deadline = time.monotonic() + RELOAD_TIMEOUT
        for delay in backoff(0.02, 1.5, 0.2):
            workers = nginx_workers(container)
            old_still_serving = any(w.pid in before and not w.shutting_down for w in workers)
            new_started = any(w.pid not in before for w in workers)
            if new_started and not old_still_serving:
                return
            if time.monotonic() > deadline:
                raise BluegreenError(
                    f"nginx did not load the new config within {RELOAD_TIMEOUT:g} s "
                    f"(see `docker logs {proxy}`)"
                )
            time.sleep(delay)

    def _wait_running(self) -> None:
        deadline = time.monotonic() + RELOAD_TIMEOUT
        for delay in backoff(0.05):
            proxy = self.running()
            if proxy and nginx_workers(self.host.docker().containers.get(proxy)):
                return
            if time.monotonic() > deadline:
                raise BluegreenError("the nginx proxy container did not start (see `docker logs`)")
            time.sleep(delay)

    def drain(self, timeout: float) -> None:
        """Wait until the workers still serving the old config have finished their requests."""
        proxy = self.running()
        if proxy is None:
            return
        container = self.host.docker().containers.get(proxy)
        deadline = time.monotonic() + timeout
        for delay in backoff(0.05, 1.5, 0.5):
            draining = [w for w in nginx_workers(container) if w.shutting_down]
            if not draining:
                return
            if time.monotonic() + delay > deadline:
                self.report.warning(
                    f"{len(draining)} old nginx worker(s) still finishing requests after "
                    f"{timeout:g} s (drain-timeout); stopping the old color anyway"
                )
                return
            time.sleep(delay)
