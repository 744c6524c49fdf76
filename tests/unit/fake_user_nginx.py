"""The user's own nginx container on the fake host (`proxy-container`), for UserProxy's unit tests.

- `UserNginx` runs nginx with the argv the user chose (`-c /etc/nginx/other.conf`, ...) and bind
  mounts (host path -> container path); its image holds its own files (`/etc/nginx/nginx.conf`).
- `UserNginxHost` answers `nginx -t` / `nginx -T` run in it the way nginx does: the file `-c` names
  (else the image's nginx.conf), and every `include` in it, matched as nginx's glob(3) matches (a
  name that starts with a dot only by a pattern that starts with one; seen with the lab's nginx).
  A file holding `unknown_directive` or unbalanced braces (a cut file) fails the test.
- Several hosts can be one machine (`twin()`: another SSH user or remote-dir, same files, same
  engine). `hold` takes flocks in a table keyed by the lock's place (a host path, or a path inside
  a container) and answers exit 75 with the holder's line while another holds the same one.
- `drop_upload_of`: the SSH connection drops in the middle of sending the bytes that contain this
  marker, as SshHost would leave things: write_file leaves half the data in `<path>.tmp-<hex>` (its
  SFTP temp name), a command fed the data on stdin gets only half of it.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Callable, Sequence
from typing import Any

from bluegreen.errors import BluegreenError
from bluegreen.host import CommandResult, Held
from tests.unit.fake_host import FakeContainer, FakeDocker, FakeHost

UNKNOWN = b"unknown_directive"
INCLUDE = re.compile(rb"(?:^|[{;\s])include\s+([^;\s]+)\s*;")


class UserNginx(FakeContainer):
    """The user's nginx: no compose project of bluegreen's, started as the user chose."""

    def __init__(
        self,
        engine: FakeDocker,
        name: str,
        argv: Sequence[str],
        mounts: dict[str, str],
        image_files: dict[str, bytes],
        entrypoint: Sequence[str] = (),
    ) -> None:
        super().__init__(engine, "user", "nginx", "nginx:1.27", 1)
        self.name = name
        self.status = "running"
        self.workers = [engine.worker()]
        self.started = [*entrypoint, *argv]
        self.title = "nginx: master process " + " ".join(argv)
        self.mounts, self.image_files = mounts, image_files
        engine.all.append(self)

    @property
    def attrs(self) -> dict[str, Any]:
        found = super().attrs
        found["Path"], found["Args"] = self.started[0], self.started[1:]
        found["Mounts"] = [
            {"Type": "bind", "Source": source, "Destination": destination}
            for source, destination in self.mounts.items()
        ]
        return found

    def top(self) -> dict[str, Any]:
        listed = super().top()
        listed["Processes"][0][-1] = self.title
        return listed

    def host_path(self, inside: str) -> str | None:
        """Where a path inside the container lives on the host (None: in the image)."""
        for source, destination in sorted(self.mounts.items(), key=lambda m: -len(m[1])):
            if inside == destination:
                return source
            if inside.startswith(destination.rstrip("/") + "/"):
                return source.rstrip("/") + inside[len(destination.rstrip("/")) :]
        return None


def glob_matches(pattern: str, name: str) -> bool:
    """glob(3) without GLOB_PERIOD, as nginx's `include` uses it."""
    if name.startswith(".") and not pattern.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, pattern)


