"""A budget of SSH session channels on one connection: never more open at once than sshd allows.

OpenSSH refuses a session channel beyond `MaxSessions` (10 by default) per connection. A deploy
holds several at once: the lock (a held `flock`), SFTP, the Docker SDK's `docker system
dial-stdio` connections and the commands of the main and background threads. Every session the
host opens takes one unit of this budget and gives it back when it is closed; a thread that finds
none free waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import paramiko

from bluegreen.cancellation import shielded
from bluegreen.errors import BluegreenError

SESSION_BUDGET = 8
"""Below OpenSSH's default MaxSessions (10): sshd frees a closed session only once its command has
exited, so a session we just closed may still count on the server for a moment."""

DOCKER_SESSIONS = 3
"""Of the budget, what the Docker SDK's connection pool may hold (idle connections stay open)."""

REFUSED_RETRY_SECONDS = 3.0
"""How long a refused session is retried: the server may not yet have freed sessions we closed."""


class SessionsRefused(BluegreenError):
    """sshd refused a session channel although bluegreen stays below OpenSSH's default limit."""

    def __init__(self, where: str, in_use: int, reason: str) -> None:
        super().__init__(
            f"sshd on {where} refused to open another SSH session ({reason}) with {in_use} open on the "
            f"connection: its `MaxSessions` is lower than bluegreen needs ({SESSION_BUDGET + 2}). "
            "Fix: set `MaxSessions 10` (OpenSSH's default) or more in /etc/ssh/sshd_config on the server "
            "and reload sshd"
        )


class Session:
    """One session channel and its unit of the budget; close() closes the channel and returns the unit."""

    def __init__(self, channel: paramiko.Channel, release: Callable[[], None]) -> None:
        self.channel = channel
        self._release: Callable[[], None] | None = release
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            release, self._release = self._release, None
        if release is None:
            return
        try:
            self.channel.close()
        finally:
            release()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SessionBudget:
    def __init__(
        self, open_channel: Callable[[float], paramiko.Channel], where: str, size: int = SESSION_BUDGET
    ) -> None:
        self._open_channel = open_channel
        self._where = where
        self._size = size
        self._free = threading.BoundedSemaphore(size)
        self._in_use = 0
        self._count_lock = threading.Lock()

    @property
    def in_use(self) -> int:
        return self._in_use

    def open(self, timeout: float) -> Session:
        """A new session channel, once one of the budget is free (waiting up to `timeout` s)."""
        taken = False
        try:
            with shielded():  # a cancel between taking a unit and counting it would lose the unit
                taken = self._free.acquire(timeout=timeout)
                if taken:
                    self._count(+1)
            if not taken:
                raise BluegreenError(
                    f"no SSH session to {self._where} became free within {timeout:g} s "
                    f"(bluegreen keeps at most {self._size} open on its connection)"
                )
            channel = self._open_retrying(timeout)
        except BaseException:
            if taken:
                self._give_back()
            raise
        return Session(channel, self._give_back)

    def _open_retrying(self, timeout: float) -> paramiko.Channel:
        deadline = time.monotonic() + min(timeout, REFUSED_RETRY_SECONDS)
        delay = 0.05
        while True:
            try:
                return self._open_channel(timeout)
            except paramiko.ChannelException as exc:
                if time.monotonic() + delay > deadline:
                    reason = f"channel open failed: code {exc.code}, {exc.text}"
                    raise SessionsRefused(self._where, self._in_use, reason) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _count(self, change: int) -> None:
        with self._count_lock:
            self._in_use += change

    def _give_back(self) -> None:
        self._count(-1)
        self._free.release()
