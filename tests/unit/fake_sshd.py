"""Stand-ins for what sshd and paramiko do, for unit tests of bluegreen's SSH code without a server.

FakeSshd counts open session channels and refuses one beyond its MaxSessions the way OpenSSH does
(channel open failure, reason code 2). FakeChannel is one end of a socket pair whose other end is a
scripted "remote command" running in a thread.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any, cast

import paramiko

CONNECT_FAILED = 2
ADMINISTRATIVELY_PROHIBITED = 1


class FakeChannel:
    """Enough of paramiko.Channel for bluegreen: socket I/O, stderr, exit status, close."""

    def __init__(self, on_close: Callable[[], None] = lambda: None, remote: Remote | None = None) -> None:
        self._local, self.remote_end = socket.socketpair()
        self._on_close = on_close
        self._remote = remote
        self.stderr = b""
        self.exit_status: int | None = None
        self.eof_received = False
        self.closed = False

    def exec_command(self, command: str) -> None:
        if self._remote is not None:
            threading.Thread(target=self._remote, args=(self,), daemon=True).start()

    def exit(self, status: int, stderr: bytes = b"") -> None:
        """The remote command ends: its stderr, then EOF on its stdout, then its exit status."""
        self.stderr = stderr
        self.eof_received = True
        self.remote_end.close()
        self.exit_status = status

    def settimeout(self, timeout: float | None) -> None:
        self._local.settimeout(timeout)

    def sendall(self, data: bytes) -> None:
        self._local.sendall(data)

    def recv(self, size: int) -> bytes:
        return self._local.recv(size)

    def makefile(self, mode: str) -> Any:
        assert mode == "rb", mode  # what http.client asks for
        return self._local.makefile("rb")

    def fileno(self) -> int:
        return self._local.fileno()

    def exit_status_ready(self) -> bool:
        return self.exit_status is not None

    def recv_stderr_ready(self) -> bool:
        return bool(self.stderr)

    def recv_stderr(self, size: int) -> bytes:
        chunk, self.stderr = self.stderr[:size], self.stderr[size:]
        return chunk

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._local.close()
            self._on_close()


Remote = Callable[[FakeChannel], None]


class FakeSshd:
    """Session channels on one connection, refused beyond max_sessions like OpenSSH's MaxSessions."""

    def __init__(self, max_sessions: int = 10, remote: Remote | None = None) -> None:
        self.max_sessions = max_sessions
        self.remote = remote
        self.open_now = 0
        self.peak = 0
        self.refused = 0
        self._lock = threading.Lock()

    def open_session(self, timeout: float) -> paramiko.Channel:
        with self._lock:
            if self.open_now >= self.max_sessions:
                self.refused += 1
                raise paramiko.ChannelException(CONNECT_FAILED, "Connect failed")
            self.open_now += 1
            self.peak = max(self.peak, self.open_now)
        return cast(paramiko.Channel, FakeChannel(self._closed, self.remote))

    def _closed(self) -> None:
        with self._lock:
            self.open_now -= 1