class UserNginxHost(FakeHost):
    """A FakeHost whose engine runs the user's nginx (see the module docstring)."""

    def __init__(self, remote_dir: str = "bluegreen", name: str = "fake-host") -> None:
        super().__init__(remote_dir=remote_dir)
        self.name = name
        self.nginx: UserNginx | None = None
        self.locks: dict[str, str] = {}
        """Lock place -> the holder's line."""
        self.hold_answers: list[CommandResult] = []
        """What the next holds answer instead of taking the lock (a failure to report)."""
        self.tested: list[str] = []
        """The config file each `nginx -t` in the container tested."""
        self.on_test: Callable[[], None] | None = None
        self.drop_upload_of: bytes | None = None

    def twin(self, remote_dir: str, name: str) -> UserNginxHost:
        """Another SSH user (or remote-dir) on this machine: same files, same engine, same locks."""
        other = UserNginxHost(remote_dir=remote_dir, name=name)
        other.files, other.modes, other.engine, other.locks = self.files, self.modes, self.engine, self.locks
        other.nginx, other.tested = self.nginx, self.tested
        return other

    def run_user_nginx(
        self,
        name: str,
        argv: Sequence[str],
        mounts: dict[str, str],
        image_files: dict[str, bytes],
        entrypoint: Sequence[str] = (),
    ) -> UserNginx:
        self.nginx = UserNginx(self.engine, name, argv, mounts, image_files, entrypoint)
        return self.nginx

    # ---- nginx in the container ---------------------------------------------------------------

    def read_inside(self, inside: str) -> bytes | None:
        assert self.nginx is not None
        on_host = self.nginx.host_path(inside)
        return self.files.get(on_host) if on_host else self.nginx.image_files.get(inside)

    def listing(self, directory: str) -> list[str]:
        """The names in a directory inside the container."""
        assert self.nginx is not None
        on_host = self.nginx.host_path(directory)
        if on_host is None:
            paths = list(self.nginx.image_files)
            prefix = directory.rstrip("/") + "/"
        else:
            paths, prefix = list(self.files), on_host.rstrip("/") + "/"
        return sorted(
            {p[len(prefix) :] for p in paths if p.startswith(prefix) and "/" not in p[len(prefix) :]}
        )

    def loaded_files(self, config: str) -> list[tuple[str, bytes]]:
        """The config file and every file its includes load, in order."""
        content = self.read_inside(config)
        if content is None:
            return [(config, b"")]
        loaded = [(config, content)]
        for pattern in INCLUDE.findall(content):
            text = pattern.decode()
            directory, name_pattern = posixpath.split(text)
            for name in self.listing(directory):
                if glob_matches(name_pattern, name):
                    loaded += self.loaded_files(f"{directory}/{name}")
        return loaded

    def _nginx_in_container(self, argv: tuple[str, ...]) -> CommandResult | None:
        if self.nginx is None or argv[:3] != ("docker", "exec", self.nginx.name):
            return None
        rest = list(argv[4:])
        if rest[:2] not in (["-t", "-q"], ["-T", "-q"]):
            return None
        options = dict(zip(rest[2::2], rest[3::2], strict=True))
        config = options.get("-c", "/etc/nginx/nginx.conf")
        if rest[0] == "-t":
            self.tested.append(config)
            if self.on_test:
                self.on_test()
        loaded = self.loaded_files(config)
        for path, content in loaded:
            if UNKNOWN in content or content.count(b"{") != content.count(b"}"):
                stderr = f"nginx: [emerg] invalid config in {path}\nnginx: configuration file {config} failed"
                return CommandResult(argv, 1, "", stderr)
        dump = "".join(f"# configuration file {path}:\n{content.decode()}\n" for path, content in loaded)
        return CommandResult(argv, 0, dump if rest[0] == "-T" else "", "")

    # ---- the host -----------------------------------------------------------------------------

    def _script(self, argv: tuple[str, ...], stdin: bytes = b"") -> CommandResult:
        answered = self._nginx_in_container(argv)
        if answered is not None:
            return answered
        if argv[:2] == ("sh", "-c") and len(argv) == 7:  # commands.copy_in_place: staged live backup
            staged, live = argv[4], argv[5]
            self.files[live] = self.files.pop(staged)
            self.writes.append(live)
            return CommandResult(argv, 0, "", "")
        return super()._script(argv, stdin)

    def run(self, argv: Sequence[str], *, timeout: float = 600, stdin: bytes = b"") -> CommandResult:
        if self.drop_upload_of and self.drop_upload_of in stdin:
            if list(argv[:3]) == ["sh", "-c", 'cat > "$1"']:  # what cat wrote before stdin was cut
                self.files[argv[-1]] = stdin[: len(stdin) // 2]
            raise BluegreenError(f"the SSH connection to {self.name} was lost during: {argv[0]}")
        if list(argv[:3]) == ["sh", "-c", 'cat > "$1"']:
            self.argvs.append(tuple(argv))
            self.files[argv[-1]] = stdin
            return CommandResult(tuple(argv), 0, "", "")
        return super().run(argv, timeout=timeout, stdin=stdin)

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        if self.drop_upload_of and self.drop_upload_of in data:
            self.files[f"{path}.tmp-5eed0a1b"] = data[: len(data) // 2]  # SshHost's SFTP temp name
            raise EOFError("the SSH connection dropped")
        super().write_file(path, data, mode)

    def hold(self, argv: Sequence[str], ready_line: str, timeout: float) -> Held | CommandResult:
        command = tuple(argv)
        self.argvs.append(command)
        if self.hold_answers:
            return self.hold_answers.pop(0)
        if command[0] == "flock":  # commands.take_lock: a file on the host
            place, holder = f"host:{command[6]}", f"a deploy through {self.name}"
        else:  # commands.in_container(switch_lock): docker exec -i C sh -c SCRIPT sh LOCK HOLDER WAIT
            place, holder = f"{command[3]}:{command[-3]}", command[-2]
        if place in self.locks:
            return CommandResult(command, 75, "", f"{self.locks[place]}\n")
        self.locks[place] = holder
        return TableLock(self.locks, place)


class TableLock:
    def __init__(self, locks: dict[str, str], place: str) -> None:
        self.locks, self.place = locks, place

    def close(self) -> None:
        self.locks.pop(self.place, None)
