"""The SSH session budget: never more sessions than sshd allows, a refusal is one clear error."""

from __future__ import annotations

import itertools
import signal
import threading
import time
from typing import Any, cast

import paramiko
import pytest

from bluegreen import cancellation
from bluegreen.errors import BluegreenError, Cancelled, TunnelForbidden
from bluegreen.sessions import SESSION_BUDGET, SessionBudget, SessionsRefused
from bluegreen.ssh import SshHost
from tests.concurrently import in_threads
from tests.unit.fake_sshd import ADMINISTRATIVELY_PROHIBITED, CONNECT_FAILED, FakeSshd
from tests.unit.paramiko_server import ParamikoSshd


def test_many_threads_never_open_more_sessions_than_the_budget() -> None:
    sshd = FakeSshd(max_sessions=10)
    budget = SessionBudget(sshd.open_session, "deploy@server:22")
    held = budget.open(1)  # the lock, held all along

    def command() -> None:
        with budget.open(5):
            time.sleep(0.01)

    errors = in_threads(40, command)
    held.close()
    assert errors == []
    assert sshd.refused == 0
    assert sshd.peak == SESSION_BUDGET < 10
    assert (budget.in_use, sshd.open_now) == (0, 0)


def test_a_session_sshd_keeps_refusing_is_one_error_naming_max_sessions() -> None:
    sshd = FakeSshd(max_sessions=2)
    budget = SessionBudget(sshd.open_session, "deploy@server:22")
    first, second = budget.open(1), budget.open(1)
    started = time.monotonic()
    with pytest.raises(SessionsRefused) as refused:
        budget.open(10)
    message = str(refused.value)
    assert "deploy@server:22" in message and "`MaxSessions`" in message
    assert "code 2" in message and "MaxSessions 10" in message
    assert 2 <= time.monotonic() - started < 4, "a refusal is retried for a while, not for ever"
    assert budget.in_use == 2, "the refused session's unit went back to the budget"
    first.close()
    budget.open(1).close()  # a freed session can be opened again
    second.close()


def test_a_refused_session_is_retried_until_sshd_frees_one() -> None:
    sshd = FakeSshd(max_sessions=1)
    budget = SessionBudget(sshd.open_session, "deploy@server:22")
    first = budget.open(1)
    threading.Timer(0.3, first.close).start()  # sshd frees it a moment later
    budget.open(1).close()


def test_closing_twice_gives_back_one_unit() -> None:
    budget = SessionBudget(FakeSshd().open_session, "deploy@server:22", size=1)
    session = budget.open(1)
    session.close()
    session.close()
    budget.open(1).close()
    assert budget.in_use == 0


def test_waiting_for_a_free_session_has_a_limit() -> None:
    budget = SessionBudget(FakeSshd().open_session, "deploy@server:22", size=1)
    with budget.open(1), pytest.raises(BluegreenError, match="no SSH session to deploy@server:22"):
        budget.open(0.2)


class _RefusingTransport:
    def __init__(self, code: int) -> None:
        self.code = code

    def is_active(self) -> bool:
        return True

    def open_channel(self, *args: object, **kwargs: object) -> paramiko.Channel:
        text = {1: "Administratively prohibited", 2: "Connect failed"}[self.code]
        raise paramiko.ChannelException(self.code, text)


class _Client:
    def __init__(self, transport: _RefusingTransport) -> None:
        self.transport = transport

    def get_transport(self) -> _RefusingTransport:
        return self.transport


def host_whose_sshd_answers(code: int) -> SshHost:
    client = cast(paramiko.SSHClient, _Client(_RefusingTransport(code)))
    return SshHost(client, name="deploy@server:22", user="deploy")


def test_forbidden_forwarding_is_tunnel_forbidden_naming_the_setting_and_the_fix() -> None:
    host = host_whose_sshd_answers(ADMINISTRATIVELY_PROHIBITED)
    for attempt in (lambda: host.connect_tcp(8080, 5), lambda: host.check_tunnels(8080)):
        with pytest.raises(TunnelForbidden) as forbidden:
            attempt()
        message = str(forbidden.value)
        assert "deploy@server:22" in message and "`AllowTcpForwarding no`" in message
        assert "`Match User deploy`" in message and "`AllowTcpForwarding local`" in message


def test_a_closed_port_is_connection_refused_and_proves_forwarding_works() -> None:
    host = host_whose_sshd_answers(CONNECT_FAILED)
    with pytest.raises(ConnectionRefusedError):
        host.connect_tcp(8080, 5)
    host.check_tunnels(8080)


def test_sessions_refused_at_the_same_moment_are_each_retried() -> None:
    """paramiko keeps one saved reason per connection: of two opens refused at once, one used to get
    a bare "Unable to open channel." that was neither retried nor explained (a CI failure)."""
    opens = itertools.count()
    sshd = ParamikoSshd(refuse=lambda: next(opens) % 2 == 0)  # every other open, as a busy sshd
    host = SshHost(cast(paramiko.SSHClient, sshd), name="deploy@server:22", user="deploy")
    try:
        for _ in range(3):
            errors = in_threads(16, lambda: host.run(["true"]))
            assert errors == []
    finally:
        sshd.close()


class _SignalledRightAfterTaking:
    """A lock or semaphore whose acquire gets SIGTERM the moment it has taken it: the moment
    Python runs a signal handler at the end of the call, before the caller's next line."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        taken: bool = self.real.acquire(blocking, timeout)
        signal.raise_signal(signal.SIGTERM)
        return taken

    def release(self) -> None:
        self.real.release()


@pytest.mark.parametrize("taken_by_signal", ["channel lock", "session unit"])
def test_a_cancel_just_after_taking_the_channel_lock_or_a_session_gives_it_back(taken_by_signal: str) -> None:
    """A SIGINT in the drain once left the channel lock taken: the run then hung at exit (CI)."""
    sshd = ParamikoSshd(refuse=lambda: False)
    host = SshHost(cast(paramiko.SSHClient, sshd), name="deploy@server:22", user="deploy")
    budget = host._sessions
    free_units = budget._free
    channel_lock = host._channel_opens
    if taken_by_signal == "channel lock":
        host._channel_opens = _SignalledRightAfterTaking(channel_lock)  # type: ignore[assignment]
    else:
        budget._free = _SignalledRightAfterTaking(free_units)  # type: ignore[assignment]
    previous = signal.getsignal(signal.SIGTERM)
    cancellation.install()
    try:
        with pytest.raises(Cancelled):
            host.run(["true"])
    finally:
        signal.signal(signal.SIGTERM, previous)
    try:
        assert channel_lock.acquire(blocking=False), "the channel lock was left taken"
        channel_lock.release()
        units = [free_units.acquire(blocking=False) for _ in range(SESSION_BUDGET)]
        assert all(units) and budget.in_use == 0, "a session unit was lost"
    finally:
        sshd.close()
