"""The app's deploy lock on the host: an flock held by the SSH session, and who holds it."""

from __future__ import annotations

import json
from contextlib import suppress

from bluegreen import commands
from bluegreen.errors import BluegreenError, UnreadableFile
from bluegreen.host import CommandResult, Held, Host
from bluegreen.layout import Layout
from bluegreen.untrusted import decode, printable

CONFLICT_EXIT_CODE = 75


class DeployLock:
    """The app's lock: held from acquire() to release(); a second deploy waits up to `wait` seconds."""

    def __init__(self, host: Host, layout: Layout, app: str) -> None:
        self.host, self.layout, self.app = host, layout, app
        self._held: Held | None = None

    def acquire(self, wait: float, holder: dict[str, str]) -> None:
        self.host.run(commands.make_dirs(self.layout.app_dir)).check("creating the app directory")
        held = self.host.hold(commands.take_lock(self.layout.lock_file, wait), commands.LOCK_ACQUIRED, wait)
        if isinstance(held, CommandResult):
            if held.exit_code == CONFLICT_EXIT_CODE:
                raise BluegreenError(
                    f"another deploy of {self.app} holds the lock after {wait:g} s (lock-timeout): "
                    f"{lock_holder(self.host, self.layout) or 'unknown'}; wait for it to finish or raise "
                    "lock-timeout"
                )
            held.check("taking the deploy lock (needs `flock` on the host)")
            raise BluegreenError("taking the deploy lock failed")
        self._held = held
        self.host.write_file(self.layout.lock_holder_file, json.dumps(holder).encode())

    def release(self) -> None:
        if self._held is not None:
            with suppress(OSError, EOFError):
                self._held.close()
            self._held = None


def lock_holder(host: Host, layout: Layout) -> str:
    """Who wrote the lock-holder file last, as printable text ("" when unknown)."""
    try:
        raw = host.read_file(layout.lock_holder_file)
    except UnreadableFile:
        return ""
    return printable(decode(raw), 500).strip() if raw else ""


def is_locked(host: Host, layout: Layout) -> bool:
    return not host.run(["flock", "--nonblock", layout.lock_file, "true"]).ok
