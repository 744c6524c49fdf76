"""The switch phase on one host (README steps 7-8): a strategy moves traffic to the prepared color
and verifies it through nginx; undo moves it back.

A strategy is the switch phase: blue-green (here) sets the live color once; canary (later) sets
weights step by step. Both use the same proxy operations.
"""

from __future__ import annotations

from typing import Protocol

from bluegreen.errors import BluegreenError
from bluegreen.host_run import HostRun
from bluegreen.prepare import Prepared
from bluegreen.proxy import Candidate, Routing
from bluegreen.routing import RELOAD, SEAMLESS


class SwitchBackFailed(BluegreenError):
    """Moving traffic back failed too: nginx may serve either color, so both are left running."""


class Strategy(Protocol):
    def read_routing(self) -> None:
        """Note what routes now: what `undo` moves back to."""

    def switch(self, prepared: Prepared) -> None:
        """Move traffic to the prepared color and verify it through nginx."""

    def undo(self, prepared: Prepared, cause: BaseException) -> None:
        """Move traffic back; raises SwitchBackFailed when that fails."""


class BlueGreen:
    """Move all traffic at once: the prepared color becomes the live one."""

    def __init__(self, run: HostRun) -> None:
        self.run = run
        self.previous: Routing | None = None

    def read_routing(self) -> None:
        self.previous = self.run.routing()

    def switch(self, prepared: Prepared) -> None:
        run, candidate, target = self.run, prepared.candidate, prepared.plan.target
        with run.timer.phase("switch"):
            run.proxy.switch(candidate)
            run.routes_per_request = candidate.mode == SEAMLESS
            run.switch_mode, said = self._what_nginx_did(candidate)
            run.report.info(said)
        with run.timer.phase("verify"):
            run.check.expect_upstream(run.ports[target])
        run.live = target  # verified: from here on the target serves, whatever happens next

    def _what_nginx_did(self, candidate: Candidate) -> tuple[str, str]:
        """The switch mode as it happened, and the log line: nginx reloads whenever the config it
        loads changes (always in reload mode; in seamless mode when the template or the ports
        changed); a first start or an unchanged seamless config is no reload."""
        previous = self.previous.config if self.previous else None
        if candidate.mode == SEAMLESS and (previous is None or previous == candidate.config):
            return SEAMLESS, "switched seamlessly (no reload)"
        if candidate.mode == SEAMLESS:
            return RELOAD, (
                "switched with a reload: the seamless config itself changed (template or ports), so "
                "nginx loaded it once, routing to the live color until the switch"
            )
        return RELOAD, "switched with a reload"

    def undo(self, prepared: Prepared, cause: BaseException) -> None:
        run, plan = self.run, prepared.plan
        if self.previous is None:
            return
        run.report.warning("switching nginx back to the previous config")
        try:
            run.proxy.restore(self.previous)
        except BaseException as exc:
            run.live = run.check.serving_color(run.ports)
            raise SwitchBackFailed(
                f"{cause}; then switching nginx back failed ({exc}): nginx may serve either color, so "
                f"both {plan.target} and {plan.live or 'the old color'} are left running. Check "
                f"{run.proxy.live_config} and `docker logs` of the proxy, then deploy again"
            ) from None
        run.drain(plan.target)  # requests that reached the target before the switch-back finish
