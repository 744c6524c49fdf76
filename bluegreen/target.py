"""Where a command runs: a target runs the phases (prepare → switch → finish) across its hosts.

Today the target is one host, which is a fleet of one: prepare it, switch it, finish it. A fleet
would prepare every host, switch them in batches, finish every host, and undo switched hosts on a
failure, with the same phases and the same per-host `HostRun`.
"""

from __future__ import annotations

from bluegreen.canary import Canary
from bluegreen.canary_gate import (
    ABORTED,
    BOTH_COMMANDS,
    PAUSED,
    forget,
    read_paused,
    refuse_while_paused,
    resume,
    take_away,
    take_back_stale_split,
)
from bluegreen.detect import detect, locked, preflight
from bluegreen.finish import finish
from bluegreen.host_run import HostRun
from bluegreen.lock import is_locked, lock_holder
from bluegreen.prepare import DEPLOYED, Prepare, Prepared
from bluegreen.result import Result
from bluegreen.state import State
from bluegreen.switch import BlueGreen, Strategy
from bluegreen.switch_file import warn_about_active_file


class OneHost:
    """The phases in a row on one host."""

    def __init__(self, run: HostRun) -> None:
        self.run = run

    def deploy(self) -> Result:
        preflight(self.run)
        with locked(self.run):
            refuse_while_paused(self.run)
            take_back_stale_split(self.run)
            prepare = Prepare(self.run)
            return self._switch_and_finish(prepare, prepare.deploy())

    def rollback(self) -> Result:
        preflight(self.run)
        with locked(self.run):
            refuse_while_paused(self.run)
            take_back_stale_split(self.run)
            prepare = Prepare(self.run)
            return self._switch_and_finish(prepare, prepare.rollback())

    def _switch_and_finish(self, prepare: Prepare, prepared: Prepared) -> Result:
        strategy = self._strategy(prepared)
        try:
            strategy.read_routing()
            strategy.switch(prepared)
        except BaseException as exc:
            strategy.undo(prepared, exc)  # raises SwitchBackFailed (both colors left running) if it cannot
            prepare.undo()
            raise
        if isinstance(strategy, Canary) and strategy.paused is not None:
            return self._result(prepared, None, canary=strategy.paused.describe())
        canary = strategy.summary() if isinstance(strategy, Canary) else ""
        return self._result(prepared, finish(self.run, prepared), canary=canary)

    def promote(self) -> Result:
        """A paused canary goes on from its recorded step; a failed step takes it away."""
        preflight(self.run)
        with locked(self.run):
            paused, prepared, back = resume(self.run)
            canary = Canary(self.run, paused.plan)
            canary.previous = back
            try:
                canary.switch(prepared)
            except BaseException as exc:
                canary.undo(prepared, exc)
                take_away(self.run, paused, back)
                raise
            if canary.paused is not None:  # paused again, at a later step
                return self._result(prepared, None, canary=canary.paused.describe())
            state = finish(self.run, prepared)
            forget(self.run)
            return self._result(prepared, state, canary=canary.summary())

    def abort(self) -> Result:
        """A paused canary: all traffic back to the old color, the new one taken away."""
        preflight(self.run)
        with locked(self.run):
            paused, prepared, back = resume(self.run)
            take_away(self.run, paused, back)
        self.run.live = paused.live
        return self._result(prepared, None, ABORTED)

    def _strategy(self, prepared: Prepared) -> Strategy:
        """Canary where asked for and something serves to compare with; a rollback goes back at once."""
        canary = self.run.config.canary
        if canary is not None and prepared.plan.outcome == DEPLOYED:
            return Canary(self.run, canary)
        return BlueGreen(self.run)

    def _result(self, prepared: Prepared, state: State | None, outcome: str = "", canary: str = "") -> Result:
        """The run's result; no state: the canary is paused (the old color is still the live one)
        or aborted."""
        run = self.run
        plan = prepared.plan
        return Result(
            command=run.config.command,
            status=outcome or (plan.outcome if state else PAUSED),
            app_name=run.app,
            active_color=state.active_color if state else plan.live or "",
            previous_color=state.previous_color if state else "",
            image=state.image if state else "",
            duration_seconds=run.timer.elapsed(),
            phases=run.timer.phases,
            deployed_at=state.deployed_at if state else "",
            deployed_by=run.actor,
            certificate_expires=run.check.certificate.expires if run.check.certificate else "",
            switch_mode=run.switch_mode,
            smoke=prepared.smoke,
            canary=canary,
        )

    def status(self) -> Result:
        run = self.run
        with run.timer.phase("status"):
            state, live = detect(run)
            served = run.check.serving_color(run.recorded_ports())
            if served and served != live:
                run.report.warning(
                    f"nginx serves {served} although its config file routes to {live} (a run was "
                    "interrupted during its switch); the next deploy or rollback puts the file back"
                )
                live = served
            warn_about_active_file(run.proxy, run.app, served, run.report)
            holder = lock_holder(run.host, run.layout) if is_locked(run.host, run.layout) else ""
            paused = read_paused(run)
            if paused is not None:
                run.report.warning(f"a canary is {paused.describe()}: run {BOTH_COMMANDS}")
        current = state if state and state.active_color == live else None
        return Result(
            command="status",
            status="ok",
            app_name=run.app,
            active_color=live or "",
            previous_color=state.previous_color if state else "",
            image=current.image if current else "",
            duration_seconds=run.timer.elapsed(),
            phases=run.timer.phases,
            lock_holder=holder,
            canary=paused.describe() if paused else "",
            deployed_at=current.deployed_at if current else "",
            deployed_by=current.actor if current else "",
            certificate_expires=run.check.certificate.expires if run.check.certificate else "",
        )
