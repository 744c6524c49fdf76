"""SIGTERM becomes Cancelled, but never in the middle of an SSH message.

CI once saw a SIGTERM arrive while paramiko wrote a packet: the connection the cleanup needs was
left with half a message on it (and paramiko, catching `Exception`, turned the cancellation into
EOFError while Cancelled was still an Exception).
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from typing import Any

import paramiko
import pytest
from paramiko.packet import Packetizer

from bluegreen import cancellation
from bluegreen.errors import Cancelled
from bluegreen.ssh import shield_writes


@pytest.fixture(autouse=True)
def cancelling_handlers() -> Iterator[None]:
    before = {signum: signal.getsignal(signum) for signum in cancellation.CANCELLING_SIGNALS}
    cancellation.install()
    yield
    for signum, handler in before.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_outside_a_shielded_block_cancels_at_once(signum: signal.Signals) -> None:
    with pytest.raises(Cancelled, match=f"cancelled by signal {signum.name}"):
        signal.raise_signal(signum)
        pytest.fail("the run went on after the signal")


def test_a_signal_inside_a_shielded_block_cancels_when_the_outermost_block_ends() -> None:
    finished = []
    with pytest.raises(Cancelled, match="SIGTERM"), cancellation.shielded():
        with cancellation.shielded():
            signal.raise_signal(signal.SIGTERM)
            finished.append("inner")
        finished.append("outer")
    assert finished == ["inner", "outer"]
    with cancellation.shielded():
        pass  # the cancellation was raised once, not again


class SignalledSocket:
    """A socket that is sent SIGTERM while it writes, as a cancelled workflow's socket may be."""

    def __init__(self, inner: socket.socket) -> None:
        self.inner = inner
        self.signalled = False

    def send(self, data: bytes) -> int:
        if not self.signalled:
            self.signalled = True
            signal.raise_signal(signal.SIGTERM)
        return self.inner.send(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def message() -> paramiko.Message:
    written = paramiko.Message()
    written.add_byte(bytes([paramiko.common.MSG_IGNORE]))
    written.add_string(b"x" * 1000)
    return written


def test_unshielded_paramiko_leaves_the_message_cut() -> None:
    """Why the shield exists: a cancellation raised in the socket write leaves the packet unsent
    (paramiko's own `except Exception` no longer hides it, since Cancelled is no Exception)."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        packetizer = Packetizer(SignalledSocket(ours))  # type: ignore[arg-type]
        with pytest.raises(Cancelled):
            packetizer.send_message(message())
        theirs.setblocking(False)
        with pytest.raises(BlockingIOError):
            theirs.recv(65536)  # nothing of the message went out


def test_a_cancellation_is_no_exception_so_no_broad_handler_swallows_it() -> None:
    with pytest.raises(Cancelled):
        try:
            raise Cancelled("cancelled by signal SIGTERM")
        except Exception:
            pytest.fail("`except Exception` caught a cancellation")


def test_a_cancellation_while_the_host_writes_a_message_waits_for_the_whole_message() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        transport = paramiko.Transport(SignalledSocket(ours))  # type: ignore[arg-type]
        shield_writes(transport)
        transport.active = True  # type: ignore[attr-defined]  # as after the handshake, which this test skips
        transport.clear_to_send.set()
        with pytest.raises(Cancelled, match="SIGTERM"):
            transport._send_user_message(message())  # type: ignore[attr-defined]
        assert transport.clear_to_send_lock.acquire(blocking=False)  # the send lock was released
        theirs.settimeout(5)
        received = b""
        while len(received) < 1000:
            received += theirs.recv(65536)
        assert b"x" * 1000 in received  # the packet went out whole
