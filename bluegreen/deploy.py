"""The routine: lock, detect, upload, start, health gate, switch, verify, record, drain, stop.

Everything before the switch leaves nginx and the live color untouched; a failure there takes the
new color away again. A failed verification after the switch puts the old config back. Once the
switch is verified the new color is recorded as live at once, so whatever happens after (drain,
stopping the old color, a cancelled run) the records say what nginx serves.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

from bluegreen import commands
from bluegreen.appdata import AppData, data_paths, kept_releases, refuse_include_on_v1
from bluegreen.colors import FIRST_COLOR, live_color, mark_route, other, project_name
from bluegreen.commands import Compose
from bluegreen.compose_program import find_compose
from bluegreen.config import Config, env_file_text
from bluegreen.containers import (
    ensure_network,
    project_containers,
    project_images,
    remove_project,
    remove_unused_images,
    running_colors,
    start_containers,
)
from bluegreen.docker_state import ContainerState
from bluegreen.errors import BluegreenError, Cancelled, Failure, RemoteCommandError, UnreadableFile
from bluegreen.health_gate import HealthGate, Probe
from bluegreen.host import Host
from bluegreen.layout import Layout, resolve_remote_dir
from bluegreen.lock import DeployLock, is_locked, lock_holder
from bluegreen.managed_proxy import ManagedProxy
from bluegreen.overrides import app_network, project_override
from bluegreen.owner import check_owner, claim
from bluegreen.progress import Reporter, Timer
from bluegreen.proxy import Candidate, Proxy, Routing, wait_for_no_connections
from bluegreen.records import Records, Release, new_release_id
from bluegreen.release_command import RELEASE_TIMEOUT, ReleaseCommand
from bluegreen.render import Route, render_nginx
from bluegreen.routing import (
    SEAMLESS,
    SEAMLESS_MARK,
    SeamlessFiles,
    active_file,
    njs_module,
    template_variables,
    uses_seamless,
)
from bluegreen.state import State
from bluegreen.stopped_color import restore_restart_policies, stop_color
from bluegreen.untrusted import printable
from bluegreen.user_proxy import UserProxy
from bluegreen.verify import UPSTREAM_HEADER, ProxyCheck

SHARED = "shared"


@dataclass(frozen=True)
class Result:
    command: str
    status: str
    app_name: str
    active_color: str
    previous_color: str
    image: str
    duration_seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    lock_holder: str = ""
    deployed_at: str = ""
    deployed_by: str = ""
    certificate_expires: str = ""
    switch_mode: str = ""
    """`seamless` (njs picks the color per request: nothing reloaded) or `reload`."""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def default_actor() -> str:
    github_actor = os.environ.get("GITHUB_ACTOR")
    if github_actor:
        run = os.environ.get("GITHUB_RUN_ID", "")
        return f"{github_actor} (github run {run})" if run else github_actor
    return f"{getpass.getuser()}@{socket.gethostname()}"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Plan:
    """One switch: from the live color to the target, and how the target is brought up."""

    target: str
    live: str | None
    state: State | None
    release: Release
    outcome: str
    """`deployed` (the target is started anew) or `rolled-back` (its kept containers are started)."""


class Deployment:
    """One run of one command against one host."""

    def __init__(
        self, config: Config, host: Host, reporter: Reporter, timer: Timer | None = None, actor: str = ""
    ) -> None:
        self.config = config
        self.host = host
        self.report = reporter
        self.timer = timer or Timer(reporter)
        self.live: str | None = None
        self.target: str | None = None
        self.actor = actor or default_actor()
        self.app = config.app_name
        self.layout = Layout(app_dir=f"{resolve_remote_dir(config.remote_dir, host)}/{self.app}")
        self.records = Records(host, self.layout, reporter)
        self.proxy = self._make_proxy()
        self.gate = HealthGate(host, reporter, config.health_path, config.health_timeout, self._logs_hint)
        self.check = ProxyCheck.for_config(config, Probe(host), reporter)
        self._compose_program: Future[tuple[str, ...]] | None = None
        self._touched_target = False
        """Whether this run started (or recreated) the target's containers: only then are they its to undo."""
        self._warned_header = False
        self._warned_template = False
        self._seamless: SeamlessFiles | bool | None = None
        """The proxy's seamless files once asked (False: the proxy cannot switch seamlessly)."""
        self.switch_mode = ""
        self._background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bluegreen")

    def close(self) -> None:
        self._background.shutdown(wait=False, cancel_futures=True)

    # ---- the commands -------------------------------------------------------------------

    def deploy(self) -> Result:
        self._preflight()
        with self._locked():
            self._compose_program = self._background.submit(find_compose, self.host)  # while detecting
            refuse_include_on_v1(self.config.bundles, self._compose_cmd, self.host.name)
            with self.timer.phase("detect"):
                state, live = self._detect()
                claim(self.host.docker(), self.app, self.layout.app_dir)
                target = other(live) if live else FIRST_COLOR
                self.live, self.target = live, target
                self.report.info(f"live color: {live or 'none (first deploy)'}; deploying {target}")
                self._find_switch_mode()
            candidate = self._render(target, live)
            with self.timer.phase("upload"):
                release = self._upload(target)
            return self._switch(Plan(target, live, state, release, "deployed"), candidate)

    def rollback(self) -> Result:
        self._preflight()
        with self._locked():
            self._compose_program = self._background.submit(find_compose, self.host)
            with self.timer.phase("detect"):
                state, live = self._detect()
                self.live = live
                target, release = self._rollback_target(state, live)
                self.target = target
                self.report.info(f"live color: {live or 'none'}; rolling back to {target}")
                self._find_switch_mode()
            candidate = self._render(target, live)
            return self._switch(Plan(target, live, state, release, "rolled-back"), candidate)

    def status(self) -> Result:
        with self.timer.phase("status"):
            state, live = self._detect()
            served = self.check.serving_color(self._recorded_ports())
            if served and served != live:
                self.report.warning(
                    f"nginx serves {served} although its config file routes to {live} (a run was "
                    "interrupted during its switch); the next deploy or rollback puts the file back"
                )
                live = served
            holder = lock_holder(self.host, self.layout) if is_locked(self.host, self.layout) else ""
        return Result(
            command="status",
            status="ok",
            app_name=self.app,
            active_color=live or "",
            previous_color=state.previous_color if state else "",
            image=state.image if state and state.active_color == live else "",
            duration_seconds=self.timer.elapsed(),
            phases=self.timer.phases,
            lock_holder=holder,
            deployed_at=state.deployed_at if state and state.active_color == live else "",
            deployed_by=state.actor if state and state.active_color == live else "",
            certificate_expires=self.check.certificate.expires if self.check.certificate else "",
        )

    def _recorded_ports(self) -> dict[str, int]:
        """Each color's port as its release was started with (the inputs of `status` may differ)."""
        ports = dict(self.config.ports)
        for color in ports:
            release = self.records.release(color)
            recorded = release.environment.get("BLUEGREEN_PORT", "") if release else ""
            if recorded.isdigit():
                ports[color] = int(recorded)
        return ports

    # ---- the steps ----------------------------------------------------------------------

    def _preflight(self) -> None:
        """What would make the switch impossible, refused before anything changes on the host."""
        with self.timer.phase("preflight"):
            self.host.check_tunnels(self.config.http_port)  # the health probes and verification
            check_owner(self.host.docker(), self.app, self.layout.app_dir)
            self.proxy.check()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        holder = {"actor": self.actor, "since": now_iso(), "command": self.config.command}
        lock = DeployLock(self.host, self.layout, self.app)
        with self.timer.phase("lock"):
            lock.acquire(self.config.lock_timeout, holder)
        try:
            yield
        finally:
            lock.release()

    def _detect(self) -> tuple[State | None, str | None]:
        state = self.records.state()
        recorded = state.active_color if state else None
        routed = self._routed_color()
        running = running_colors(self.host.docker(), self.app)
        if self.config.command != "status":
            routed = self._settle_interrupted_switch(routed, recorded, running)
        return state, live_color(routed, recorded, running)

    def _settle_interrupted_switch(
        self, routed: str | None, recorded: str | None, running: set[str]
    ) -> str | None:
        """A run killed during its switch can leave nginx serving one color while its config file
        already routes to the other. What nginx answers from is the truth: the file is rewritten to
        match it, so nothing changes for the traffic. Only when nginx does not say (no upstream
        header in the template) is nginx reloaded to serve what its file says."""
        served = self.check.serving_color(self._recorded_ports())
        if served in running and routed and served != routed:
            self.report.warning(
                f"an earlier run was interrupted during its switch: nginx serves {served}, its config "
                f"file routes to {routed}; the file is put back to route to {served}"
            )
            self._find_switch_mode()
            self.proxy.settle(self._render(served, None))
            return served
        if served is None and routed and recorded and routed != recorded:
            self.report.warning(
                f"an earlier run was interrupted: nginx.conf routes to {routed}, "
                f"the state file says {recorded}"
            )
            self.proxy.reload_if_running()  # nginx serves what its file says before anything changes
        return routed

    def _make_proxy(self) -> Proxy:
        config = self.config
        if config.proxy_container:
            lock_dir = self.layout.app_dir.rsplit("/", 1)[0]
            return UserProxy(
                self.host, self.app, config.proxy_container, config.proxy_config_file, lock_dir, self.report
            )
        return ManagedProxy(
            self.host, self.app, self.layout, config.proxy_image, config.proxy_volumes, self.report,
            self._proxy_compose,
        )  # fmt: skip

    def _routed_color(self) -> str | None:
        try:
            return self.proxy.routed_color()
        except UnreadableFile as exc:
            self.report.warning(f"the live nginx config is unreadable ({exc})")
            return None

    def _routing(self) -> Routing:
        try:
            return self.proxy.routing()
        except UnreadableFile as exc:
            raise BluegreenError(
                f"the live nginx config cannot be read, so nothing was switched: {exc}"
            ) from None

    def _find_switch_mode(self) -> None:
        """Seamless (njs picks the color per request) where the proxy and the template allow it."""
        if self._seamless is not None:
            return
        files = self.proxy.seamless_files()
        self._seamless = files or False
        if files is None:
            self.report.warning(
                "the proxy's nginx has no njs module (ngx_http_js_module): switching with a reload, which "
                "closes keep-alive connections idle at that moment. Use an nginx with njs (Debian: "
                "libnginx-mod-http-js; the official nginx image has it) to switch without closing any"
            )

    def _rollback_target(self, state: State | None, live: str | None) -> tuple[str, Release]:
        """The color the last completed deploy replaced, still kept; refused when that cannot be."""
        unchanged = "; nothing was changed"
        if state is None or not state.previous_color:
            raise BluegreenError(
                f"nothing to roll back to: no completed deploy of {self.app} replaced a color"
                f" (roll back only after a deploy that switched colors){unchanged}"
            )
        target = state.previous_color
        if target == live:
            raise BluegreenError(
                f"nothing to roll back to: {target}, the color the last completed deploy replaced, is "
                f"the live color now (an earlier run was interrupted after its switch); deploy the "
                f"version you want instead{unchanged}"
            )
        release = self.records.release(target)
        kept = {c.id for c in project_containers(self.host.docker(), project_name(self.app, target))}
        if release is None or not release.running or not set(release.running) <= kept:
            raise BluegreenError(
                f"nothing to roll back to: {target} is no longer kept on the host (its containers or "
                f"its release record are gone); deploy the version you want instead{unchanged}"
            )
        return target, release

    def _render(self, target: str, live: str | None) -> Candidate:
        files = self._seamless if isinstance(self._seamless, SeamlessFiles) else None
        route = Route(
            app_name=self.app,
            active_color=target,
            previous_color=live or "",
            upstream_host="127.0.0.1",
            upstream_port=self.config.ports[target],
            listen_port=self.config.http_port,
            switch_variables=template_variables(self.app, self.config.ports, target, files),
        )
        rendered = render_nginx(
            self.config.nginx_template.read_text(), route, str(self.config.nginx_template)
        )
        if UPSTREAM_HEADER not in rendered.lower() and not self._warned_header:
            self._warned_header = True
            self.report.warning(
                "the nginx-template sets no X-Bluegreen-Upstream header: verification after the switch "
                "only sees a 2xx, not that it came from the new color; add "
                "`add_header X-Bluegreen-Upstream $upstream_addr always;` to the location"
            )
        if files is None or not uses_seamless(rendered):
            if files is not None and not self._warned_template:
                self._warned_template = True
                self.report.info(
                    "the nginx-template does not use bluegreen_upstreams / bluegreen_backend: switching "
                    "with a reload (see templates/nginx.conf.j2 for a template that switches seamlessly)"
                )
            return Candidate(mark_route(rendered, target).encode())
        return Candidate(
            (SEAMLESS_MARK + rendered).encode(),
            js=njs_module(self.app, files.active_path).encode(),
            active=active_file(self.app, target),
            holding=active_file(self.app, live) if live else None,
        )

    def _upload(self, target: str) -> Release:
        """The color's files, in a directory of this release's own."""
        layout, bundle = self.layout, self.config.bundles[target]
        release_id = new_release_id()
        files_dir = layout.files_dir(target, release_id)
        roots = [files_dir, layout.shared_dir] if self.config.shared_services else [files_dir]
        parents = {f"{root}/{u.remote}".rsplit("/", 1)[0] for root in roots for u in bundle.uploads}
        dirs = sorted(parents)
        self.host.run(commands.make_dirs(*dirs)).check("creating directories")
        for root in roots:
            for upload in bundle.uploads:
                self.host.write_file(f"{root}/{upload.remote}", upload.local.read_bytes(), mode=upload.mode)
        compose_v1 = self._compose_cmd() == commands.COMPOSE_V1  # the env file's quoting differs
        env_text = env_file_text(self.config.app_env, compose_v1=compose_v1).encode()
        shared = self.config.shared_services
        shared_volumes = bundle.volumes_of(shared)
        live_release = self.records.release(self.live) if self.live else None
        parts = AppData(self.host, layout, self.app, self.report).prepare(
            bundle, target, shared, live_release, bool(self.config.app_env)
        )
        shared_project = project_name(self.app, SHARED)
        overrides = {target: project_override(self.app, shared_project, shared_volumes, parts)}
        if shared:
            overrides[SHARED] = project_override(self.app)
        for owner, override in overrides.items():
            self.host.write_file(layout.env_file(owner), env_text, mode=0o600)
            self.host.write_file(layout.override_file(owner), override.encode())
        return Release(
            color=target,
            release_id=release_id,
            compose_files=tuple(f"{files_dir}/{name}" for name in bundle.compose_files),
            environment=self._environment(target),
            image=self.config.image,
            started_at=now_iso(),
            actor=self.actor,
        )

    def _environment(self, color: str) -> dict[str, str]:
        env = {
            "BLUEGREEN_COLOR": color,
            "BLUEGREEN_PORT": str(self.config.ports[color]),
            "BLUEGREEN_APP": self.app,
            "BLUEGREEN_ENV_FILE": self.layout.env_file(color),
        }
        if self.config.image:
            env["BLUEGREEN_IMAGE"] = self.config.image
        return env

    def _switch(self, plan: Plan, candidate: Candidate) -> Result:
        target, live = plan.target, plan.live
        project = project_name(self.app, target)
        replaced_images = project_images(self.host.docker(), project) if plan.outcome == "deployed" else set()
        try:
            # nginx -t does not need the new color: it runs while the new color starts.
            validation = self._background.submit(self.proxy.validate, candidate)
            with self.timer.phase("start"):
                self._bring_up(plan)
                restore_restart_policies(self.host, self.layout, target)
            with self.timer.phase("health"):
                states = self.gate.wait(
                    target, project, self.config.ports[target], lambda: _fail_early(validation)
                )
            with self.timer.phase("validate"):
                validation.result()
                self.report.info("nginx -t: the new config is valid")
            release = _with_containers(plan.release, states)
            self.records.write_release(release)
        except BaseException:
            self._abandon(plan)
            raise

        previous = self._routing()
        try:
            with self.timer.phase("switch"):
                self.proxy.switch(candidate)
                self.switch_mode = candidate.mode
                self.report.info(
                    "switched seamlessly (no reload)"
                    if candidate.mode == SEAMLESS
                    else "switched with a reload"
                )
            with self.timer.phase("verify"):
                self.check.expect_upstream(self.config.ports[target])
        except BaseException as exc:
            self._switch_back(previous, plan, exc)
            raise

        self.live = target  # verified: from here on the target serves, whatever happens next
        image = release.image or ", ".join(sorted(_references(states)))
        new_state = State(
            active_color=target,
            previous_color=live or "",
            image=image,
            previous_image=(plan.state.image if plan.state and plan.state.active_color == live else ""),
            deployed_at=now_iso(),
            actor=self.actor,
        )
        self._after_switch(plan, new_state, release, replaced_images)
        return Result(
            command=self.config.command,
            status=plan.outcome,
            app_name=self.app,
            active_color=target,
            previous_color=live or "",
            image=image,
            duration_seconds=self.timer.elapsed(),
            phases=self.timer.phases,
            deployed_at=new_state.deployed_at,
            deployed_by=self.actor,
            certificate_expires=self.check.certificate.expires if self.check.certificate else "",
            switch_mode=self.switch_mode,
        )

    def _bring_up(self, plan: Plan) -> None:
        if plan.outcome == "rolled-back":
            self._touched_target = True
            start_containers(self.host.docker(), plan.release.running)
            return
        ensure_network(self.host.docker(), app_network(self.app), self.app)
        shared = self.config.shared_services
        if shared:
            self.host.run(self._shared_compose(plan.release).up_only(*shared)).check(
                "starting the shared services"
            )
        compose = self._compose(plan.release)
        own = [s for s in self.config.bundles[plan.target].services if s not in shared] if shared else []
        self.host.run(compose.pull(*own)).check(f"pulling the images of {plan.target}")
        if self.config.release_command:
            self._run_release_command(compose, self.config.release_command)
        self._touched_target = True  # from here on the kept containers of the target are replaced
        self.host.run(compose.up(*own, no_deps=bool(shared))).check(f"starting {plan.target}")

    def _run_release_command(self, compose: Compose, release: ReleaseCommand) -> None:
        """Before the new color starts; a one-off container, so the kept containers stay as they are."""
        self.report.info(f"release command: {release}")
        result = self.host.run(compose.run_once(release.service, release.argv), timeout=RELEASE_TIMEOUT)
        output = "\n".join(part.strip() for part in (result.stdout, result.stderr) if part.strip())
        if not result.ok:
            raise RemoteCommandError("the release command", str(release), result.exit_code, output)
        for line in output.splitlines()[-15:]:
            self.report.info(f"release command: {printable(line, 500)}")

    def _after_switch(
        self, plan: Plan, new_state: State, release: Release, replaced_images: set[str]
    ) -> None:
        """Record, drain, stop the old color, clean up. A failure here is reported as what it is:
        the switch stands (the target serves and is recorded); the old color may still run."""
        step = "record"
        try:
            with self.timer.phase("record"):
                self.records.write_state(new_state)
                self.records.audit(_audit_entry(new_state, self.config.command, plan.outcome))
            if plan.live:
                step = "drain"
                with self.timer.phase("drain"):
                    self._drain(plan.live)
                step = "stop-old"
                with self.timer.phase("stop-old"):
                    if plan.live == plan.target:  # never stop the color just switched to
                        raise BluegreenError(f"refusing to stop {plan.live}: it is the color now serving")
                    stop_color(self.host, self.layout, self.app, plan.live)
            step = "cleanup"
            self._remove_older_releases(release)  # not before the switch: it would wait on this
            self._remove_unused(replaced_images)
        except BaseException as exc:
            old = f"; {plan.live} may still run (the next deploy replaces it)" if plan.live else ""
            recorded = "" if step == "record" else " and recorded"
            raise BluegreenError(
                f"{step} failed after the switch: {exc}. {plan.target} serves (verified{recorded}){old}"
            ) from None

    def _abandon(self, plan: Plan) -> None:
        """Before the switch: take the target away again, leaving nginx and the live color alone."""
        self.proxy.discard()
        if not self._touched_target:
            return
        project = project_name(self.app, plan.target)
        try:
            if plan.outcome == "rolled-back":  # keep the kept color kept: stop it, never remove it
                self.report.warning(
                    f"stopping {plan.target} again; nginx and the live color were not touched"
                )
                stop_color(self.host, self.layout, self.app, plan.target)
            else:
                self.report.warning(f"tearing down {plan.target}; nginx and the live color were not touched")
                remove_project(self.host.docker(), project)
        except Exception as exc:
            self.report.warning(f"could not take {plan.target} away again: {exc}")

    def _drain(self, color: str) -> None:
        """Wait (up to drain-timeout) until nothing is in flight to a color nginx no longer routes to:
        the workers of an old config have exited, and in seamless mode no connection to its port
        is left open."""
        started = time.monotonic()
        self.proxy.drain(self.config.drain_timeout)
        if self.switch_mode == SEAMLESS:
            left = max(self.config.drain_timeout - (time.monotonic() - started), 0.5)
            wait_for_no_connections(self.host, self.config.ports[color], left, self.report)

    def _switch_back(self, previous: Routing, plan: Plan, cause: BaseException) -> None:
        self.report.warning("switching nginx back to the previous config")
        try:
            self.proxy.restore(previous)
        except BaseException as exc:
            self.live = self.check.serving_color(self.config.ports)
            raise BluegreenError(
                f"{cause}; then switching nginx back failed ({exc}): nginx may serve either color, so "
                f"both {plan.target} and {plan.live or 'the old color'} are left running. Check "
                f"{self.proxy.live_config} and `docker logs` of the proxy, then deploy again"
            ) from None
        self._drain(plan.target)  # requests that reached the target before the switch-back finish
        self._abandon(plan)

    def _remove_older_releases(self, release: Release) -> None:
        """The target's earlier files: its containers now run from this release's."""
        folder = self.layout.releases_dir(release.color)
        data = data_paths(self.config.bundles[release.color]) if self.config.bundles else ()
        result = self.host.run(commands.remove_older_releases(folder, release.release_id, data))
        for kept in kept_releases(result.stdout):
            self.report.warning(
                f"kept the older release {kept}: it holds what the app wrote; move that into "
                f'{self.layout.data_dir} (see the README, "Where your app\'s data lives") or remove it'
            )
        if not result.ok:
            self.report.warning(
                f"could not remove older releases in {folder}: {printable(result.stderr.strip(), 500)}"
            )

    def _remove_unused(self, images: set[str]) -> None:
        """Best effort: the deploy succeeded whether or not old images could be removed."""
        try:
            removed = remove_unused_images(self.host.docker(), images)
        except Cancelled:
            raise
        except Exception as exc:
            self.report.warning(f"could not remove old images: {printable(str(exc), 500)}")
            return
        if removed:
            self.report.info(f"removed images no container uses any more: {', '.join(removed)}")

    # ---- compose ------------------------------------------------------------------------

    def _compose_cmd(self) -> tuple[str, ...]:
        if self._compose_program is None:
            self._compose_program = self._background.submit(find_compose, self.host)
        return self._compose_program.result()

    def _compose(self, release: Release) -> Compose:
        return color_compose(self._compose_cmd(), self.app, self.layout, release)

    def _shared_compose(self, release: Release) -> Compose:
        bundle = self.config.bundles[release.color]
        files = tuple(f"{self.layout.shared_dir}/{name}" for name in bundle.compose_files)
        env = {**release.environment, "BLUEGREEN_ENV_FILE": self.layout.env_file(SHARED)}
        return Compose(
            self._compose_cmd(),
            project_name(self.app, SHARED),
            (*files, self.layout.override_file(SHARED)),
            env,
        )

    def _proxy_compose(self) -> Compose:
        return Compose(
            self._compose_cmd(), f"{self.app}-proxy", (f"{self.layout.proxy_dir}/compose.yml",), {}
        )

    def _logs_hint(self, project: str) -> str:
        return f" (see `{' '.join(self._compose_cmd())} -p {project} logs`)"


