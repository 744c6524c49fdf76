"""The action's entry point: the one place that knows GitHub.

It reads the step's inputs from the INPUT_* environment, masks the secrets before anything is
printed, shows each phase as a log group, writes the outputs to $GITHUB_OUTPUT and a summary to
$GITHUB_STEP_SUMMARY, and reports a failure as exactly one `::error::` line and a non-zero exit.
The work itself is `bluegreen.run.execute`; it is imported only after the secrets are masked.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from bluegreen.deploy import Result
    from bluegreen.smoke import SmokeCheck

# The outputs declared in action.yml (a test keeps the two in step), from Result fields.
OUTPUTS = (
    "active-color",
    "previous-color",
    "status",
    "duration-seconds",
    "image",
    "deployed-at",
    "deployed-by",
    "lock-holder",
    "certificate-expires",
    "switch-mode",
    "deploy-id",
    "hosts-json",
    "canary",
)
SWITCH_MODES = {
    "seamless": "seamless (no reload: no connection closed)",
    "reload": "nginx reloaded (idle keep-alive connections closed)",
}
INPUT_PREFIX = "INPUT_"
# Lines the runner would take as a workflow command: the `::cmd::` form and the older `##[cmd]`.
COMMAND_STARTS = ("::", "##[")


# ---- workflow commands and files (pure) -----------------------------------------------------


def escape_data(value: str) -> str:
    """Escape a workflow command's message, as the runner unescapes it."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def command(name: str, message: str = "") -> str:
    return f"::{name}::{escape_data(message)}"


def mask_commands(secret: str, key_value_lines: bool = False) -> list[str]:
    """`::add-mask::` for each non-empty line: the runner masks the log line by line.

    With key_value_lines (the `env` input), a `KEY=VALUE` line also masks its value alone, which
    may be printed apart from its key.
    """
    masks: list[str] = []
    for line in secret.splitlines():
        masks.append(line.strip())
        _, equals, value = line.partition("=")
        if key_value_lines and equals:
            masks.append(value.strip())
    return [command("add-mask", mask) for mask in dict.fromkeys(masks) if mask]


def plain(line: str) -> str:
    """A log line that is never run as a workflow command (text may come from the server)."""
    return f"> {line}" if line.lstrip().startswith(COMMAND_STARTS) else line


def inputs_from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """INPUT_SSH-KEY -> ssh-key. The runner upper-cases names and keeps hyphens."""
    return {
        key[len(INPUT_PREFIX) :].lower(): value
        for key, value in environ.items()
        if key.startswith(INPUT_PREFIX) and len(key) > len(INPUT_PREFIX)
    }


def new_delimiter() -> str:
    return f"ghadelimiter_{secrets.token_hex(16)}"


def outputs_text(outputs: Mapping[str, str], delimiter: str | None = None) -> str:
    """$GITHUB_OUTPUT lines, every value in `name<<DELIMITER` form so any value is safe.

    The delimiter is random (as the runner's own) unless given; it never occurs in a value.
    """
    texts = [text for item in outputs.items() for text in item]
    while delimiter is None or any(delimiter in text for text in texts):
        if delimiter is not None:
            raise ValueError("the delimiter occurs in an output")
        delimiter = new_delimiter()
    return "".join(f"{name}<<{delimiter}\n{value}\n{delimiter}\n" for name, value in outputs.items())


def result_outputs(result: Result, seconds: float) -> dict[str, str]:
    return {
        "active-color": result.active_color,
        "previous-color": result.previous_color,
        "status": result.status,
        "duration-seconds": f"{seconds:.1f}",
        "image": result.image,
        "deployed-at": result.deployed_at,
        "deployed-by": result.deployed_by,
        "lock-holder": result.lock_holder,
        "certificate-expires": result.certificate_expires,
        "switch-mode": result.switch_mode,
        "deploy-id": result.deploy_id,
        "hosts-json": json.dumps([asdict(host) for host in result.hosts]),
        "canary": result.canary,
    }


def failure_outputs(
    seconds: float, live_color: str = "", canary: str = "", hosts_json: str = ""
) -> dict[str, str]:
    """A failed run leaves the live color serving: say which, once it was known (and an aborted
    canary what was measured, and each host's part)."""
    outputs = {"status": "failed", "duration-seconds": f"{seconds:.1f}"}
    if live_color:
        outputs["active-color"] = live_color
    if canary:
        outputs["canary"] = canary
    if hosts_json:
        outputs["hosts-json"] = hosts_json
    return outputs


@dataclass(frozen=True)
class Failed:
    """The one error to report, and the color still serving when it was known."""

    message: str
    live_color: str = ""
    hosts_json: str = ""
    canary: str = ""
    """An aborted canary's figures beside the limits."""


