"""The Docker SDK over budgeted sessions: a small pool, and one clear error when Docker cannot be used.

The "remote command" behind each session channel plays `docker system dial-stdio`: an engine that
answers, one that never answers, or the CLI refused by the socket's permissions.
"""

from __future__ import annotations

import json
import time

import pytest

from bluegreen.docker_over_ssh import docker_client, docker_error
from bluegreen.errors import BluegreenError
from bluegreen.sessions import DOCKER_SESSIONS, SessionBudget
from tests.concurrently import in_threads
from tests.unit.fake_sshd import FakeChannel, FakeSshd

WHERE = "deploy@server:22"
# What `docker system dial-stdio` says on stderr when the user is not in the socket's group
# (docker 28, run as a user outside the `docker` group).
PERMISSION_DENIED = (
    b"failed to open the raw stream connection: dial unix /var/run/docker.sock: connect: permission denied\n"
)


def engine(channel: FakeChannel) -> None:
    """An engine that answers every request (keep-alive), a little slowly."""
    reader = channel.remote_end.makefile("rb")
    try:
        while True:
            request_line = reader.readline()
            if not request_line:
                return
            while reader.readline() not in (b"\r\n", b""):
                pass
            time.sleep(0.05)
            body = json.dumps({"ApiVersion": "1.44"} if b"/version" in request_line else {}).encode()
            if b"/_ping" in request_line:
                body = b"OK"
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            channel.remote_end.sendall(head.encode() + body)
    except OSError:
        return


def permission_denied(channel: FakeChannel) -> None:
    channel.exit(1, PERMISSION_DENIED)


def silent_engine(channel: FakeChannel) -> None:
    """Takes the connection and never answers."""


def test_concurrent_docker_calls_share_a_pool_of_a_few_sessions() -> None:
    sshd = FakeSshd(max_sessions=10, remote=engine)
    budget = SessionBudget(sshd.open_session, WHERE)
    client = docker_client(budget.open, WHERE, "deploy", timeout=5)

    def ping() -> None:
        for _ in range(3):
            assert client.ping()

    errors = in_threads(12, ping)
    assert errors == []
    assert sshd.peak == DOCKER_SESSIONS
    client.close()
    assert (budget.in_use, sshd.open_now) == (0, 0)


def test_a_user_outside_the_docker_group_gets_the_socket_and_the_fix() -> None:
    budget = SessionBudget(FakeSshd(remote=permission_denied).open_session, WHERE)
    with pytest.raises(BluegreenError) as denied:
        docker_client(budget.open, WHERE, "deploy", timeout=5)
    assert str(denied.value) == (
        "deploy may not use Docker on deploy@server:22: permission denied on /var/run/docker.sock. "
        "Fix: on the server run `sudo usermod -aG docker deploy`, then log in again "
        "(group changes apply to new logins)"
    )
    assert budget.in_use == 0


def test_an_engine_that_does_not_answer_is_an_api_timeout() -> None:
    budget = SessionBudget(FakeSshd(remote=silent_engine).open_session, WHERE)
    started = time.monotonic()
    with pytest.raises(BluegreenError) as timed_out:
        docker_client(budget.open, WHERE, "deploy", timeout=1)
    assert time.monotonic() - started < 5
    assert "the Docker engine on deploy@server:22 did not answer within 1 s (Docker API timeout)" in str(
        timed_out.value
    )


def test_docker_failures_say_what_is_wrong_on_the_host() -> None:
    refused = ConnectionError("connection aborted")
    not_running = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the daemon running?"
    said = docker_error(WHERE, "deploy", 60, refused, not_running)
    assert "the Docker engine on deploy@server:22 does not answer (Cannot connect" in str(said)
    assert "systemctl start docker" in str(said)
    missing = docker_error(WHERE, "deploy", 60, refused, "sh: 1: docker: not found")
    assert "`docker` is not installed on deploy@server:22" in str(missing)
    other_socket = (
        "permission denied while trying to connect to the Docker daemon socket at "
        "unix:///run/user/1000/docker.sock: Get ..."
    )
    assert "permission denied on /run/user/1000/docker.sock" in str(
        docker_error(WHERE, "deploy", 60, refused, other_socket)
    )
