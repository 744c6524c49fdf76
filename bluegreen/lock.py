"""The app's deploy lock on the host: an flock held by the SSH session, and who holds it."""

from __future__ import annotations

import json
import posixpath
from contextlib import suppress

from bluegreen import commands
from bluegreen.errors import BluegreenError, UnreadableFile, UnwritableDirectory
from bluegreen.host import CommandResult, Held, Host
from bluegreen.layout import Layout
from bluegreen.untrusted import decode, printable

CONFLICT_EXIT_CODE = 75
PERMISSION_DENIED = "Permission denied"
"""strerror(EACCES) in mkdir's message (in another locale its own message is shown)."""
CANNOT_OPEN_EXIT_CODE = 66
"""flock's exit code when it cannot open (create) the lock file: EX_NOINPUT."""


class DeployLock:
    """The app's lock: held from acquire() to release(); a second deploy waits up to `wait` seconds."""

    def __init__(self, host: Host, layout: Layout, app: str) -> None:
        self.host, self.layout, self.app = host, layout, app
        self._held: Held | None = None

    def acquire(self, wait: float, holder: dict[str, str]) -> None:
        """Take the lock (the app's directory is made first); nothing else changes on the host before."""
        app_dir = self.layout.app_dir
        made = self.host.run(commands.make_dirs(app_dir))
        if PERMISSION_DENIED in made.stderr:
            parent = posixpath.dirname(app_dir)
            user = self.host.user
            raise UnwritableDirectory(
                parent,
                user,
                f"`sudo install -d -o {user} {app_dir}` on the server (or a remote-dir {user} owns)",
            )
        made.check("creating the app directory")
        held = self.host.hold(commands.take_lock(self.layout.lock_file, wait), commands.LOCK_ACQUIRED, wait)
        if isinstance(held, CommandResult):
            if held.exit_code == CANNOT_OPEN_EXIT_CODE:
                raise UnwritableDirectory(app_dir, self.host.user)
            if held.exit_code == CONFLICT_EXIT_CODE:
                raise BluegreenError(
                    f"another deploy of {self.app} holds the lock after {wait:g} s (lock-timeout): "
                    f"{lock_holder(self.host, self.layout) or 'unknown'}; wait for it to finish or raise "
                    "lock-timeout"
                )
            held.check("taking the deploy lock (needs `flock` on the host)")
            raise BluegreenError("taking the deploy lock failed")
        self._held = held
        try:
            self.host.write_file(self.layout.lock_holder_file, json.dumps(holder).encode())
        except BaseException:
            self.release()
            raise

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
