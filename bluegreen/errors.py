"""The one way bluegreen fails: a BluegreenError whose message says what went wrong and the fix."""


class BluegreenError(Exception):
    """A failure the user can act on. The edge prints its message once and exits non-zero."""

    live_color = ""
    """The color serving when the run failed (a failed run leaves it serving), once known."""
    target_color = ""
    """The color the run was switching to, once known."""


class InputError(BluegreenError):
    """An input is missing or invalid. Raised before anything touches the host."""

    def __init__(self, input_name: str, problem: str, fix: str) -> None:
        self.input_name = input_name
        super().__init__(f"input '{input_name}': {problem}. {fix}")


class RemoteCommandError(BluegreenError):
    """A command on the host exited non-zero."""

    def __init__(self, what: str, command: str, exit_code: int, output: str) -> None:
        self.exit_code = exit_code
        tail = "\n".join(output.strip().splitlines()[-15:])
        detail = f"\n{tail}" if tail else ""
        super().__init__(f"{what} failed (exit {exit_code}): {command}{detail}")
