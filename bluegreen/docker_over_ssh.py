"""The Docker SDK on an SSH connection we already hold (imported only when Docker is needed).

Each HTTP connection of the SDK is a `docker system dial-stdio` command on a session channel of our
connection, taken from the host's session budget. The pool is one, small and blocking: docker-py's
own SSH adapter keeps a pool per request URL (up to 25 pools of 10), and every idle connection
of every pool keeps a session open on the server.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests
import urllib3.connection
from docker.transport.basehttpadapter import BaseHTTPAdapter
from docker.transport.sshconn import SSHConnectionPool

from bluegreen.errors import BluegreenError
from bluegreen.sessions import DOCKER_SESSIONS, Session

_FALLBACK_DOCKER_API = "1.24"
DOCKER_TIMEOUT = 60.0
"""Seconds a Docker API call may take (docker-py's default), also the wait for a pooled connection."""

OpenSession = Callable[[float], Session]


def docker_client(
    open_session: OpenSession, where: str, user: str, timeout: float = DOCKER_TIMEOUT
) -> docker.DockerClient:
    """A DockerClient whose requests run `docker system dial-stdio` on sessions of our connection.

    Asks the engine for its API version first, so a user who may not use Docker, or an engine that
    does not answer, fails here with one clear error.
    """
    client = docker.DockerClient(
        base_url="ssh://bluegreen", version=_FALLBACK_DOCKER_API, timeout=int(timeout), use_ssh_client=True
    )
    adapter = DialStdioAdapter(open_session, DockerFailures(where, user, timeout), timeout)
    api: Any = client.api  # reaching into APIClient: it has no public way to take an adapter
    api._custom_adapter = adapter
    api.mount("http+docker://ssh", adapter)
    try:
        api._version = api.version(api_version=False)["ApiVersion"]
    except docker.errors.DockerException as exc:
        client.close()
        raise BluegreenError(f"the Docker engine on {where} answered with an error: {exc}") from None
    except BaseException:
        client.close()
        raise
    return client


@dataclass
class DockerFailures:
    """Turns a failed Docker request into one error saying what is wrong on the host and the fix."""

    where: str
    user: str
    timeout: float
    stderr: str = ""
    """What the last `docker system dial-stdio` that ended said on stderr (why it could not connect)."""

    def saw_stderr(self, text: str) -> None:
        if text.strip():
            self.stderr = text.strip()

    def error(self, exc: BaseException) -> BluegreenError:
        return docker_error(self.where, self.user, self.timeout, exc, self.stderr)


def docker_error(where: str, user: str, timeout: float, exc: BaseException, stderr: str) -> BluegreenError:
    said = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    if "permission denied" in said.lower():
        socket = _socket_of(said)
        return BluegreenError(
            f"{user} may not use Docker on {where}: permission denied on {socket}. Fix: on the server run "
            f"`sudo usermod -aG docker {user}`, then log in again (group changes apply to new logins)"
        )
    if re.search(r"docker: (command )?not found", said):
        return BluegreenError(f"`docker` is not installed on {where} (or not on {user}'s PATH): {said}")
    if isinstance(exc, requests.exceptions.Timeout | TimeoutError):
        return BluegreenError(
            f"the Docker engine on {where} did not answer within {timeout:g} s (Docker API timeout); "
            "check that dockerd is running and responsive (`docker info` on the server)"
        )
    reason = said or str(exc)
    return BluegreenError(
        f"the Docker engine on {where} does not answer ({reason}); check that dockerd is running there "
        "(`sudo systemctl start docker`)"
    )


def _socket_of(message: str) -> str:
    found = re.search(r"unix://(/[^\s:\"]+)", message) or re.search(r"dial unix (/[^\s:\"]+)", message)
    return found.group(1) if found else "/var/run/docker.sock"


class DialStdioConnection(urllib3.connection.HTTPConnection):
    """One HTTP connection to the engine: `docker system dial-stdio` on a budgeted session."""

    def __init__(self, open_session: OpenSession, timeout: float, on_stderr: Callable[[str], None]) -> None:
        super().__init__("localhost", timeout=timeout)
        self._open_session = open_session
        self._wait = timeout
        self._on_stderr = on_stderr
        self._session: Session | None = None

    def connect(self) -> None:
        session = self._open_session(self._wait)
        try:
            session.channel.settimeout(self._wait)
            session.channel.exec_command("docker system dial-stdio")
        except BaseException:
            session.close()
            raise
        self._session = session
        self.sock = session.channel

    def close(self) -> None:
        session, self._session = self._session, None
        try:
            if session is not None:
                self._on_stderr(_stderr_of_ended(session))
            super().close()
        finally:
            if session is not None:
                session.close()


def _stderr_of_ended(session: Session) -> str:
    """The command's stderr, if it ended (the server closed its side); "" for a live connection."""
    channel = session.channel
    if not channel.eof_received:
        return ""
    deadline = time.monotonic() + 1.0
    while not channel.exit_status_ready() and time.monotonic() < deadline:
        time.sleep(0.01)
    text = b""
    while channel.recv_stderr_ready():
        text += channel.recv_stderr(4096)
    return text.decode(errors="replace")


class DialStdioPool(SSHConnectionPool):
    """At most `size` connections; a request finding none free waits for one (up to `wait` s)."""

    def __init__(self, new_connection: Callable[[], DialStdioConnection], size: int, wait: float) -> None:
        super().__init__(ssh_client=None, timeout=int(wait), maxsize=size)
        self.block = True
        self._new_connection = new_connection
        self._wait = wait

    def _new_conn(self) -> DialStdioConnection:
        return self._new_connection()

    def _get_conn(self, timeout: float | None = None) -> DialStdioConnection:
        connection = super()._get_conn(timeout if timeout is not None else self._wait)
        assert isinstance(connection, DialStdioConnection)
        return connection


class DialStdioAdapter(BaseHTTPAdapter):
    """One pool for every request; every failure to reach the engine becomes one BluegreenError."""

    def __init__(self, open_session: OpenSession, failures: DockerFailures, timeout: float) -> None:
        self.timeout = timeout
        self._failures = failures
        self._pool = DialStdioPool(
            lambda: DialStdioConnection(open_session, timeout, failures.saw_stderr), DOCKER_SESSIONS, timeout
        )
        super().__init__()

    def get_connection(self, url: str | bytes, proxies: Mapping[str, str] | None = None) -> DialStdioPool:
        return self._pool

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        try:
            response: requests.Response = super().send(request, *args, **kwargs)
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._failures.error(exc) from None
        return response

    def close(self) -> None:
        super().close()
        self._pool.close()
