"""The canary strategy of the switch phase (issue 19): traffic moves to the prepared color in steps
(`canary-steps`), and each step is judged by what nginx recorded of the new color's real requests
(canary_records) before the next; a step that crosses a limit aborts: the split is taken back at
once (weight 0), the new color drains and is taken away (prepare's undo).

In seamless mode a step rewrites the active-color file (its second line holds the split: no reload,
no connection closed); in reload mode a step renders both colors into one weighted upstream,
tests it (`nginx -t`) and reloads. The last step (100) is the blue-green switch itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from bluegreen.canary_gate import PausedCanary, hold_paused
from bluegreen.canary_inputs import PAUSE, CanaryPlan
from bluegreen.canary_records import (
    RecordsReader,
    Tally,
    Verdict,
    judge,
    read_records,
    tally_lines,
    truncate_records,
)
from bluegreen.candidate import render_candidate
from bluegreen.errors import BluegreenError
from bluegreen.host_run import HostRun
from bluegreen.prepare import Prepared
from bluegreen.proxy import Candidate
from bluegreen.routing import SEAMLESS, Split, active_file, log_path
from bluegreen.switch import BlueGreen
from bluegreen.switch_file import seamless_candidate

ANALYSIS_PERIOD = 1.0
"""Seconds between two reads of nginx's records: a bad canary is stopped within about this once
min-requests have been seen."""


class CanaryFailed(BluegreenError):
    """A step's new color crossed a limit, or answered too few requests to be judged."""

    def __init__(self, message: str, verdict: Verdict) -> None:
        super().__init__(message)
        self.verdict = verdict
        self.figures = verdict.figures
        """The `canary` output of the failed run: what was measured, beside the limits."""


@dataclass(frozen=True)
class StepResult:
    percent: int
    verdict: Verdict


class Canary(BlueGreen):
    """Move traffic step by step, judging each step; undo (BlueGreen's) puts the routing back as it
    was before the first step, which sends every request to the old color at once."""

    def __init__(self, run: HostRun, plan: CanaryPlan) -> None:
        super().__init__(run)
        self.plan = plan
        self.steps: list[StepResult] = []
        self._reader = RecordsReader()
        self._container: str | None = None
        self.paused: PausedCanary | None = None
        """Set when a `pause` step ended the switch (recorded on the host, split in place)."""

    def switch(self, prepared: Prepared) -> None:
        run, live, target = self.run, prepared.plan.live, prepared.plan.target
        if live is None:
            run.report.info("canary: nothing serves yet, so the new color takes all traffic at once")
            super().switch(prepared)
            return
        percent = 0
        for number, step in enumerate(self.plan.steps):
            if step == PAUSE:
                rest = replace(self.plan, steps=self.plan.steps[number + 1 :])
                self.paused = hold_paused(run, prepared, percent, rest)  # a failure here is undone
                return
            assert isinstance(step, int)
            if step >= 100:
                break
            percent = step
            self._step(prepared, Split(live, target, step, self.plan.sticky))
        run.report.info(f"canary: every step passed; {target} takes all traffic")
        super().switch(prepared)

    def summary(self) -> str:
        """Each passed step's figures (the `canary` output)."""
        return "; ".join(f"{step.percent}%: {step.verdict.figures}" for step in self.steps)

    def _step(self, prepared: Prepared, split: Split) -> None:
        run = self.run
        with run.timer.phase(f"canary {split.percent}%"):
            self._set_weights(prepared, split)
            self._judge_step(split)

    def _set_weights(self, prepared: Prepared, split: Split) -> None:
        run, candidate = self.run, prepared.candidate
        if candidate.mode == SEAMLESS:
            step = _seamless_step(run, candidate, split)
            run.routes_per_request = True
        else:
            step = render_candidate(run, split.canary, split.primary, split)
            run.proxy.validate(step)
        run.proxy.switch(step)
        how = "in the active-color file, no reload" if candidate.mode == SEAMLESS else "nginx reloaded"
        run.report.info(f"canary: {split.percent}% of requests to {split.canary} ({how})")
        if self._container is None:
            self._container = run.proxy.nginx_container()
            if self._container is None:
                raise BluegreenError("canary: the proxy's nginx container is not running")
            run.host.run(truncate_records(self._container, log_path(run.app)))
        self._read()  # what was recorded before the step began is not the step's

    def _read(self) -> dict[str, Tally]:
        assert self._container is not None
        result = self.run.host.run(read_records(self._container, log_path(self.run.app), self._reader.offset))
        return tally_lines(self._reader.take(result.stdout.encode()), self.run.ports)

    def _judge_step(self, split: Split) -> None:
        run, plan = self.run, self.plan
        tallies = {color: Tally() for color in run.ports}
        deadline = time.monotonic() + plan.interval
        extended = False
        while True:
            time.sleep(ANALYSIS_PERIOD)
            for color, tally in self._read().items():
                tallies[color] = tallies[color] + tally
            verdict = judge(tallies, plan, split.canary, split.primary)
            if verdict.failed:
                raise CanaryFailed(
                    f"canary aborted at {split.percent}%: {verdict.failed} crossed: {verdict.figures}. "
                    f"All traffic went back to {split.primary}; {split.canary} is taken away",
                    verdict,
                )
            if time.monotonic() < deadline:
                continue
            if verdict.enough:
                run.report.info(f"canary: step {split.percent}% passed: {verdict.figures}")
                self.steps.append(StepResult(split.percent, verdict))
                return
            if extended:
                raise CanaryFailed(
                    f"canary failed at {split.percent}%: inconclusive, too few requests after the step "
                    f"was extended once: {verdict.figures}. All traffic went back to {split.primary}; "
                    f"{split.canary} is taken away (lower canary-min-requests or lengthen canary-interval)",
                    verdict,
                )
            run.report.warning(
                f"canary: step {split.percent}% is inconclusive ({verdict.figures}): extended once"
            )
            extended = True
            deadline = time.monotonic() + plan.interval


def _seamless_step(run: HostRun, candidate: Candidate, split: Split) -> Candidate:
    """The switch's own candidate, with the active-color file holding the split and the njs
    module's last resort still the live color."""
    files = candidate.files
    assert files is not None
    base = seamless_candidate(run.app, files, candidate.config, split.primary, split.primary)
    return Candidate(
        candidate.config,
        js=base.js,
        active=active_file(run.app, split.primary, split),
        holding=base.holding,
        holding_js=base.holding_js,
        files=files,
    )
