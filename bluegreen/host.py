"""The host interface: run an argv, move files, open a TCP connection, talk to Docker.

Two real backends: SshHost (bluegreen/ssh.py, paramiko: what the product uses) and LocalHost (this
machine); tests/e2e/test_hosts.py holds both to the same contract. Commands are built elsewhere as
argv lists; SshHost alone turns one into a string, every argument quoted, because SSH carries a
single command line to the remote shell.
"""

from __future__ import annotations

import getpass
import os
import posixpath
import shlex
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bluegreen.errors import CommandTimedOut, RemoteCommandError, UnreadableFile, UnwritableDirectory

if TYPE_CHECKING:
    import docker

READ_LIMIT = 1_048_576
"""Bytes read_file reads at most: the files bluegreen reads (state, nginx.conf, lock holder) are small."""


def check_readable(path: str, mode: int, size: int, limit: int) -> None:
    """Refuse what read_file must not read: anything but a regular file, or more than `limit` bytes."""
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise UnreadableFile(path, f"it is {kind} (mode {stat.filemode(mode)})")
    if size > limit:
        raise UnreadableFile(path, f"it is larger than {limit} bytes")


@contextmanager
def writing(path: str, user: str) -> Iterator[None]:
    """Writing path: permission denied is one clear error naming its directory, not a traceback."""
    try:
        yield
    except PermissionError:
        raise UnwritableDirectory(posixpath.dirname(path) or "/", user) from None


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def check(self, what: str) -> CommandResult:
        if not self.ok:
            raise RemoteCommandError(what, shlex.join(self.argv), self.exit_code, self.stderr or self.stdout)
        return self


class Stream(Protocol):
    """A connected byte stream (a socket, or an SSH channel)."""

    def sendall(self, data: bytes) -> None: ...
    def recv(self, size: int) -> bytes: ...
    def settimeout(self, timeout: float | None) -> None: ...
    def close(self) -> None: ...


class Held(Protocol):
    """A long-running remote command (the lock holder); closing it ends the command."""

    def close(self) -> None: ...


class Host(Protocol):
    name: str
    user: str
    """The user bluegreen runs as on the host."""

    def run(self, argv: Sequence[str], *, timeout: float = 600, stdin: bytes = b"") -> CommandResult: ...

    def hold(self, argv: Sequence[str], ready_line: str, timeout: float) -> Held | CommandResult:
        """Start a command that runs until closed; wait for it to print ready_line.

        Returns the running command, or its result if it exited first.
        """
        ...

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Write atomically: a temporary file beside the target, then a rename."""
        ...

    def append_file(self, path: str, data: bytes) -> None: ...

    def rename(self, source: str, target: str) -> None:
        """Atomically replace target with source (POSIX rename)."""
        ...

    def read_file(self, path: str, *, limit: int = READ_LIMIT) -> bytes | None:
        """The file's bytes; None when it does not exist.

        Raises UnreadableFile for anything but a regular file (a directory, a device, a FIFO, also
        behind a symlink), for more than `limit` bytes, and when the host does not answer in time.
        """
        ...

    def home(self) -> str: ...

    def connect_tcp(self, port: int, timeout: float) -> Stream:
        """Connect to 127.0.0.1:port as seen from the host.

        Raises ConnectionRefusedError when nothing listens there, TunnelForbidden when the host's
        sshd does not forward TCP.
        """
        ...

    def check_tunnels(self, port: int) -> None:
        """Raise TunnelForbidden unless connect_tcp can work (opens and closes one connection to port)."""
        ...

    def docker(self) -> docker.DockerClient: ...

    def close(self) -> None: ...


class LocalHost:
    """This machine as the host."""

    name = "localhost"

    def __init__(self) -> None:
        self._docker: docker.DockerClient | None = None
        self.user = getpass.getuser()

    def run(self, argv: Sequence[str], *, timeout: float = 600, stdin: bytes = b"") -> CommandResult:
        try:
            done = subprocess.run(list(argv), input=stdin, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise CommandTimedOut(
                f"command timed out after {timeout:g} s on {self.name}: {shlex.join(argv)}"
            ) from None
        return CommandResult(
            tuple(argv),
            done.returncode,
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
        )

    def hold(self, argv: Sequence[str], ready_line: str, timeout: float) -> Held | CommandResult:
        process = subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert process.stdout is not None
        line = process.stdout.readline().decode().strip()
        if line == ready_line:
            return _LocalHeld(process)
        _, err = process.communicate(timeout=timeout)
        return CommandResult(tuple(argv), process.returncode, line, err.decode(errors="replace"))

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        target = Path(path)
        with writing(path, self.user):
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, mode)
            os.replace(tmp, target)

    def rename(self, source: str, target: str) -> None:
        with writing(target, self.user):
            os.replace(source, target)

    def append_file(self, path: str, data: bytes) -> None:
        with writing(path, self.user), open(path, "ab") as handle:
            handle.write(data)

    def read_file(self, path: str, *, limit: int = READ_LIMIT) -> bytes | None:
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused after fstat)
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except PermissionError:
            raise UnreadableFile(path, "permission denied") from None
        try:
            found = os.fstat(fd)
            check_readable(path, found.st_mode, found.st_size, limit)
            data = bytearray()
            while len(data) <= limit and (chunk := os.read(fd, limit + 1 - len(data))):
                data += chunk
        finally:
            os.close(fd)
        check_readable(path, found.st_mode, len(data), limit)  # it grew since the fstat
        return bytes(data)

    def home(self) -> str:
        return str(Path.home())

    def connect_tcp(self, port: int, timeout: float) -> Stream:
        return socket.create_connection(("127.0.0.1", port), timeout=timeout)

    def check_tunnels(self, port: int) -> None:
        """Connections from this machine need no tunnel."""

    def docker(self) -> docker.DockerClient:
        if self._docker is None:
            import docker

            self._docker = docker.from_env()
        return self._docker

    def close(self) -> None:
        if self._docker is not None:
            self._docker.close()


class _LocalHeld:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait(timeout=10)
