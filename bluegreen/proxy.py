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
from typing import TYPE_CHECKING, Protocol

from bluegreen.containers import nginx_workers
from bluegreen.errors import BluegreenError
from bluegreen.health import backoff
from bluegreen.progress import Reporter

if TYPE_CHECKING:
    from docker.models.containers import Container

RELOAD_TIMEOUT = 10.0


class Proxy(Protocol):
    live_config: str
    """The host path of the file bluegreen renders: nginx's whole config or an included file."""

    def check(self) -> None:
        """Refuse a proxy that cannot work, before anything changes on the host."""

    def read_live(self) -> bytes | None: ...

    def write_live(self, config: bytes) -> None:
        """Replace the live file so that nginx sees the new content at its next reload."""

    def validate(self, candidate: bytes) -> None:
        """Check a candidate config while the new color starts (`nginx -t`), where the proxy can."""

    def switch(self, candidate: bytes) -> None:
        """Make nginx serve the candidate: the swap, the last validation, the reload."""

    def restore(self, previous: bytes | None) -> None:
        """Put the previous config back and make nginx serve it (a switch-back)."""

    def discard(self) -> None:
        """Forget a candidate that will not be switched to."""

    def reload_if_running(self) -> None: ...

    def drain(self, timeout: float) -> None: ...


class NginxProcess:
    """nginx's master and workers in one container, seen through Docker."""

    def __init__(self, container: Container, report: Reporter) -> None:
        self.container, self.report = container, report

    @property
    def name(self) -> str:
        return str(self.container.name)

    def is_nginx(self) -> bool:
        top = self.container.top()
        return any("nginx: master process" in str(row[-1]) for row in top.get("Processes") or [])

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
