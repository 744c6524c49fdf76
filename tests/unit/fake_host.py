"""A fake Host, in memory, for driving bluegreen's real routine through its error paths.

It implements the whole `bluegreen.host.Host` protocol and records what the routine does:

- `run` records every argv and answers from a small script of what bluegreen runs on a server
  (`mkdir`, `rm`, `find`, `flock --nonblock`, compose `version`/`pull`/`up`/`stop`/`down`/`run`,
  `nginx -t`); compose `up` creates running containers for its project (`--no-start`: created
  only), `stop`/`down` stop or remove them, `run` prints what it ran (its one-off is gone, as
  with --rm). Any other argv exits 127 and lands in `unscripted`. `fail_command` makes a chosen argv
  fail. `mktemp -d` and `docker login`/`logout` with a DOCKER_CONFIG model a registry login
  (`registry_password`).
- `hold` takes the deploy lock (a `FakeHeld`), or answers exit 75 when another deploy holds it.
- files live in `files` (path -> bytes); every write, append and rename target is listed in `writes`.
- `connect_tcp` answers HTTP/1.1 per port: a color's port answers 200 while that color's project
  has a running container (else the connection is refused); the proxy port answers from the color
  the nginx container *loaded* (the `# bluegreen-active-color:` line of the live nginx.conf when
  nginx started or last got a HUP): 200 with `X-Bluegreen-Upstream: 127.0.0.1:<that color's port>`
  while that color runs, 502 otherwise. With `njs` set, bluegreen switches seamlessly: the color
  is the one the active-color file names at the request, at the port the loaded config gives it
  (502 unless that color runs and listens there, per `ports`). `answers[port]` overrides a port's
  answer.
- with `njs = True` the proxy's nginx has njs (seamless mode): a seamless config's nginx routes to
  the color the active-color file names, as nginx's workers read it (`unreadable_by_nginx` paths
  are denied to them), else to the last color they read (`njs_memory`), as bluegreen's njs module
  does; `docker exec` as the worker user (`worker_ids`) and the host's `stat` are scripted.
- `docker()` is a `FakeDocker`: exactly the surface of docker-py that bluegreen uses, with
  `FakeDocker.fail` to make one operation raise (a docker.errors.APIError, say).
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import itertools
import posixpath
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import docker.errors
import yaml

from bluegreen import commands
from bluegreen.errors import UnreadableFile
from bluegreen.host import READ_LIMIT, CommandResult, Held
from bluegreen.render import PROXY_CONFIG_DIR
from bluegreen.routing import color_of_active_file
from bluegreen.switch_file import WORKER_IDS_SCRIPT

HOME = "/home/deploy"
NJS_MODULE = "/etc/nginx/modules/ngx_http_js_module.so"
NGINX_WORKER = "101:101"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
ROUTE_MARK = b"# bluegreen-active-color: "
SEAMLESS_MARK = b"# bluegreen-switch: seamless"
TOP_TITLES = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
MUTATIONS = frozenset({"start", "stop", "remove", "kill", "create", "network-create", "volume-create"})
"""FakeDocker operations that change the engine (`calls` ops); the rest only read."""


def routed_by(config: bytes | None) -> str | None:
    """The color a rendered nginx.conf routes to, from its first line (colors.mark_route)."""
    first = (config or b"").split(b"\n", 1)[0]
    return first.removeprefix(ROUTE_MARK).decode().strip() if first.startswith(ROUTE_MARK) else None


# ---- HTTP over a fake stream -------------------------------------------------------------------


class FakeStream:
    """A connected stream holding one canned HTTP/1.1 response (http.client reads it via makefile)."""

    def __init__(self, response: bytes) -> None:
        self._response = io.BytesIO(response)
        self.sent = b""
        self.closed = False

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def recv(self, size: int) -> bytes:
        return self._response.read(size)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BytesIO:
        return self._response

    def settimeout(self, timeout: float | None) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def http_response(status: int, headers: dict[str, str] | None = None, body: bytes = b"ok") -> bytes:
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode() + body


# ---- the Docker engine -------------------------------------------------------------------------


@dataclass
class Failure:
    """Makes FakeDocker operation `op` raise `exc` (for containers of `project` only, if given;
    only while `when()` is true, if given)."""

    op: str
    exc: BaseException
    project: str | None = None
    when: Callable[[], bool] | None = None

    def applies(self, op: str, project: str | None) -> bool:
        return (
            op == self.op
            and (self.project is None or project == self.project)
            and (self.when is None or self.when())
        )


@dataclass
class Worker:
    pid: int
    polls_left: int | None = None
    """None: serving. A number: shutting down, gone after that many more `top()` calls."""


class FakeContainer:
    """One container: docker-py's Container surface that bluegreen uses (attrs, start, stop, ...)."""

    def __init__(self, engine: FakeDocker, project: str, service: str, image: str, number: int) -> None:
        self._engine = engine
        self.id = hashlib.sha256(f"{project}/{service}/{next(engine.serial)}".encode()).hexdigest()
        self.short_id = self.id[:12]
        self.name = f"{project}-{service}-{number}"
        self.project, self.service, self.image = project, service, image
        self.status = "created"
        self.exit_code = 0
        self.workers: list[Worker] = []
        self.loaded: bytes | None = None
        """nginx only: the config it runs (read at start and at each HUP)."""
        self.labels: dict[str, str] = {}
        """Labels besides the compose project and service."""
        self.created = f"2026-12-06T10:00:00.{next(engine.serial):06d}Z"
        self.bind_mounts: list[dict[str, Any]] = []
        """Docker's `Mounts` (bind mounts, their paths cleaned as Docker stores them)."""
        self.sees_folder = True
        """nginx only: whether the mounted config directory is the one on the host now (False: it
        was removed and made again, and the container sees an empty folder)."""
        self.restart_policy: dict[str, Any] = {"Name": "unless-stopped"}
        self.restarts = 0
        self.log = f"{self.name} log line\n"
        self.quitting = False

    @property
    def is_nginx(self) -> bool:
        return self.service == "nginx"

    @property
    def attrs(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Name": f"/{self.name}",
            "Image": "sha256:" + hashlib.sha256(self.image.encode()).hexdigest(),
            "Created": self.created,
            "RestartCount": self.restarts,
            "Mounts": self.bind_mounts,
            "State": {"Status": self.status, "ExitCode": self.exit_code},
            "Config": {
                "Image": self.image,
                "Labels": {PROJECT_LABEL: self.project, SERVICE_LABEL: self.service, **self.labels},
            },
            "HostConfig": {"RestartPolicy": dict(self.restart_policy)},
        }

    def start(self) -> None:
        self._engine.act("start", self)
        self._run()

    def _run(self) -> None:
        self.status, self.exit_code, self.quitting = "running", 0, False
        if self.is_nginx:
            self.loaded = self._engine.live_config() if self.sees_folder else None
            if self._engine.cannot_listen(self):
                self.status, self.restarts, self.workers = "restarting", self.restarts + 1, []
                self.log = "nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)\n"
                return
            self.workers = [self._engine.worker(), self._engine.worker()]

    def reload(self) -> None:
        """docker-py's refresh of attrs: the fake's are always current."""

    def update(self, restart_policy: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self._engine.act("update", self)
        if restart_policy is not None:
            self.restart_policy = dict(restart_policy)

    def stop(self, timeout: int = 10) -> None:
        self._engine.act("stop", self)
        if self.status in ("running", "restarting"):
            self.status, self.exit_code, self.workers = "exited", 0, []
            self._engine.note_proxies()

    def remove(self, force: bool = False) -> None:
        self._engine.act("remove", self)
        self._engine.all.remove(self)
        self._engine.note_proxies()

    @property
    def accepts(self) -> bool:
        """nginx only: its listening sockets are open (it runs and has not been told to quit)."""
        return self.status == "running" and not self.quitting and bool(self.workers)

    def kill(self, signal: str | int | None = None) -> None:
        self._engine.act("kill", self)
        if self.is_nginx and signal == "HUP" and self.status == "running":
            # the master re-reads its config file, tells the old workers to quit, starts new ones
            self.loaded = self._engine.live_config()
            for worker in self.workers:
                worker.polls_left = 2 if worker.polls_left is None else worker.polls_left
            self.workers += [self._engine.worker(), self._engine.worker()]
        if self.is_nginx and signal == "QUIT" and self.status == "running":
            # graceful quit: the listening sockets close at once, the workers finish, then nginx exits
            self.quitting = True
            for worker in self.workers:
                worker.polls_left = 2 if worker.polls_left is None else worker.polls_left
            self._engine.note_proxies()

    def top(self) -> dict[str, Any]:
        self._engine.act("top", self)
        rows = [["root", "1", "0", "0", "10:00", "?", "00:00:00", "nginx: master process nginx"]]
        for worker in self.workers:
            cmd = "nginx: worker process" + (" is shutting down" if worker.polls_left is not None else "")
            rows.append(["101", str(worker.pid), "1", "0", "10:00", "?", "00:00:00", cmd])
        for worker in list(self.workers):  # an old worker exits once its requests are done
            if worker.polls_left is not None:
                worker.polls_left -= 1
                if worker.polls_left <= 0:
                    self.workers.remove(worker)
        if self.quitting and not self.workers:
            self.status, self.quitting = "exited", False
            if (
                self.restart_policy.get("Name") != "no"
            ):  # Docker starts a container that exited on its own again
                self._run()
            self._engine.note_proxies()
        return {"Titles": TOP_TITLES, "Processes": rows}

    def logs(self, tail: int | str = "all", **kwargs: Any) -> bytes:
        self._engine.act("logs", self)
        return self.log.encode()


class _Containers:
    def __init__(self, engine: FakeDocker) -> None:
        self._engine = engine

    def list(self, all: bool = False, filters: dict[str, Any] | None = None) -> list[FakeContainer]:
        self._engine.act("list", None)
        found = [c for c in self._engine.all if all or c.status == "running"]
        for key, value in (filters or {}).items():
            if key == "label":
                name, _, wanted = str(value).partition("=")
                found = [c for c in found if c.attrs["Config"]["Labels"].get(name) == wanted]
            elif key == "ancestor":
                found = [c for c in found if c.image == value]
            else:
                raise AssertionError(f"the fake does not filter by {key}")
        return found

    def get(self, key: str) -> FakeContainer:
        self._engine.act("get", None)
        for container in self._engine.all:
            if key in (container.id, container.name) or (len(key) >= 12 and container.id.startswith(key)):
                return container
        raise docker.errors.NotFound(f"404 Client Error: Not Found (No such container: {key})")


class _Api:
    """client.api: the exec calls a compose healthcheck run needs (every check passes)."""

    def __init__(self, engine: FakeDocker) -> None:
        self._engine = engine

    def exec_create(self, container: str, cmd: Sequence[str], **kwargs: Any) -> dict[str, str]:
        self._engine.act("exec", None)
        return {"Id": f"exec-{next(self._engine.serial)}"}

    def exec_start(self, exec_id: str, detach: bool = False) -> None:
        pass

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        return {"Running": False, "ExitCode": 0}


@dataclass
class FakeVolume:
    name: str
    attrs: dict[str, Any]


class _Volumes:
    def __init__(self, engine: FakeDocker) -> None:
        self._engine = engine
        self.by_name: dict[str, FakeVolume] = {}

    def get(self, name: str) -> FakeVolume:
        self._engine.act("volume-get", None)
        if name not in self.by_name:
            raise docker.errors.NotFound(f"404 Client Error: Not Found (get {name}: no such volume)")
        return self.by_name[name]

    def create(self, name: str, labels: dict[str, str] | None = None, **kwargs: Any) -> FakeVolume:
        """As Docker: creating a volume that exists changes nothing (its labels stay)."""
        self._engine.act("volume-create", None)
        return self.by_name.setdefault(name, FakeVolume(name, {"Name": name, "Labels": dict(labels or {})}))


class _Networks:
    def __init__(self, engine: FakeDocker) -> None:
        self._engine = engine
        self.names: list[str] = []

    def list(self, names: Sequence[str] | None = None, **kwargs: Any) -> list[str]:
        self._engine.act("network-list", None)
        return [n for n in self.names if names is None or n in names]

    def create(self, name: str, **kwargs: Any) -> str:
        self._engine.act("network-create", None)
        self.names.append(name)
        return name


class _Images:
    def __init__(self, engine: FakeDocker) -> None:
        self._engine = engine
        self.removed: list[str] = []

    def get(self, image: str) -> str:
        """Every image is present on the fake engine (pulls are the compose commands' business)."""
        self._engine.act("image-get", None)
        return image

    def pull(self, image: str, **kwargs: Any) -> str:
        self._engine.act("image-pull", None)
        return image

    def remove(self, image: str, **kwargs: Any) -> None:
        self._engine.act("image-remove", None)
        if any(c.image == image for c in self._engine.all):
            raise docker.errors.APIError(f"409 Client Error: Conflict (image {image} is in use)")
        self.removed.append(image)


class FakeDocker:
    """The Docker engine of the fake host; `calls` lists (op, container name or "") in order."""

    def __init__(self, live_config: Callable[[], bytes | None]) -> None:
        self.live_config = live_config
        """What nginx reads when it starts or gets a HUP."""
        self.all: list[FakeContainer] = []
        self.calls: list[tuple[str, str]] = []
        self.failures: list[Failure] = []
        self.serial = itertools.count(1)
        self._pids = itertools.count(100)
        self.containers = _Containers(self)
        self.api = _Api(self)
        self.volumes = _Volumes(self)
        self.networks = _Networks(self)
        self.images = _Images(self)
        self.busy_ports: set[int] = set()
        """Ports another program holds (nginx cannot listen there). `FakeHost.foreign` also makes
        the port answer on 127.0.0.1."""
        self.proxy_counts: list[int] = []
        """How many proxies accepted connections after each change of a proxy container."""

    def proxies(self) -> list[FakeContainer]:
        return [c for c in self.all if c.is_nginx]

    def note_proxies(self) -> None:
        self.proxy_counts.append(sum(1 for c in self.proxies() if c.accepts))

    def cannot_listen(self, container: FakeContainer) -> bool:
        """As the kernel decides a bind: the port is another program's, or another nginx holds it
        and one of the two does not set reuseport."""
        if self.busy_ports:  # the fake's proxies listen on the app's http port only
            return True
        others = [c for c in self.proxies() if c is not container and c.accepts]
        return bool(others) and any(b"reuseport" not in (c.loaded or b"") for c in [*others, container])

    def fail(
        self, op: str, exc: BaseException, project: str | None = None, when: Callable[[], bool] | None = None
    ) -> None:
        """Make `op` ("list", "get", "start", "stop", "remove", "kill", "top", "volume-create", ...) raise."""
        self.failures.append(Failure(op, exc, project, when))

    def act(self, op: str, container: FakeContainer | None) -> None:
        """Record one call, then raise the failure armed for it, if any."""
        self.calls.append((op, container.name if container else ""))
        project = container.project if container else None
        for failure in self.failures:
            if failure.applies(op, project):
                raise failure.exc

    def worker(self) -> Worker:
        return Worker(next(self._pids))

    def project(self, project: str) -> list[FakeContainer]:
        return [c for c in self.all if c.project == project]

    def statuses(self, project: str) -> list[str]:
        return [c.status for c in self.project(project)]

    def create(self, project: str, service: str, image: str) -> FakeContainer:
        """A container as compose creates it (not started), without recording a call."""
        number = 1 + sum(1 for c in self.all if c.project == project and c.service == service)
        container = FakeContainer(self, project, service, image, number)
        self.all.append(container)
        return container

    def discard(self, project: str) -> None:
        """Remove a project's containers behind bluegreen's back (someone ran `docker rm`)."""
        self.all = [c for c in self.all if c.project != project]

    def ops(self, *names: str) -> list[tuple[str, str]]:
        """The recorded calls of these operations."""
        return [call for call in self.calls if call[0] in names]


# ---- the host ----------------------------------------------------------------------------------


@dataclass
class CommandFailure:
    """An argv containing every one of `tokens` exits `exit_code` with `stderr` (after `effect`)."""

    tokens: tuple[str, ...]
    exit_code: int
    stderr: str
    effect: Callable[[], None] | None = None

    def matches(self, argv: tuple[str, ...]) -> bool:
        return all(token in argv for token in self.tokens)


@dataclass
class FakeHeld:
    """The held lock command; closing it releases the lock."""

    argv: tuple[str, ...]
    closed: bool = False

    def close(self) -> None:
        self.closed = True


@dataclass
class ComposeCall:
    env: dict[str, str]
    project: str
    subcommand: str
    args: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def parse_compose(argv: Sequence[str]) -> ComposeCall | tuple[str, ...] | None:
    """`[env K=V...] docker compose|docker-compose ...`: a project command, the bare rest
    (e.g. ("version",)), or None when argv is no compose command."""
    rest = list(argv)
    env: dict[str, str] = {}
    if rest[:1] == ["env"]:
        rest.pop(0)
        while rest and "=" in rest[0]:
            key, _, value = rest.pop(0).partition("=")
            env[key] = value
    for program in (["docker", "compose"], ["docker-compose"]):
        if rest[: len(program)] == program:
            rest = rest[len(program) :]
            break
    else:
        return None
    if rest[:1] != ["-p"]:
        return tuple(rest)
    project, rest = rest[1], rest[2:]
    files = []
    while rest[:1] == ["-f"]:
        files.append(rest[1])
        rest = rest[2:]
    return ComposeCall(env, project, rest[0], rest[1:], files)


def _mount(volume: str) -> dict[str, Any]:
    """A compose volume line as Docker reports the mount (its paths cleaned)."""
    parts = volume.split(":")
    source, destination = (posixpath.normpath(part) for part in parts[:2])
    return {"Type": "bind", "Source": source, "Destination": destination, "RW": parts[2:] != ["ro"]}


class FakeHost:
    """The whole Host protocol, in memory. See the module docstring."""

    name = "fake-host"
    user = "deploy"

    def __init__(
        self,
        app: str = "shop",
        ports: dict[str, int] | None = None,
        http_port: int = 80,
        services: tuple[str, ...] = ("web",),
        remote_dir: str = "bluegreen",
    ) -> None:
        self.app = app
        self.ports = ports or {"blue": 8081, "green": 8082}
        self.http_port = http_port
        self.services = services
        self.app_dir = f"{HOME}/{remote_dir}/{app}"
        self.live_config_path = f"{self.app_dir}/nginx/nginx.conf"
        self.files: dict[str, bytes] = {}
        self.modes: dict[str, int] = {}
        self.writes: list[str] = []
        self.write_failures: dict[str, BaseException] = {}
        self.read_failures: dict[str, BaseException] = {}
        """path -> what write_file of that path raises (an SFTP failure, say)."""
        self.argvs: list[tuple[str, ...]] = []
        self.unscripted: list[tuple[str, ...]] = []
        self.data_dirs: list[str] = []
        """The data folders commands.make_data_dir was asked to make."""
        self.command_failures: list[CommandFailure] = []
        self.answers: dict[int, tuple[int, dict[str, str]]] = {}
        """port -> (status, headers) answered instead of the modelled answer."""
        self.lock_taken_by_other = False
        self.one_offs: dict[str, str] = {}
        """Named one-off containers left running (name -> their log), for `docker logs/stop/rm`."""
        self.last_one_off = ""
        """The name of the last `compose run --name`."""
        self.registry_password: str | None = None
        """With a password, `docker login` wants it and `compose pull` wants a DOCKER_CONFIG logged in."""
        self.holds: list[FakeHeld] = []
        self.njs = False
        """Whether the proxy's nginx has njs: then bluegreen switches seamlessly (see `_seamless_route`)."""
        self.njs_memory: str | None = None
        """The color the fake nginx's njs last read from the active-color file."""
        self.unreadable_by_nginx: set[str] = set()
        """Host paths nginx's worker processes get "Permission denied" for."""
        self.dir_modes: dict[str, int] = {}
        """Modes of directories, as the host's `stat` reports them (0755 when not listed)."""
        self.engine = FakeDocker(lambda: self.files.get(self.live_config_path))
        self._lock = threading.Lock()  # the routine runs compose discovery and nginx -t on threads

    # ---- scripting and reading back -----------------------------------------------------------

    def fail_command(
        self, *tokens: str, exit_code: int = 1, stderr: str = "", effect: Callable[[], None] | None = None
    ) -> None:
        """Make the argvs containing all `tokens` exit non-zero (running `effect` first)."""
        self.command_failures.append(CommandFailure(tuple(tokens), exit_code, stderr, effect))

    def clear_records(self) -> None:
        """Forget what was recorded so far (argvs, writes, Docker calls): a new run starts."""
        self.argvs.clear()
        self.writes.clear()
        self.engine.calls.clear()

    def compose_calls(self) -> list[ComposeCall]:
        calls = (parse_compose(argv) for argv in self.argvs)
        return [call for call in calls if isinstance(call, ComposeCall)]

    def proxy_route(self) -> str | None:
        """The color nginx really routes to: the one in the config it loaded (seamless: the one its
        njs reads from the active-color file, else the last one it read)."""
        nginx = self._running_proxy()
        if nginx is None:
            return None
        if not (nginx.loaded or b"").startswith(SEAMLESS_MARK):
            return routed_by(nginx.loaded)
        active = f"{self.app_dir}/nginx/active"
        content = None if active in self.unreadable_by_nginx else self.files.get(active)
        self.njs_memory = color_of_active_file(self.app, content) or self.njs_memory
        return self.njs_memory

    def _nginx_reads(self, argv: tuple[str, ...], inside: str) -> CommandResult:
        host_path = f"{self.app_dir}/nginx/{inside.removeprefix(PROXY_CONFIG_DIR + '/')}"
        if host_path in self.unreadable_by_nginx:
            return CommandResult(argv, 1, "", f"cat: {inside}: Permission denied\n")
        if host_path not in self.files:
            return CommandResult(argv, 1, "", f"cat: {inside}: No such file or directory\n")
        return CommandResult(argv, 0, self.files[host_path].decode(errors="replace"), "")

    def _mode(self, path: str) -> int:
        return self.modes.get(path) or self.dir_modes.get(path, 0o755)

    def _seamless_route(self, loaded: bytes) -> tuple[str | None, int | None]:
        """A seamless config: the color its njs routes to (see `proxy_route`), and the port the
        loaded config gives that color's upstream."""
        color = self.proxy_route()
        upstream = f"upstream bluegreen_{re.escape(self.app)}_{color} {{\\s*server 127\\.0\\.0\\.1:(\\d+);"
        found = re.search(upstream, loaded.decode()) if color else None
        return color, int(found.group(1)) if found else None

    def _running_proxy(self) -> FakeContainer | None:
        """The proxy a new connection reaches: the newest of those whose sockets are open."""
        accepting = [c for c in self.proxy_containers() if c.accepts]
        return accepting[-1] if accepting else None

    def proxy_containers(self) -> list[FakeContainer]:
        return [c for c in self.engine.all if c.project in self.proxy_projects]

    @property
    def proxy_projects(self) -> tuple[str, str]:
        return (f"{self.app}-proxy", f"{self.app}-proxy-alt")

    def foreign(self, port: int) -> None:
        """Another program (the host's own nginx, say) listens on port, on 127.0.0.1 too."""
        self.engine.busy_ports.add(port)
        self.answers[port] = (200, {"Server": "nginx/1.22.1"})

    def _color_runs(self, color: str) -> bool:
        return "running" in self.engine.statuses(f"{self.app}-{color}")

    # ---- Host: commands -----------------------------------------------------------------------

    def run(self, argv: Sequence[str], *, timeout: float = 600, stdin: bytes = b"") -> CommandResult:
        command = tuple(argv)
        with self._lock:
            self.argvs.append(command)
            if "--name" in command and "run" in command:
                self.last_one_off = command[command.index("--name") + 1]
            for failure in self.command_failures:
                if failure.matches(command):
                    if failure.effect:
                        failure.effect()
                    return CommandResult(command, failure.exit_code, "", failure.stderr)
            return self._script(command, stdin)

    def _registry(self, argv: tuple[str, ...], stdin: bytes) -> CommandResult:
        """`docker login` against `registry_password` (None: any password), into DOCKER_CONFIG."""
        config = argv[1].removeprefix("DOCKER_CONFIG=")
        if argv[3] == "logout":
            self.files.pop(f"{config}/config.json", None)
            return CommandResult(argv, 0, "", "")
        username = argv[argv.index("--username") + 1]
        password = stdin.decode().removesuffix("\n")
        if self.registry_password is not None and password != self.registry_password:
            return CommandResult(
                argv, 1, "", f"Error response from daemon: login attempt to {argv[-1]} failed: unauthorized"
            )
        self.files[f"{config}/config.json"] = (
            f'{{"auths": {{"{argv[-1]}": "{username}:{password}"}}}}'.encode()
        )
        return CommandResult(argv, 0, "Login Succeeded\n", "")

    def _script(self, argv: tuple[str, ...], stdin: bytes = b"") -> CommandResult:
        ok = CommandResult(argv, 0, "", "")
        if argv[:2] == ("mkdir", "-p"):
            return ok
        if argv[:2] == ("rm", "-f"):
            for path in argv[argv.index("--") + 1 :]:
                self.files.pop(path, None)
            return ok
        if argv[:1] == ("find",) and "!" not in argv and "-name" in argv:  # registry_login.remove_login_dirs
            folder, pattern = argv[1], argv[argv.index("-name") + 1]
            for path in [p for p in self.files if p.startswith(f"{folder}/")]:
                if fnmatch.fnmatch(path[len(folder) + 1 :].split("/", 1)[0], pattern):
                    del self.files[path]
            return ok
        if argv[:2] in (("docker", "logs"), ("docker", "stop"), ("docker", "rm"), ("docker", "container")):
            name = argv[-1]
            if name not in self.one_offs:
                return CommandResult(argv, 1, "", f"Error response from daemon: No such container: {name}")
            if argv[1] == "rm":
                del self.one_offs[name]
            return CommandResult(argv, 0, self.one_offs[name] if argv[1] == "logs" else name, "")
        if argv[:2] == ("mktemp", "-d"):
            made = argv[2].replace("XXXXXXXX", f"{next(self.engine.serial):08d}")
            self.files[f"{made}/"] = b""  # the directory itself
            return CommandResult(argv, 0, made + "\n", "")
        if argv[:1] == ("env",) and argv[2:4] in (("docker", "login"), ("docker", "logout")):
            return self._registry(argv, stdin)
        if argv[:2] == ("sh", "-c") and argv[2] == commands._REMOVE_OLDER_RELEASES:
            return self._remove_older_releases(argv)
        if argv[:2] == ("sh", "-c") and argv[2] == commands._MAKE_DATA_DIR:
            self.data_dirs.append(argv[4])
            return ok
        if argv[:2] == ("flock", "--nonblock"):
            return CommandResult(argv, 1, "", "") if self.lock_taken_by_other else ok
        if argv[:2] == ("docker", "exec") and argv[-5:-3] == ("nginx", "-t"):
            if not self._exec_target(argv[2]).sees_folder:
                return CommandResult(
                    argv, 1, "", f'nginx: [emerg] open() "{argv[-1]}" failed (2: No such file)'
                )
            return ok
        if argv[:2] == ("docker", "run") and argv[-5:-3] == ("nginx", "-t"):
            return ok
        if (
            argv[:2] == ("docker", "exec")
            and argv[3:5] == ("sh", "-c")
            and argv[5].startswith("read -r line <")
        ):
            inside = argv[-1].replace(PROXY_CONFIG_DIR, f"{self.app_dir}/nginx")
            content = self.files.get(inside) if self._exec_target(argv[2]).sees_folder else None
            if content is None:
                return CommandResult(argv, 2, "", f"sh: 1: cannot open {argv[-1]}: No such file")
            return CommandResult(argv, 0, content.decode().splitlines()[0] + "\n", "")
        if argv[:2] in (("docker", "exec"), ("docker", "run")) and "ngx_http_js_module.so" in argv[-1]:
            if self.njs:
                return CommandResult(argv, 0, f"{NJS_MODULE}\ncontains\n", "")
            return CommandResult(argv, 1, "", "")  # the fake's nginx has no njs: reload mode
        if argv[:2] == ("docker", "exec") and argv[-1] == WORKER_IDS_SCRIPT:
            return CommandResult(argv, 0, f"{NGINX_WORKER}\n", "")
        if argv[:4] == ("docker", "exec", "--user", NGINX_WORKER) and argv[-3:-1] == ("cat", "--"):
            return self._nginx_reads(argv, argv[-1])
        if argv[:4] == ("docker", "exec", "--user", NGINX_WORKER) and argv[-3:-1] == ("test", "-x"):
            denied = self._mode(f"{self.app_dir}/nginx") & 0o001 == 0
            return CommandResult(argv, 1 if denied else 0, "", "")
        if argv[:3] == ("stat", "-c", "%a %U:%G %n"):
            lines = [f"{self._mode(path):o} deploy:deploy {path}" for path in argv[argv.index("--") + 1 :]]
            return CommandResult(argv, 0, "".join(f"{line}\n" for line in lines), "")
        compose = parse_compose(argv)
        if compose == ("version",):
            return CommandResult(argv, 0, "Docker Compose version v2.29.7\n", "")
        logged_in = (
            isinstance(compose, ComposeCall)
            and f"{compose.env.get('DOCKER_CONFIG')}/config.json" in self.files
        )
        if (
            isinstance(compose, ComposeCall)
            and compose.subcommand == "pull"
            and self.registry_password
            and not logged_in
        ):
            return CommandResult(argv, 1, "", "Error response from daemon: no basic auth credentials")
        if isinstance(compose, ComposeCall) and compose.subcommand in ("pull", "up", "stop", "down"):
            self._compose(compose)
            return ok
        if isinstance(compose, ComposeCall) and compose.subcommand == "run":  # a one-off, removed (--rm)
            return CommandResult(argv, 0, f"ran {' '.join(compose.args)}\n", "")
        self.unscripted.append(argv)
        return CommandResult(argv, 127, "", f"fake host: no script for {argv}")

    def _remove_older_releases(self, argv: tuple[str, ...]) -> CommandResult:
        """As commands.remove_older_releases, except ownership (the fake's files have no owner)."""
        folder, keep, data = argv[4], argv[5], argv[6:]
        releases = {p[len(folder) + 1 :].split("/", 1)[0] for p in self.files if p.startswith(f"{folder}/")}
        kept = []
        for release in sorted(releases - {keep}):
            inside = [p for p in self.files if p.startswith(f"{folder}/{release}/")]
            held = next((d for d in data if any(f"/{release}/{d}/" in p for p in inside)), "")
            if held:
                kept.append(f"{commands.KEPT_RELEASE} {folder}/{release} ({held})\n")
                continue
            for path in inside:
                del self.files[path]
        return CommandResult(argv, 0, "".join(kept), "")

    def _compose(self, call: ComposeCall) -> None:
        containers = self.engine.project(call.project)
        if call.subcommand == "stop":
            for container in containers:
                if container.status == "running":
                    container.status = "exited"
        elif call.subcommand == "down":
            self.engine.discard(call.project)
        elif call.subcommand == "up" and call.project in self.proxy_projects:
            self._compose_up_proxy(call, containers)
        elif call.subcommand == "up":
            named = [arg for arg in call.args if not arg.startswith("-")]
            image = call.env.get("BLUEGREEN_IMAGE", f"{self.app}:latest")
            for service in tuple(named) or self.services:
                old = [c for c in containers if c.service == service]
                for container in old:  # recreated: a new deploy's containers replace the old ones
                    self.engine.all.remove(container)
                created = self.engine.create(call.project, service, image)
                if "--no-start" not in call.args:
                    created.start()

    def _compose_up_proxy(self, call: ComposeCall, containers: list[FakeContainer]) -> None:
        """As compose: a running container made from the same file stays; else it is recreated
        (the old one stopped and removed first), with the file's image and mounts."""
        service = yaml.safe_load(self.files[call.files[0]])["services"]["nginx"]
        mounts = [_mount(volume) for volume in service["volumes"]]
        for container in containers:
            if (container.image, container.bind_mounts) != (service["image"], mounts):
                continue
            if container.status in ("running", "restarting"):  # restarting: Docker's backoff, later
                return
            if container.status == "exited":
                container.start()
                return
        for container in containers:
            container.stop()
            container.remove()
        fresh = self.engine.create(call.project, "nginx", service["image"])
        fresh.bind_mounts = mounts
        fresh.start()

    def _exec_target(self, name: str) -> FakeContainer:
        return next(c for c in self.engine.all if c.name == name)

    def hold(self, argv: Sequence[str], ready_line: str, timeout: float) -> Held | CommandResult:
        if self.lock_taken_by_other:
            return CommandResult(tuple(argv), 75, "", "")
        failure = next((f for f in self.command_failures if f.matches(tuple(argv))), None)
        if failure:
            return CommandResult(tuple(argv), failure.exit_code, "", failure.stderr)
        held = FakeHeld(tuple(argv))
        self.holds.append(held)
        return held

    # ---- Host: files --------------------------------------------------------------------------

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        with self._lock:
            if path in self.write_failures:
                raise self.write_failures[path]
            self.writes.append(path)
            self.files[path], self.modes[path] = bytes(data), mode
            if mode & 0o004:
                self.unreadable_by_nginx.discard(path)  # a new file, readable for all

    def append_file(self, path: str, data: bytes) -> None:
        with self._lock:
            self.writes.append(path)
            self.files[path] = self.files.get(path, b"") + data

    def rename(self, source: str, target: str) -> None:
        with self._lock:
            if source not in self.files:
                raise FileNotFoundError(2, "No such file", source)
            self.writes.append(target)
            self.files[target] = self.files.pop(source)

    def read_file(self, path: str, *, limit: int = READ_LIMIT) -> bytes | None:
        if path in self.read_failures:
            raise self.read_failures[path]
        data = self.files.get(path)
        if data is not None and len(data) > limit:
            raise UnreadableFile(path, f"it is larger than {limit} bytes")
        return data

    def home(self) -> str:
        return HOME

    # ---- Host: connections and Docker ---------------------------------------------------------

    def connect_tcp(self, port: int, timeout: float) -> FakeStream:
        if port in self.answers:
            status, headers = self.answers[port]
            return FakeStream(http_response(status, headers))
        if port == self.http_port:
            nginx = self._running_proxy()
            if nginx is None:
                raise ConnectionRefusedError(f"127.0.0.1:{port}: nothing listens")
            if (nginx.loaded or b"").startswith(SEAMLESS_MARK):
                color, upstream_port = self._seamless_route(nginx.loaded or b"")
                listens = color is not None and upstream_port == self.ports[color] and self._color_runs(color)
                upstream = {"X-Bluegreen-Upstream": f"127.0.0.1:{upstream_port}"} if upstream_port else {}
                return FakeStream(http_response(200 if listens else 502, upstream))
            color = routed_by(nginx.loaded)
            if color not in self.ports:
                return FakeStream(http_response(502))
            upstream = {"X-Bluegreen-Upstream": f"127.0.0.1:{self.ports[color]}"}
            return FakeStream(http_response(200 if self._color_runs(color) else 502, upstream))
        for color, color_port in self.ports.items():
            if port == color_port and self._color_runs(color):
                return FakeStream(http_response(200))
        raise ConnectionRefusedError(f"127.0.0.1:{port}: nothing listens")

    def check_tunnels(self, port: int) -> None:
        """The fake forwards every port."""

    def docker(self) -> Any:  # FakeDocker: the part of docker.DockerClient bluegreen uses
        return self.engine

    def close(self) -> None:
        pass
