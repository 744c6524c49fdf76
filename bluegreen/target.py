"""One host's report: what a deploy or rollback did there (its Result), and its status. The phases
run on every host of a fleet (fleet.py); a single host is a fleet of one."""

from __future__ import annotations

from bluegreen.detect import detect
from bluegreen.host_run import HostRun
from bluegreen.lock import is_locked, lock_holder
from bluegreen.prepare import Prepared
from bluegreen.result import Result
from bluegreen.state import State
from bluegreen.switch_file import warn_about_active_file


def host_result(run: HostRun, prepared: Prepared, state: State) -> Result:
    """What a deploy or rollback did on one host."""
    return Result(
        command=run.config.command,
        status=prepared.plan.outcome,
        app_name=run.app,
        active_color=state.active_color,
        previous_color=state.previous_color,
        image=state.image,
        duration_seconds=run.timer.elapsed(),
        phases=run.timer.phases,
        deployed_at=state.deployed_at,
        deployed_by=run.actor,
        certificate_expires=run.check.certificate.expires if run.check.certificate else "",
        switch_mode=run.switch_mode,
        smoke=prepared.smoke,
    )


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
        deployed_at=current.deployed_at if current else "",
        deployed_by=current.actor if current else "",
        certificate_expires=run.check.certificate.expires if run.check.certificate else "",
    )
