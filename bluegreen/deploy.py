"""The routine: lock, detect, upload, start, health gate, switch, verify, drain, stop, record.

Everything before the switch leaves nginx and the live color untouched; a failure there tears down
the new color. A failed verification after the switch puts the old config back.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from bluegreen import commands
from bluegreen.colors import FIRST_COLOR, live_color, mark_route, other, project_name, routed_color
from bluegreen.commands import Compose
from bluegreen.config import Config, env_file_text
from bluegreen.containers import (
    ContainerState,
    project_images,
    project_states,
    remove_unused_images,
    run_healthcheck,
    running_colors,
    startup_verdict,
)
from bluegreen.errors import BluegreenError
from bluegreen.health import Answer, backoff, http_get
from bluegreen.host import CommandResult, Held, Host
from bluegreen.layout import Layout, resolve_remote_dir
from bluegreen.progress import Reporter, Timer
from bluegreen.proxy import Proxy
from bluegreen.render import Route, proxy_compose, render_nginx
from bluegreen.state import State

VERIFY_TIMEOUT = 5.0
UPSTREAM_HEADER = "x-bluegreen-upstream"


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
        self.proxy = Proxy(host, self.app, self.layout, config.proxy_image, reporter, self._proxy_compose)
        self._compose_program: Future[tuple[str, ...]] | None = None
        self._background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bluegreen")

    def close(self) -> None:
        self._background.shutdown(wait=False, cancel_futures=True)

    # ---- the commands -------------------------------------------------------------------

    def deploy(self) -> Result:
        with self._locked():
            self._compose_program = self._background.submit(self._find_compose)  # while detecting
            with self.timer.phase("detect"):
                state, live = self._detect()
                target = other(live) if live else FIRST_COLOR
                self.live, self.target = live, target
                self.report.info(f"live color: {live or 'none (first deploy)'}; deploying {target}")
            candidate = self._render(target, live)
            with self.timer.phase("upload"):
                self._upload(target)
            return self._switch(target, live, state, self.config.image, candidate, "deployed")

    def rollback(self) -> Result:
        with self._locked():
            self._compose_program = self._background.submit(self._find_compose)  # while detecting
            with self.timer.phase("detect"):
                state, live = self._detect()
                if state is None or not live or not state.previous_color:
                    raise BluegreenError(
                        f"nothing to roll back to: {self.app} has no previous color recorded "
                        "(roll back only after a deploy that switched colors)"
                    )
                target = state.previous_color
                self.live, self.target = live, target
                self.report.info(f"live color: {live}; rolling back to {target}")
            candidate = self._render(target, live)
            return self._switch(target, live, state, state.previous_image, candidate, "rolled-back")

    def status(self) -> Result:
        with self.timer.phase("status"):
            state, live = self._detect()
            holder = self.host.read_file(self.layout.lock_holder_file)
            locked = self.host.run(["flock", "--nonblock", self.layout.lock_file, "true"])
        return Result(
            command="status",
            status="ok",
            app_name=self.app,
            active_color=live or "",
            previous_color=state.previous_color if state else "",
            image=state.image if state else "",
            duration_seconds=self.timer.elapsed(),
            phases=self.timer.phases,
            lock_holder=(holder or b"").decode().strip() if not locked.ok else "",
            deployed_at=state.deployed_at if state else "",
        )

    # ---- the steps ----------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.host.run(commands.make_dirs(self.layout.app_dir)).check("creating the app directory")
        wait = self.config.lock_timeout
        with self.timer.phase("lock"):
            held = self.host.hold(
                commands.take_lock(self.layout.lock_file, wait), commands.LOCK_ACQUIRED, wait
            )
        if isinstance(held, CommandResult):
            if held.exit_code == 75:
                holder = (self.host.read_file(self.layout.lock_holder_file) or b"unknown").decode()
                raise BluegreenError(
                    f"another deploy of {self.app} holds the lock after {wait:g} s (lock-timeout): "
                    f"{holder.strip()}; wait for it to finish or raise lock-timeout"
                )
            held.check("taking the deploy lock (needs `flock` on the host)")
            raise BluegreenError("taking the deploy lock failed")
        try:
            holder_info = {"actor": self.actor, "since": now_iso(), "command": self.config.command}
            self.host.write_file(self.layout.lock_holder_file, json.dumps(holder_info).encode())
            yield
        finally:
            _release(held)

    def _detect(self) -> tuple[State | None, str | None]:
        raw = self.host.read_file(self.layout.state_file)
        state = State.from_json(raw) if raw else None
        recorded = state.active_color if state else None
        routed = routed_color(self.host.read_file(self.layout.live_config))
        running = running_colors(self.host.docker(), self.app)
        live = live_color(routed, recorded, running)
        if routed and recorded and routed != recorded and self.config.command != "status":
            self.report.warning(
                f"an earlier run was interrupted: nginx.conf routes to {routed}, "
                f"the state file says {recorded}"
            )
            proxy = self.proxy.running()
            if proxy:  # make sure nginx serves what its config file says before anything changes
                self.proxy.reload(proxy)
        return state, live

    def _render(self, target: str, live: str | None) -> str:
        route = Route(
            app_name=self.app,
            active_color=target,
            previous_color=live or "",
            upstream_host="127.0.0.1",
            upstream_port=self.config.ports[target],
            listen_port=self.config.http_port,
        )
        rendered = render_nginx(
            self.config.nginx_template.read_text(), route, str(self.config.nginx_template)
        )
        return mark_route(rendered, target)

    def _upload(self, target: str) -> None:
        layout = self.layout
        dirs = (layout.color_dir(target), layout.nginx_dir, layout.proxy_dir)
        self.host.run(commands.make_dirs(*dirs)).check("creating directories")
        for local in self.config.compose_files[target]:
            self.host.write_file(f"{layout.color_dir(target)}/{local.name}", local.read_bytes())
        self.host.write_file(layout.env_file(target), env_file_text(self.config.app_env).encode(), mode=0o600)
        proxy_file = proxy_compose(self.config.proxy_image, layout.nginx_dir, self.app)
        self.host.write_file(f"{layout.proxy_dir}/compose.yml", proxy_file.encode())

    def _switch(
        self,
        target: str,
        live: str | None,
        state: State | None,
        image: str,
        candidate: str,
        outcome: str,
    ) -> Result:
        target_project = self._compose(target, image)
        replaced_images = project_images(self.host.docker(), project_name(self.app, target))
        try:
            self.host.write_file(self.layout.next_config, candidate.encode())
            proxy = self.proxy.running()
            # nginx -t does not need the new color: it runs while the new color starts.
            validation = self._background.submit(self.proxy.test_next_config, proxy)
            with self.timer.phase("start"):
                if outcome == "deployed":
                    self.host.run(target_project.pull()).check(f"pulling the images of {target}")
                self.host.run(target_project.up()).check(f"starting {target}")
            with self.timer.phase("health"):
                self._wait_healthy(target, validation)
            with self.timer.phase("validate"):
                validation.result()
                self.report.info("nginx -t: the new config is valid")
        except BaseException:
            self._tear_down(target_project, target)
            raise

        previous_config = self.host.read_file(self.layout.live_config)
        try:
            with self.timer.phase("switch"):
                self.host.rename(self.layout.next_config, self.layout.live_config)
                self.proxy.reload(proxy)
            with self.timer.phase("verify"):
                self._verify_through_nginx(target)
        except BaseException:
            self._switch_back(previous_config, target_project, target)
            raise

        if live:
            with self.timer.phase("drain"):
                self.proxy.drain(self.config.drain_timeout)
            with self.timer.phase("stop-old"):
                live_image = state.image if state else ""
                self.host.run(self._compose(live, live_image).stop()).check(f"stopping {live}")
        new_state = State(
            active_color=target,
            previous_color=live or "",
            image=image,
            previous_image=(state.image if state else ""),
            deployed_at=now_iso(),
            actor=self.actor,
        )
        with self.timer.phase("record"):
            self.host.write_file(self.layout.state_file, new_state.to_json())
            self._audit(new_state, outcome)
            self._remove_unused(replaced_images)
        return Result(
            command=self.config.command,
            status=outcome,
            app_name=self.app,
            active_color=target,
            previous_color=live or "",
            image=image,
            duration_seconds=self.timer.elapsed(),
            phases=self.timer.phases,
            deployed_at=new_state.deployed_at,
        )

    def _wait_healthy(self, color: str, validation: Future[None]) -> None:
        port = self.config.ports[color]
        project = project_name(self.app, color)
        deadline = time.monotonic() + self.config.health_timeout
        last = "no probe yet"
        for delay in backoff(0.05, 1.5, 0.25):
            if validation.done():
                validation.result()  # a rejected config fails now, not after the app has started
            states = project_states(self.host.docker(), project)
            fatal, waiting = startup_verdict(states)
            if fatal:
                raise BluegreenError(f"{color} did not start: {fatal}{self._logs_hint(project)}")
            answer = self._probe(port)
            healthy = isinstance(answer, Answer) and answer.ok
            if healthy and (waiting is None or self._healthchecks_pass(states)):
                self.report.info(f"{color} healthy: GET {self.config.health_path} -> {answer}")
                return
            probed = f"HTTP {answer.status}" if isinstance(answer, Answer) else answer
            last = f"{probed}; {waiting}" if waiting else probed
            if time.monotonic() + delay > deadline:
                raise BluegreenError(
                    f"{color} was not healthy within {self.config.health_timeout:g} s (health-timeout): "
                    f"GET 127.0.0.1:{port}{self.config.health_path}: {last}{self._logs_hint(project)}"
                )
            time.sleep(delay)

    def _healthchecks_pass(self, states: list[ContainerState]) -> bool:
        """Docker runs a compose healthcheck only every `interval` (30 s by default); while it still
        says "starting", run the same check now. "unhealthy" is never overruled."""
        if any(s.status != "running" or s.health == "unhealthy" for s in states):
            return False
        starting = [s for s in states if s.health == "starting"]
        if all(run_healthcheck(self.host.docker(), s) for s in starting):
            self.report.info(f"compose healthcheck passed in {len(starting)} container(s) (run by bluegreen)")
            return True
        return False

    def _probe(self, port: int, path: str | None = None) -> Answer | str:
        try:
            return http_get(lambda: self.host.connect_tcp(port, 5), path or self.config.health_path, 5)
        except (OSError, EOFError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except Exception as exc:  # http.client raises its own hierarchy for bad responses
            return f"{type(exc).__name__}: {exc}"

    def _logs_hint(self, project: str) -> str:
        return f" (see `{' '.join(self._compose_cmd())} -p {project} logs`)"

    def _verify_through_nginx(self, target: str) -> None:
        port = self.config.http_port
        expected = f":{self.config.ports[target]}"
        deadline = time.monotonic() + VERIFY_TIMEOUT
        last = "no answer yet"
        for delay in backoff(0.05):
            answer = self._probe(port)
            if isinstance(answer, Answer):
                upstream = answer.headers.get(UPSTREAM_HEADER)
                if answer.ok and (upstream is None or upstream.endswith(expected)):
                    via = f" from upstream {upstream}" if upstream else ""
                    self.report.info(f"nginx answers {answer.status}{via}")
                    return
                last = f"HTTP {answer.status}" + (f" from upstream {upstream}" if upstream else "")
            else:
                last = answer
            if time.monotonic() + delay > deadline:
                raise BluegreenError(
                    f"verification through nginx (127.0.0.1:{port}{self.config.health_path}) failed "
                    f"after the switch: {last}"
                )
            time.sleep(delay)

    def _tear_down(self, project: Compose, color: str) -> None:
        self.report.warning(f"tearing down {color}; nginx and the live color were not touched")
        self.host.run(commands.remove(self.layout.next_config))
        result = self.host.run(project.down())
        if not result.ok:
            self.report.warning(f"could not tear down {color}: {result.stderr.strip()[-500:]}")

    def _switch_back(self, previous_config: bytes | None, project: Compose, color: str) -> None:
        self.report.warning("switching nginx back to the previous config")
        try:
            if previous_config is None:
                self.host.run(self._proxy_compose().stop())
            else:
                self.host.write_file(self.layout.live_config, previous_config)
                self.proxy.reload(self.proxy.running())
        finally:
            self._tear_down(project, color)

    def _remove_unused(self, images: set[str]) -> None:
        """Best effort: the deploy succeeded whether or not old images could be removed."""
        try:
            removed = remove_unused_images(self.host.docker(), images)
        except Exception as exc:
            self.report.warning(f"could not remove old images: {exc}")
            return
        if removed:
            self.report.info(f"removed images no container uses any more: {', '.join(removed)}")

    def _audit(self, state: State, outcome: str) -> None:
        entry = {
            "time": state.deployed_at,
            "actor": self.actor,
            "command": self.config.command,
            "result": outcome,
            "from": state.previous_color,
            "to": state.active_color,
            "image": state.image,
        }
        self.host.append_file(self.layout.audit_log, (json.dumps(entry) + "\n").encode())

    # ---- compose ------------------------------------------------------------------------

    def _compose_cmd(self) -> tuple[str, ...]:
        if self._compose_program is None:
            self._compose_program = self._background.submit(self._find_compose)
        return self._compose_program.result()

    def _find_compose(self) -> tuple[str, ...]:
        for program in (commands.COMPOSE_V2, commands.COMPOSE_V1):
            if self.host.run(commands.compose_version(program)).ok:
                return program
        raise BluegreenError(
            f"neither `docker compose` nor `docker-compose` works on {self.host.name}; "
            "install Docker Compose there"
        )

    def _compose(self, color: str, image: str) -> Compose:
        return color_compose(self.config, self.layout, self._compose_cmd(), color, image)

    def _proxy_compose(self) -> Compose:
        return Compose(
            self._compose_cmd(), f"{self.app}-proxy", (f"{self.layout.proxy_dir}/compose.yml",), {}
        )


def color_compose(
    config: Config, layout: Layout, program: tuple[str, ...], color: str, image: str
) -> Compose:
    """The compose project of one color: its files in its own directory, color and port as environment."""
    env = {
        "BLUEGREEN_COLOR": color,
        "BLUEGREEN_PORT": str(config.ports[color]),
        "BLUEGREEN_APP": config.app_name,
        "BLUEGREEN_ENV_FILE": layout.env_file(color),
    }
    if image:
        env["BLUEGREEN_IMAGE"] = image
    files = tuple(f"{layout.color_dir(color)}/{path.name}" for path in config.compose_files[color])
    return Compose(program, project_name(config.app_name, color), files, env)


def _release(held: Held) -> None:
    with suppress(OSError, EOFError):
        held.close()


def run_command(config: Config, host: Host, reporter: Reporter, timer: Timer | None = None) -> Result:
    deployment = Deployment(config, host, reporter, timer)
    try:
        if config.command == "deploy":
            return deployment.deploy()
        if config.command == "rollback":
            return deployment.rollback()
        return deployment.status()
    except BluegreenError as exc:
        exc.live_color, exc.target_color = deployment.live or "", deployment.target or ""
        raise
    finally:
        deployment.close()
