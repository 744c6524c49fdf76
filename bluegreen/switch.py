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
from bluegreen.proxy import Routing
from bluegreen.routing import SEAMLESS


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
            run.switch_mode = candidate.mode
            run.report.info(
                "switched seamlessly (no reload)" if candidate.mode == SEAMLESS else "switched with a reload"
            )
        with run.timer.phase("verify"):
            run.check.expect_upstream(run.config.ports[target])
        run.live = target  # verified: from here on the target serves, whatever happens next

    def undo(self, prepared: Prepared, cause: BaseException) -> None:
        run, plan = self.run, prepared.plan
        if self.previous is None:
            return
        run.report.warning("switching nginx back to the previous config")
        try:
            run.proxy.restore(self.previous)
        except BaseException as exc:
            run.live = run.check.serving_color(run.config.ports)
            raise SwitchBackFailed(
                f"{cause}; then switching nginx back failed ({exc}): nginx may serve either color, so "
                f"both {plan.target} and {plan.live or 'the old color'} are left running. Check "
                f"{run.proxy.live_config} and `docker logs` of the proxy, then deploy again"
            ) from None
        run.drain(plan.target)  # requests that reached the target before the switch-back finish
