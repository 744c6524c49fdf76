"""One host's part: what a deploy or rollback did there (its Result), its status, the strategy its
switch runs with, and a paused canary's promote and abort (a canary runs on one host). The phases
run on every host of a fleet (fleet.py); a single host is a fleet of one."""

from __future__ import annotations

from bluegreen.canary import Canary
from bluegreen.canary_gate import (
    ABORTED,
    BOTH_COMMANDS,
    PAUSED,
    forget,
    read_paused,
    resume,
    take_away,
)
from bluegreen.detect import detect, locked, preflight
from bluegreen.finish import finish
from bluegreen.host_run import HostRun
from bluegreen.lock import is_locked, lock_holder
from bluegreen.prepare import DEPLOYED, Prepared
from bluegreen.result import Result
from bluegreen.state import State
from bluegreen.switch import BlueGreen, Strategy
from bluegreen.switch_file import warn_about_active_file


def strategy_for(run: HostRun, prepared: Prepared) -> Strategy:
    """Canary where asked for and something serves to compare with; a rollback goes back at once."""
    canary = run.config.canary
    if canary is not None and prepared.plan.outcome == DEPLOYED:
        return Canary(run, canary)
    return BlueGreen(run)


def host_result(
    run: HostRun, prepared: Prepared, state: State | None, outcome: str = "", canary: str = ""
) -> Result:
    """What a deploy or rollback did on one host; no state: the canary is paused (the old color is
    still the live one) or aborted."""
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


def promote(run: HostRun) -> Result:
    """A paused canary goes on from its recorded step; a failed step takes it away."""
    preflight(run)
    with locked(run):
        paused, prepared, back = resume(run)
        canary = Canary(run, paused.plan)
        canary.previous = back
        try:
            canary.switch(prepared)
        except BaseException as exc:
            canary.undo(prepared, exc)
            take_away(run, paused, back)
            raise
        if canary.paused is not None:  # paused again, at a later step
            return host_result(run, prepared, None, canary=canary.paused.describe())
        state = finish(run, prepared)
        forget(run)
        return host_result(run, prepared, state, canary=canary.summary())


def abort(run: HostRun) -> Result:
    """A paused canary: all traffic back to the old color, the new one taken away."""
    preflight(run)
    with locked(run):
        paused, prepared, back = resume(run)
        take_away(run, paused, back)
    run.live = paused.live
    return host_result(run, prepared, None, ABORTED)


def host_status(run: HostRun) -> Result:
    """What serves on one host, who deployed it, and who holds its lock."""
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