@dataclass
class PhaseRow:
    name: str
    depth: int
    seconds: float | None = None
    ok: bool | None = None


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|") or "—"


def _code(text: str) -> str:
    return f"`{_cell(text)}`" if text else "—"


def _fenced(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text.rstrip()}\n{fence}\n"


def certificate_line(verify_url: str, expires: str, now: datetime) -> str:
    """The summary's line on the TLS certificate the verification saw ("" when it saw none)."""
    if not expires:
        return ""
    host = urlsplit(verify_url.strip()).hostname or "the site"
    days = (datetime.strptime(expires, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) - now).days
    return f"TLS certificate of {_code(host)}: expires {expires[:10]} ({days} days)"


def summary_markdown(
    *,
    command_name: str,
    app: str,
    host: str,
    status: str,
    before: str,
    after: str,
    image: str,
    seconds: float,
    phases: Sequence[PhaseRow],
    error: str = "",
    certificate: str = "",
    switch_mode: str = "",
    smoke: Sequence[SmokeCheck] = (),
    hosts: Sequence[Mapping[str, object]] = (),
) -> str:
    """The job summary: what was deployed where, the colors, and every phase with its time."""
    lines = [
        f"### bluegreen {command_name} of {_code(app)}: {status}",
        "",
        "| | |",
        "|---|---|",
        f"| Status | {_cell(status)} |",
        f"| Server | {_code(host)} |",
        f"| Color before | {_cell(before)} |",
        f"| Color after | {_cell(after)} |",
        f"| Image | {_code(image)} |",
        *([f"| Switch | {_cell(SWITCH_MODES.get(switch_mode, switch_mode))} |"] if switch_mode else []),
        f"| Duration | {seconds:.1f} s |",
        "",
    ]
    if certificate:
        lines += [certificate, ""]
    if phases:
        lines += ["| Phase | Result | Seconds |", "|---|---|---:|"]
        for row in phases:
            name = "↳ " * row.depth + row.name
            result = "—" if row.ok is None else ("ok" if row.ok else "failed")
            took = "—" if row.seconds is None else f"{row.seconds:.2f}"
            lines.append(f"| {_cell(name)} | {result} | {took} |")
        lines.append("")
    if smoke:
        lines += ["| Smoke path | Expected | Answer | ms |", "|---|---|---|---:|"]
        for check in smoke:
            answer = check.answer if check.ok else f"{check.answer} (failed)"
            request = f"{check.method} {check.path}"
            lines.append(
                f"| {_code(request)} | {_cell(check.expected)} | {_cell(answer)} | {check.milliseconds} |"
            )
        lines.append("")
    if len(hosts) > 1 or any(host.get("failed_phase") for host in hosts):
        lines += ["| Host | Color | Status | Failed in | Seconds |", "|---|---|---|---|---:|"]
        for host_row in hosts:
            cells = [_code(str(host_row.get("host", "")))]
            cells += [_cell(str(host_row.get(key, ""))) for key in ("active_color", "status", "failed_phase")]
            seconds_there = float(str(host_row.get("duration_seconds") or 0))
            lines.append(f"| {' | '.join(cells)} | {seconds_there:.1f} |")
        lines.append("")
    text = "\n".join(lines) + "\n"
    if error:
        text += "**Error**\n\n" + _fenced(error)
    return text


def hosts_rows(hosts_json: str) -> list[dict[str, object]]:
    """The hosts-json output's rows (none when it is empty or not a list of objects)."""
    try:
        rows = json.loads(hosts_json) if hosts_json else []
    except ValueError:
        return []
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


# ---- the log ----------------------------------------------------------------------------------


class GitHubReporter:
    """bluegreen's Reporter for a workflow log: one group per phase, warnings as annotations.

    Groups cannot nest in a GitHub log, so a phase that starts inside another ends the outer
    group; a group is opened only once its phase prints something, so an outer phase leaves no
    empty group behind. The rows kept for the summary remember the nesting.
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.rows: list[PhaseRow] = []
        self._running: list[PhaseRow] = []
        self._pending: str | None = None
        self._group: str | None = None

    def emit(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def text(self, message: str) -> None:
        self._open_pending()
        for line in message.splitlines() or [""]:
            self.emit(plain(line))

    def phase_started(self, name: str) -> None:
        self.end_group()
        row = PhaseRow(name, depth=len(self._running))
        self.rows.append(row)
        self._running.append(row)
        self._pending = name

    def phase_ended(self, name: str, seconds: float, ok: bool) -> None:
        row = next((r for r in reversed(self._running) if r.name == name), None)
        if row is not None:
            self._running.remove(row)
            row.seconds, row.ok = seconds, ok
        if name not in (self._pending, self._group):
            self.end_group()
        self.text(f"{name}: {'done' if ok else 'FAILED'} in {seconds:.2f} s")
        self.end_group()

    def info(self, message: str) -> None:
        self.text(message)

    def warning(self, message: str) -> None:
        self._open_pending()
        self.emit(command("warning", message))

    def error(self, message: str) -> None:
        self.end_group()
        self.emit(command("error", message))

    def end_group(self) -> None:
        self._pending = None
        if self._group is not None:
            self.emit(command("endgroup"))
            self._group = None

    def _open_pending(self) -> None:
        if self._pending is not None:
            self.emit(command("group", self._pending))
            self._group, self._pending = self._pending, None


class _LogToReporter(logging.Handler):
    """Library log records: bluegreen's warnings become annotations, the rest plain lines."""

    def __init__(self, reporter: GitHubReporter) -> None:
        super().__init__(logging.WARNING)
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name.split(".")[0] == "bluegreen":
            self.reporter.warning(message)
        else:
            self.reporter.text(f"{record.name}: {message}")


