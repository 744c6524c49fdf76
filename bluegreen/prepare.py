"""The prepare phase on one host (README steps 2-6): detect, render, upload, start the new color,
health gate, `nginx -t`. Nothing the public sees changes.

Undo takes the new color away again, leaves nginx and the live color alone, and puts the kept
release back in the new color's place (kept.py). The preflight and the lock (steps 0-1, detect.py)
come before it and the lock is held through every phase. The release record is written once the
new color has served (finish.py).
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field, replace

from bluegreen.appdata import refuse_include_on_v1
from bluegreen.candidate import render_candidate
from bluegreen.colors import FIRST_COLOR, other, project_name
from bluegreen.containers import project_images, remove_project
from bluegreen.detect import choose_ports, detect, rollback_target, use_recorded
from bluegreen.docker_state import ContainerState
from bluegreen.host_run import HostRun
from bluegreen.kept import Kept, note_kept, put_back
from bluegreen.owner import claim
from bluegreen.proxy import Candidate
from bluegreen.records import Release
from bluegreen.smoke import SmokeCheck, run_smoke
from bluegreen.start_color import start_kept, start_new
from bluegreen.state import State
from bluegreen.stopped_color import restore_restart_policies, stop_color
from bluegreen.upload import upload

DEPLOYED, ROLLED_BACK = "deployed", "rolled-back"


@dataclass(frozen=True)
class Plan:
    """One switch: from the live color to the target, and how the target is brought up."""

    target: str
    live: str | None
    state: State | None
    release: Release
    outcome: str
    """`deployed` (the target is started anew) or `rolled-back` (its kept containers are started)."""


@dataclass(frozen=True)
class Prepared:
    """A target color that is up and healthy, and the config that will route to it."""

    plan: Plan
    candidate: Candidate
    release: Release
    """The plan's release with the containers that passed the health gate."""
    states: list[ContainerState] = field(default_factory=list)
    replaced_images: set[str] = field(default_factory=set)
    """The images the target's earlier containers used (removed once unused, after the switch)."""
    smoke: tuple[SmokeCheck, ...] = ()
    """The smoke paths' results on the target, before the switch."""


class Prepare:
    """Brings the target color up beside the live one; `undo` takes it away again."""

    def __init__(self, run: HostRun) -> None:
        self.run = run
        self.plan: Plan | None = None
        self.kept: Kept | None = None
        """The release a rollback goes back to, in the color a deploy starts anew."""
        self.touched = False
        """Whether this run started (or recreated) the target's containers: only then are they its to undo."""
        self.left_running = ""
        """The target color when the undo could not take it away again (it may still run)."""

    def deploy(self) -> Prepared:
        run = self.run
        run.find_compose_soon()  # while detecting
        refuse_include_on_v1(run.config.bundles, run.compose_cmd, run.host.name)
        with run.timer.phase("detect"):
            state, live = detect(run)
            target = other(live) if live else FIRST_COLOR
            run.live, run.target = live, target
            choose_ports(run, target, live)
            claim(run.host.docker(), run.app, run.layout.app_dir)
            run.report.info(f"live color: {live or 'none (first deploy)'}; deploying {target}")
            run.find_switch_mode()
        candidate = render_candidate(run, target, live)
        with run.timer.phase("upload"):
            self.kept = note_kept(run, target)  # before the upload writes over its files
            try:
                release = upload(run, target)
            except BaseException:
                self.undo()
                raise
        return self._bring_up(Plan(target, live, state, release, DEPLOYED), candidate)

    def rollback(self) -> Prepared:
        run = self.run
        run.find_compose_soon()
        with run.timer.phase("detect"):
            state, live = detect(run)
            run.live = live
            target, release = rollback_target(run, state, live)
            run.target = target
            use_recorded(run, release)
            run.report.info(f"live color: {live or 'none'}; rolling back to {target}")
            run.find_switch_mode()
        candidate = render_candidate(run, target, live)
        return self._bring_up(Plan(target, live, state, release, ROLLED_BACK), candidate)

    def _bring_up(self, plan: Plan, candidate: Candidate) -> Prepared:
        """Start, health gate, `nginx -t` (while the target starts). The release record is written
        once the target has served (finish.py): only then can a rollback go back to it."""
        run, self.plan = self.run, plan
        project = project_name(run.app, plan.target)
        replaced = project_images(run.host.docker(), project) if plan.outcome == DEPLOYED else set()
        try:
            validation = run.background.submit(run.proxy.validate, candidate)
            with run.timer.phase("start"):
                self.touched = plan.outcome == ROLLED_BACK
                if plan.outcome == ROLLED_BACK:
                    start_kept(run, plan.release)
                else:
                    start_new(run, plan.release, self._replacing)
                restore_restart_policies(run.host, run.layout, plan.target)
            with run.timer.phase("health"):
                states = run.gate.wait(
                    plan.target, project, run.ports[plan.target], lambda: _fail_early(validation)
                )
            smoke = _smoke(run, plan)
            with run.timer.phase("validate"):
                validation.result()
                run.report.info("nginx -t: the new config is valid")
            release = _with_containers(plan.release, states)
        except BaseException:
            self.undo()
            raise
        return Prepared(plan, candidate, release, states, replaced, smoke)

    def _replacing(self) -> None:
        self.touched = True

    def undo(self) -> None:
        """Take the target away again, leaving nginx and the live color alone, and the kept
        release in the target's color as it was (stopped, rollback-able)."""
        run, plan = self.run, self.plan
        if plan is not None:
            if self.touched:
                self.left_running = plan.target  # until taken away: a lost connection stops the undo
            run.proxy.discard()
            if self.touched and not self._take_away(plan):
                return
        if self.kept is None:
            return
        try:
            put_back(run, self.kept, containers_replaced=self.touched)
        except Exception as exc:
            run.report.warning(
                f"could not put the kept release of {self.kept.release.color} back ({exc}): "
                "a rollback cannot go back to it"
            )

    def _take_away(self, plan: Plan) -> bool:
        """Stop (rollback) or remove (deploy) the target's containers; False when that failed."""
        run, project = self.run, project_name(self.run.app, plan.target)
        try:
            if plan.outcome == ROLLED_BACK:  # kept stays kept: stopped, never removed
                run.report.warning(f"stopping {plan.target} again; nginx and the live color were not touched")
                stop_color(run.host, run.layout, run.app, plan.target)
            else:
                run.report.warning(f"tearing down {plan.target}; nginx and the live color were not touched")
                remove_project(run.host.docker(), project)
        except Exception as exc:
            run.report.warning(f"could not take {plan.target} away again: {exc}")
            return False
        self.left_running = ""
        return True


def _smoke(run: HostRun, plan: Plan) -> tuple[SmokeCheck, ...]:
    """The smoke paths on the new color, before the switch (a rollback's color ran already)."""
    config = run.config
    if not config.smoke_paths or plan.outcome != DEPLOYED:
        return ()
    with run.timer.phase("smoke"):
        port = run.ports[plan.target]
        return run_smoke(run.host, plan.target, port, config.smoke_paths, config.smoke_timeout, run.report)


def _fail_early(validation: Future[None]) -> None:
    if validation.done():
        validation.result()  # a rejected config fails now, not after the app has started


def _with_containers(release: Release, states: list[ContainerState]) -> Release:
    serving = [s for s in states if not s.finished_task]
    return replace(
        release,
        image_ids={s.name: s.image_id for s in serving},
        running=tuple(s.id for s in serving),
    )
