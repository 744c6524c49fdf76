"""The one way bluegreen fails: a BluegreenError whose message says what went wrong and the fix."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bluegreen.untrusted import printable


class Failure(BaseException):
    """How a run ends early: an error the user can act on (`BluegreenError`) or a cancellation
    (`Cancelled`). Edges catch this; code inside the run catches the failure's own class."""

    live_color = ""
    """The color serving when the run failed (a failed run leaves it serving), once known."""
    target_color = ""
    """The color the run was switching to, once known."""


class BluegreenError(Failure, Exception):
    """A failure the user can act on. The edge prints its message once and exits non-zero."""


@dataclass(frozen=True)
class InputNaming:
    """How an edge names inputs in its errors."""

    subject: Callable[[str], str]
    """The input the error is about."""
    reference: Callable[[str], str | None]
    """An input named in a fix (None: keep the backticked word)."""
    how_to_set: Callable[[str], str]
    """The fix for an input that needs a value."""


ACTION_NAMING = InputNaming(
    subject=lambda name: f"input '{name}'",
    reference=lambda name: None,
    how_to_set=lambda name: f"Set `{name}` in the step's `with:`",
)
INPUT_REFERENCE = re.compile(r"`([a-z][a-z0-9]*(?:-[a-z0-9]+)*)`")


class InputError(BluegreenError):
    """An input is missing or invalid. Raised before anything touches the host.

    The input's name, the problem and the fix are kept apart so that each edge names inputs its
    own way (the action: `host` in the step's `with:`; the CLI: --host). A fix names inputs in
    backticks; an empty fix means "give the input a value". str() is the action's wording.
    """

    def __init__(self, input_name: str, problem: str, fix: str = "") -> None:
        self.input_name = input_name
        self.problem = problem
        self.fix = fix
        super().__init__(self.message(ACTION_NAMING))

    def message(self, naming: InputNaming) -> str:
        if self.fix:
            fix = INPUT_REFERENCE.sub(lambda found: naming.reference(found[1]) or found[0], self.fix)
        else:
            fix = naming.how_to_set(self.input_name)
        return f"{naming.subject(self.input_name)}: {self.problem}. {fix}"


class RemoteCommandError(BluegreenError):
    """A command on the host exited non-zero."""

    def __init__(self, what: str, command: str, exit_code: int, output: str) -> None:
        self.exit_code = exit_code
        # The output is the server's text: no escape sequence of it reaches a terminal or a log.
        tail = printable("\n".join(output.strip().split("\n")[-15:]))
        detail = f"\n{tail}" if tail else ""
        super().__init__(f"{what} failed (exit {exit_code}): {command}{detail}")


class CommandTimedOut(BluegreenError):
    """A command on the host ran past its timeout (it may still run there)."""


class Cancelled(Failure):
    """The run was told to stop (SIGINT, SIGTERM: a cancelled workflow, `docker stop`). Not an
    `Exception`, like KeyboardInterrupt: no `except Exception` (nor `except BluegreenError`)
    swallows it, by construction."""


class TunnelForbidden(BluegreenError):
    """sshd refuses TCP forwarding (direct-tcpip), which the health probe and the verification use."""

    def __init__(self, where: str, user: str) -> None:
        super().__init__(
            f"sshd on {where} forbids TCP forwarding (`AllowTcpForwarding no` in sshd_config, or "
            "`restrict`/`no-port-forwarding` on the key in authorized_keys): bluegreen probes the new "
            "color's health through the SSH connection. Nothing was changed on the host. Fix: add "
            f"`Match User {user}` followed by `AllowTcpForwarding local` at the end of "
            "/etc/ssh/sshd_config on the server, then reload sshd"
        )


class UnreadableFile(BluegreenError):
    """A file bluegreen reads on the host is not a regular file, too large, or does not answer."""

    def __init__(self, path: str, why: str) -> None:
        self.path = path
        super().__init__(f"cannot read {path} on the host: {why}")


class UnwritableDirectory(BluegreenError):
    """The SSH user may not write in a directory bluegreen writes to on the host."""

    def __init__(self, directory: str, user: str, fix: str = "") -> None:
        self.directory = directory
        fix = fix or f"`sudo chown {user} {directory}` on the server"
        super().__init__(f"{user} cannot write in {directory} on the host (permission denied). Fix: {fix}")