def color_compose(program: tuple[str, ...], app: str, layout: Layout, release: Release) -> Compose:
    """The compose project of one color, exactly as its release record says it was started."""
    files = (*release.compose_files, layout.override_file(release.color))
    return Compose(program, project_name(app, release.color), files, release.environment)


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


def _references(states: list[ContainerState]) -> set[str]:
    return {s.image_reference for s in states if s.image_reference and not s.finished_task}


def _audit_entry(state: State, command: str, outcome: str) -> dict[str, str]:
    return {
        "time": state.deployed_at,
        "actor": state.actor,
        "command": command,
        "result": outcome,
        "from": state.previous_color,
        "to": state.active_color,
        "image": state.image,
    }


def run_command(config: Config, host: Host, reporter: Reporter, timer: Timer | None = None) -> Result:
    deployment = Deployment(config, host, reporter, timer)
    commands_by_name: dict[str, Callable[[], Result]] = {
        "deploy": deployment.deploy,
        "rollback": deployment.rollback,
        "status": deployment.status,
    }
    try:
        return commands_by_name[config.command]()
    except Failure as exc:
        exc.live_color, exc.target_color = deployment.live or "", deployment.target or ""
        raise
    except Exception as exc:
        engine_error = docker_engine_error(exc, host.name)
        if engine_error is None:
            raise
        engine_error.live_color, engine_error.target_color = deployment.live or "", deployment.target or ""
        raise engine_error from None
    finally:
        deployment.close()


def docker_engine_error(exc: Exception, host_name: str) -> BluegreenError | None:
    """An error answer of the host's Docker engine, as one clear error (None for anything else)."""
    import docker.errors

    if not isinstance(exc, docker.errors.DockerException):
        return None
    return BluegreenError(f"the Docker engine on {host_name} answered with an error: {printable(str(exc))}")
