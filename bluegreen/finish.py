"""The finish phase on one host (README steps 9-10): record the new live color (its release record,
the state file) and an audit line, drain the old color, stop it (kept for a rollback), clean up.
No undo: the new color serves, and every failure here says so.
"""

from __future__ import annotations

from dataclasses import replace

from bluegreen import commands
from bluegreen.appdata import data_paths, kept_releases
from bluegreen.containers import remove_unused_images
from bluegreen.docker_state import ContainerState
from bluegreen.errors import BluegreenError, Cancelled
from bluegreen.host_run import HostRun, now_iso
from bluegreen.prepare import Prepared
from bluegreen.records import Release
from bluegreen.state import State
from bluegreen.stopped_color import stop_color
from bluegreen.untrusted import printable


def finish(run: HostRun, prepared: Prepared) -> State:
    """Record, drain, stop the old color, clean up; returns the state recorded. A failure here is
    reported as what it is: the switch stands (the target serves and is recorded); the old color
    may still run."""
    plan, release = prepared.plan, prepared.release
    new_state = State(
        active_color=plan.target,
        previous_color=plan.live or "",
        image=release.image or ", ".join(sorted(_references(prepared.states))),
        previous_image=(plan.state.image if plan.state and plan.state.active_color == plan.live else ""),
        deployed_at=now_iso(),
        actor=run.actor,
    )
    step = "record"
    try:
        with run.timer.phase("record"):
            run.records.write_release(replace(release, nginx_template=run.nginx_template().text))
            run.records.write_state(new_state)
            run.records.audit(_audit_entry(new_state, run.config.command, plan.outcome, run.deploy_id))
        if plan.live:
            step = "drain"
            with run.timer.phase("drain"):
                run.drain(plan.live)
            step = "stop-old"
            with run.timer.phase("stop-old"):
                if plan.live == plan.target:  # never stop the color just switched to
                    raise BluegreenError(f"refusing to stop {plan.live}: it is the color now serving")
                stop_color(run.host, run.layout, run.app, plan.live)
        step = "cleanup"
        _remove_older_releases(run, release)  # not before the switch: it would wait on this
        _remove_unused(run, prepared.replaced_images)
    except BaseException as exc:
        old = f"; {plan.live} may still run (the next deploy replaces it)" if plan.live else ""
        recorded = "" if step == "record" else " and recorded"
        raise BluegreenError(
            f"{step} failed after the switch: {exc}. {plan.target} serves (verified{recorded}){old}"
        ) from None
    return new_state


def _remove_older_releases(run: HostRun, release: Release) -> None:
    """The target's earlier files: its containers now run from this release's."""
    folder = run.layout.releases_dir(release.color)
    data = data_paths(run.config.bundles[release.color]) if run.config.bundles else ()
    result = run.host.run(commands.remove_older_releases(folder, release.release_id, data))
    for kept in kept_releases(result.stdout):
        run.report.warning(
            f"kept the older release {kept}: it holds what the app wrote; move that into "
            f'{run.layout.data_dir} (see the README, "Where your app\'s data lives") or remove it'
        )
    if not result.ok:
        run.report.warning(
            f"could not remove older releases in {folder}: {printable(result.stderr.strip(), 500)}"
        )


def _remove_unused(run: HostRun, images: set[str]) -> None:
    """Best effort: the deploy succeeded whether or not old images could be removed."""
    try:
        removed = remove_unused_images(run.host.docker(), images)
    except Cancelled:
        raise
    except Exception as exc:
        run.report.warning(f"could not remove old images: {printable(str(exc), 500)}")
        return
    if removed:
        run.report.info(f"removed images no container uses any more: {', '.join(removed)}")


def _references(states: list[ContainerState]) -> set[str]:
    return {s.image_reference for s in states if s.image_reference and not s.finished_task}


def _audit_entry(state: State, command: str, outcome: str, deploy_id: str) -> dict[str, str]:
    return {
        "deploy_id": deploy_id,
        "time": state.deployed_at,
        "actor": state.actor,
        "command": command,
        "result": outcome,
        "from": state.previous_color,
        "to": state.active_color,
        "image": state.image,
    }
