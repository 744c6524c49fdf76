"""One run from raw inputs to a Result: validate, connect, run the command, disconnect, and notify
(`webhook-url`) once, with the Result or the Failure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import suppress
from pathlib import Path

from bluegreen import cancellation
from bluegreen.config import SECRET_INPUTS, parse_inputs, webhook_of
from bluegreen.deploy import Result, run_command
from bluegreen.envfile import EnvSyntaxError, quote_for_compose_v1, quote_for_compose_v2, read_env
from bluegreen.errors import Failure, InputError
from bluegreen.notify import Notice, PhaseWatch, Webhook
from bluegreen.progress import Reporter, Timer
from bluegreen.redact import redact, secret_fragments
from bluegreen.ssh import HostKeyCheck, connect
from bluegreen.untrusted import printable


def execute(raw_inputs: Mapping[str, str], reporter: Reporter, workspace: Path = Path(".")) -> Result:
    """Run the command; every message and the final error are screened (see `Screen`)."""
    screen = Screen(secrets_of(raw_inputs))
    watch = PhaseWatch(ScreenedReporter(reporter, screen))
    notice = Notice(_webhook(raw_inputs), raw_inputs, watch, screen.text)
    notice.begin()
    try:
        result = _execute(raw_inputs, watch, workspace)
    except Failure as exc:
        screen.error(exc)
        notice.failed(exc, watch.failed_phase)
        raise
    notice.succeeded(result)
    return result


def _webhook(raw_inputs: Mapping[str, str]) -> Webhook | None:
    """The webhook, read first: a run whose other inputs are bad still notifies. A bad webhook
    input is reported with the other inputs' errors, by parse_inputs."""
    try:
        return webhook_of(raw_inputs)
    except InputError:
        return None


def _execute(raw_inputs: Mapping[str, str], reporter: Reporter, workspace: Path) -> Result:
    cancellation.install()
    config = parse_inputs(raw_inputs, workspace)
    if config.insecure_skip_host_key_check:
        reporter.warning("insecure-skip-host-key-check is true: the server's identity is NOT verified")
    check = HostKeyCheck(
        known_hosts=config.known_hosts,
        fingerprint=config.host_fingerprint,
        insecure=config.insecure_skip_host_key_check,
    )
    timer = Timer(reporter)
    with timer.phase("connect"):
        host = connect(
            config.host, config.port, config.username, config.ssh_key, check, config.connect_timeout
        )
    try:
        return run_command(config, host, reporter, timer)
    finally:
        host.close()


def secrets_of(raw_inputs: Mapping[str, str]) -> list[str]:
    """The secret inputs, each `env` value alone (as written after its `=`, and as read, without
    its quotes), and each value as written in the env file (compose quotes what it cannot parse in
    that form)."""
    secrets = [raw_inputs.get(name) or "" for name in SECRET_INPUTS]
    env = raw_inputs.get("env") or ""
    values = [line.partition("=")[2] for line in env.split("\n") if "=" in line]
    with suppress(EnvSyntaxError):  # the input is refused; its lines are masked all the same
        values += [value for _, value in read_env(env)]
    for value in values:
        for written in (quote_for_compose_v2(value), quote_for_compose_v1(value)):
            secrets += [value, written, written[1:-1]]
    return secrets


class Screen:
    """The last line of defence before anything is shown: secrets become ***, then control
    characters (text from the server may carry terminal escape sequences) are dropped."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.fragments = secret_fragments(secrets)

    def text(self, message: str) -> str:
        return printable(redact(message, self.fragments), limit=20_000)

    def error(self, exc: Failure) -> None:
        """Screen the error in place: its type and attributes stay, its texts are screened."""
        exc.args = tuple(self.text(arg) if isinstance(arg, str) else arg for arg in exc.args)
        for name, value in vars(exc).items():
            if isinstance(value, str):
                setattr(exc, name, self.text(value))


class ScreenedReporter:
    """A Reporter that passes every message through a Screen."""

    def __init__(self, inner: Reporter, screen: Screen) -> None:
        self.inner = inner
        self.screen = screen

    def phase_started(self, name: str) -> None:
        self.inner.phase_started(self.screen.text(name))

    def phase_ended(self, name: str, seconds: float, ok: bool) -> None:
        self.inner.phase_ended(self.screen.text(name), seconds, ok)

    def info(self, message: str) -> None:
        self.inner.info(self.screen.text(message))

    def warning(self, message: str) -> None:
        self.inner.warning(self.screen.text(message))
