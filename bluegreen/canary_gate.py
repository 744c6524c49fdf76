"""The canary's manual gate (issue 19.4): a `pause` step ends the run with the split in place and a
record of it (`canary.json` in the app's directory); `command: promote` goes on from the recorded
step, `command: abort` sends all traffic back and takes the new color away. While the record
exists, deploy and rollback refuse to start (the lock is not held while paused)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from bluegreen.canary_inputs import CanaryPlan
from bluegreen.candidate import render_candidate
from bluegreen.colors import project_name
from bluegreen.containers import remove_project
from bluegreen.errors import BluegreenError, UnreadableFile
from bluegreen.host_run import HostRun, Template, now_iso
from bluegreen.prepare import DEPLOYED, Plan, Prepared
from bluegreen.proxy import Routing, wait_for_no_connections
from bluegreen.records import Release
from bluegreen.routing import SEAMLESS, active_file, split_of_active_file
from bluegreen.switch_file import is_seamless

PAUSED, ABORTED = "paused", "aborted"
BOTH_COMMANDS = "`command: promote` (go on) or `command: abort` (send all traffic back)"


@dataclass(frozen=True)
class PausedCanary:
    """A canary stopped at a `pause` step: the split in place and what the rest needs."""

    target: str
    live: str
    percent: int
    plan: CanaryPlan
    """The plan's steps are the ones left after the pause."""
    release: Release
    ports: dict[str, int]
    template: str
    paused_at: str = ""
    actor: str = ""

    def describe(self) -> str:
        rest = ",".join(str(step) for step in self.plan.steps)
        return f"paused at {self.percent}% to {self.target} (next steps: {rest})"

    def to_json(self) -> bytes:
        data = asdict(self)
        data["release"] = json.loads(self.release.to_json())
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes, app_dir: str) -> PausedCanary:
        try:
            data: dict[str, Any] = json.loads(raw)
            release = Release.from_json(json.dumps(data["release"]).encode(), app_dir)
            if release is None:
                raise ValueError("its release is malformed")
            plan = dict(data["plan"])
            plan["steps"] = tuple(plan["steps"])
            return cls(
                target=str(data["target"]), live=str(data["live"]), percent=int(data["percent"]),
                plan=CanaryPlan(**plan), release=release,
                ports={str(k): int(v) for k, v in dict(data["ports"]).items()},
                template=str(data["template"]), paused_at=str(data.get("paused_at", "")),
                actor=str(data.get("actor", "")),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise BluegreenError(f"the paused canary's record is malformed ({exc})") from None


def record_path(run: HostRun) -> str:
    return f"{run.layout.app_dir}/canary.json"


def read_paused(run: HostRun) -> PausedCanary | None:
    raw = run.host.read_file(record_path(run))
    return PausedCanary.from_json(raw, run.layout.app_dir) if raw else None


def hold_paused(run: HostRun, prepared: Prepared, percent: int, plan: CanaryPlan) -> PausedCanary:
    """Record the pause (the run ends; the split stays in place)."""
    paused = PausedCanary(
        prepared.plan.target, prepared.plan.live or "", percent, plan, prepared.release,
        dict(run.ports), run.nginx_template().text, now_iso(), run.actor,
    )  # fmt: skip
    run.host.write_file(record_path(run), paused.to_json())
    run.report.info(f"canary {paused.describe()}: the split stays in place until {BOTH_COMMANDS}")
    return paused


def refuse_while_paused(run: HostRun) -> None:
    paused = read_paused(run)
    if paused is not None:
        raise BluegreenError(
            f"a canary of {run.app} is {paused.describe()}: nothing was changed. Run {BOTH_COMMANDS} first"
        )


def resume(run: HostRun) -> tuple[PausedCanary, Prepared, Routing]:
    """What promote and abort work from: the record, the run set up as the paused run was, the
    prepared color, and the routing that sends every request to the old color."""
    paused = read_paused(run)
    if paused is None:
        raise BluegreenError(f"no canary of {run.app} is paused: nothing to {run.config.command}")
    run.live, run.target = paused.live, paused.target
    run.ports = dict(paused.ports)
    run.template = Template(paused.template, "the paused canary's nginx template")
    run.find_switch_mode()
    state = run.records.state()
    plan = Plan(paused.target, paused.live, state, paused.release, DEPLOYED)
    prepared = Prepared(plan, render_candidate(run, paused.target, paused.live), paused.release)
    if run.config.command == "promote":
        run.proxy.validate(prepared.candidate)  # nginx -t of the config the last step switches to
    back = render_candidate(run, paused.live, None)
    run.routes_per_request = back.mode == SEAMLESS
    return paused, prepared, Routing(back.config, back.active)


def take_away(run: HostRun, paused: PausedCanary, back: Routing) -> None:
    """All traffic to the old color (at once), drain, remove the new color, forget the pause."""
    run.report.warning(f"canary: all traffic back to {paused.live}; {paused.target} is taken away")
    run.proxy.restore(back)
    run.drain(paused.target)
    remove_project(run.host.docker(), project_name(run.app, paused.target))
    forget(run)


def forget(run: HostRun) -> None:
    run.host.run(["rm", "-f", "--", record_path(run)]).check("removing the paused canary's record")


def take_back_stale_split(run: HostRun) -> None:
    """A canary run killed in a step (SIGKILL: no undo) leaves its split in the active-color file.
    With no paused canary recorded, a deploy or rollback sends all traffic back to the file's first
    color before anything starts (it may recreate the canary's color), and waits for its connections."""
    try:
        routing = run.proxy.routing()
    except UnreadableFile:
        return
    split = split_of_active_file(run.app, routing.active) if is_seamless(routing) else None
    if split is None:
        return
    run.report.warning(
        f"the active-color file still sends {split.percent}% of requests to {split.canary} (a canary run "
        f"was stopped in a step): all traffic goes back to {split.primary} first"
    )
    run.proxy.switch_files.write_active(active_file(run.app, split.primary))
    wait_for_no_connections(run.host, run.ports[split.canary], run.config.drain_timeout, run.report)
