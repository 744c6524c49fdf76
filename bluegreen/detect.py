"""Steps 0-2 on one host: the preflight, the lock, and which color is live (settling a run that
was killed during its switch). Also which color a rollback goes back to, and the ports and
template a run renders with."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bluegreen.candidate import render_candidate
from bluegreen.colors import live_color, other, project_name
from bluegreen.config import DEFAULT_TEMPLATE
from bluegreen.containers import project_containers, running_colors
from bluegreen.errors import BluegreenError
from bluegreen.host_run import HostRun, Template, now_iso
from bluegreen.lock import DeployLock
from bluegreen.owner import check_owner
from bluegreen.records import Release
from bluegreen.state import State
from bluegreen.switch_file import repair_active_file


def preflight(run: HostRun) -> None:
    """What would make the switch impossible, refused before anything changes on the host."""
    with run.timer.phase("preflight"):
        run.host.check_tunnels(run.config.http_port)  # the health probes and verification
        check_owner(run.host.docker(), run.app, run.layout.app_dir)
        run.proxy.check()


@contextmanager
def locked(run: HostRun) -> Iterator[None]:
    """The app's lock on the host, held for the whole run (a second deploy waits, then fails)."""
    holder = {"actor": run.actor, "since": now_iso(), "command": run.config.command}
    lock = DeployLock(run.host, run.layout, run.app)
    with run.timer.phase("lock"):
        lock.acquire(run.config.lock_timeout, holder)
    try:
        yield
    finally:
        lock.release()


def detect(run: HostRun) -> tuple[State | None, str | None]:
    """The state file, and the live color: what nginx routes to, the record, what runs."""
    state = run.records.state()
    recorded = state.active_color if state else None
    routed = run.routed_color()
    running = running_colors(run.host.docker(), run.app)
    if run.config.command != "status":
        run.ports = run.recorded_ports()
        routed = _settle_interrupted_switch(run, routed, recorded, running)
    live = live_color(routed, recorded, running)
    if run.config.command != "status":
        repair_active_file(run.proxy, run.app, live, lambda: run.check.serving_color(run.ports), run.report)
    return state, live


def _settle_interrupted_switch(
    run: HostRun, routed: str | None, recorded: str | None, running: set[str]
) -> str | None:
    """A run killed during its switch can leave nginx serving one color while its config file
    already routes to the other. What nginx answers from is the truth: the file is rewritten to
    match it, so nothing changes for the traffic. Only when nginx does not say (no upstream
    header in the template) is nginx reloaded to serve what its file says."""
    served = run.check.serving_color(run.ports)
    if served in running and routed and served != routed:
        run.report.warning(
            f"an earlier run was interrupted during its switch: nginx serves {served}, its config "
            f"file routes to {routed}; the file is put back to route to {served}"
        )
        run.find_switch_mode()
        run.proxy.settle(render_candidate(run, served, None))
        return served
    if served is None and routed and recorded and routed != recorded:
        run.report.warning(
            f"an earlier run was interrupted: nginx.conf routes to {routed}, the state file says {recorded}"
        )
        run.proxy.reload_if_running()  # nginx serves what its file says before anything changes
    return routed


def rollback_target(run: HostRun, state: State | None, live: str | None) -> tuple[str, Release]:
    """The color the last completed deploy replaced, still kept; refused when that cannot be."""
    unchanged = "; nothing was changed"
    if state is None or not state.previous_color:
        raise BluegreenError(
            f"nothing to roll back to: no completed deploy of {run.app} replaced a color"
            f" (roll back only after a deploy that switched colors){unchanged}"
        )
    target = state.previous_color
    if target == live:
        raise BluegreenError(
            f"nothing to roll back to: {target}, the color the last completed deploy replaced, is "
            f"the live color now (an earlier run was interrupted after its switch); deploy the "
            f"version you want instead{unchanged}"
        )
    release = run.records.release(target)
    kept = {c.id for c in project_containers(run.host.docker(), project_name(run.app, target))}
    if release is None or not release.running or not set(release.running) <= kept:
        raise BluegreenError(
            f"nothing to roll back to: {target} is no longer kept on the host (its containers or "
            f"its release record are gone); deploy the version you want instead{unchanged}"
        )
    return target, release


def choose_ports(run: HostRun, target: str, live: str | None) -> None:
    """A deploy: the color it starts takes its port input; the other color keeps the port it was
    started with (a live color's port changes only when it is started again)."""
    config, other_color = run.config, other(target)
    run.ports[target] = config.ports[target]
    kept, asked = run.ports[other_color], config.ports[other_color]
    if run.ports[target] == kept:
        raise BluegreenError(
            f"{target}-port {kept} is the port {other_color} was started with and still holds; give "
            f"{target} another port (change one color's port per deploy); nothing was changed"
        )
    if live == other_color and asked != kept:
        run.report.info(
            f"{live} keeps port {kept}, which it was started with, until it is deployed again "
            f"({live}-port {asked} applies then)"
        )


def use_recorded(run: HostRun, release: Release) -> None:
    """A rollback: the kept color is served as it was recorded, with its port and its nginx
    template; an nginx-template given on purpose overrides the recorded one."""
    color, config = release.color, run.config
    if config.ports[color] != run.ports[color]:
        run.report.info(
            f"{color} listens on port {run.ports[color]}, which it was started with, and is rolled back "
            f"there ({color}-port {config.ports[color]} applies to its next deploy)"
        )
    given = config.nginx_template != DEFAULT_TEMPLATE
    if release.nginx_template and not given:
        run.template = Template(release.nginx_template, f"the nginx template {color} was served with")
    elif release.nginx_template:
        run.report.info(
            f"nginx-template {config.nginx_template.name} is given: rendering it instead of the "
            f"template {color} was served with"
        )
    else:
        which = config.nginx_template.name if given else "the built-in template"
        run.report.warning(
            f"the release record of {color} has no nginx template (written by an earlier bluegreen): "
            f"rendering {which}"
        )