# ---- the run ----------------------------------------------------------------------------------


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as file:
            file.write(text)


def _execute(
    raw: dict[str, str], env: Mapping[str, str], reporter: GitHubReporter, command_name: str
) -> Result | Failed:
    """Mask the secrets, then run bluegreen: its Result, or the one error to report."""
    try:
        from bluegreen.config import SECRET_INPUTS

        for name in SECRET_INPUTS:
            for line in mask_commands(raw.get(name, ""), key_value_lines=name == "env"):
                reporter.emit(line)
        logging.getLogger().addHandler(_LogToReporter(reporter))

        from bluegreen.errors import Failure
        from bluegreen.run import execute

        workspace = Path(env.get("GITHUB_WORKSPACE") or os.getcwd())
        try:
            return execute(raw, reporter, workspace)
        except Failure as exc:
            return Failed(
                f"bluegreen {command_name} failed: {exc}",
                exc.live_color,
                hosts_json=exc.hosts_json,
                canary=getattr(exc, "figures", ""),
            )
    except KeyboardInterrupt as exc:
        return Failed(
            f"bluegreen {command_name} was cancelled ({exc or 'interrupted'}); see the log for its cleanup"
        )
    except Exception as exc:
        reporter.end_group()
        reporter.text(traceback.format_exc())
        return Failed(
            f"bluegreen {command_name} failed unexpectedly: {type(exc).__name__}: {exc} "
            "(a bug in bluegreen: please report it with this log)"
        )


def main(environ: Mapping[str, str] | None = None, out: TextIO | None = None) -> int:
    started = time.monotonic()
    env = os.environ if environ is None else environ
    reporter = GitHubReporter(out or sys.stdout)
    raw = inputs_from_env(env)
    command_name = raw.get("command", "").strip() or "deploy"
    outcome = _execute(raw, env, reporter, command_name)
    seconds = time.monotonic() - started
    reporter.end_group()

    if isinstance(outcome, Failed):
        reporter.error(outcome.message)
        outputs = failure_outputs(seconds, outcome.live_color, outcome.canary, outcome.hosts_json)
        app, image = raw.get("app-name", "").strip(), raw.get("image", "").strip()
        before = after = outcome.live_color or "—"  # a failed run leaves the live color serving
    else:
        line = f"{outcome.status}: {outcome.app_name} live color {outcome.active_color or 'none'}"
        reporter.text(line + (f" (was {outcome.previous_color})" if outcome.previous_color else ""))
        outputs = result_outputs(outcome, seconds)
        app, image = outcome.app_name, outcome.image
        before, after = outcome.previous_color or "none", outcome.active_color or "none"
    host, port = raw.get("host", "").strip(), raw.get("port", "").strip()
    several = ", ".join(line.strip() for line in raw.get("hosts", "").splitlines() if line.strip())
    summary = summary_markdown(
        command_name=command_name,
        app=app,
        host=f"{host}:{port}" if host and port else host or several,
        status=outputs["status"],
        before=before,
        after=after,
        image=image,
        seconds=seconds,
        phases=reporter.rows,
        error=outcome.message if isinstance(outcome, Failed) else "",
        certificate=certificate_line(
            raw.get("verify-url", ""), outputs.get("certificate-expires", ""), datetime.now(UTC)
        ),
        switch_mode=outputs.get("switch-mode", ""),
        smoke=() if isinstance(outcome, Failed) else outcome.smoke,
        hosts=hosts_rows(outputs.get("hosts-json", "")),
    )
    _append(env.get("GITHUB_OUTPUT"), outputs_text(outputs))
    _append(env.get("GITHUB_STEP_SUMMARY"), summary)
    return 1 if isinstance(outcome, Failed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
