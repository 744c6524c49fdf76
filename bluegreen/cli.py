"""`bluegreen deploy|rollback|status`: the action's inputs as flags (or a --config file)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata

from bluegreen import __version__, cancellation
from bluegreen.cli_inputs import ENV_VARIABLES, FILE_FLAGS, Gathered, cli_naming
from bluegreen.config import input_specs
from bluegreen.errors import Failure, InputError
from bluegreen.progress import StderrReporter
from bluegreen.result import Result
from bluegreen.run import execute

DESCRIPTIONS = {
    "deploy": "Start the new version beside the live one, switch nginx to it once it is healthy, "
    "let in-flight requests finish, then stop the old one.",
    "rollback": "Switch back to the color the last deploy kept, through the same health gate, "
    "switch, verification and drain.",
    "status": "Print the live color, its image, who deployed it and when, and who holds the deploy lock.",
    "promote": "Go on with a canary paused at a `pause` step, from the recorded step.",
    "abort": "Send all traffic of a paused canary back to the old color and take the new one away.",
}
# `bluegreen deploy --help` shows the inputs in these groups; every input of action.yml (but
# `command`, the subcommand) belongs to one (a test checks).
GROUPS: dict[str, tuple[str, ...]] = {
    "connection": (
        "host",
        "hosts",
        "port",
        "username",
        "ssh-key",
        "ssh-key-passphrase",
        "known-hosts",
        "host-fingerprint",
        "insecure-skip-host-key-check",
        "connect-timeout",
    ),
    "app": (
        "app-name",
        "compose-file",
        "image",
        "env",
        "shared-services",
        "release-command",
        "release-service",
        "release-timeout",
        "smoke-paths",
        "smoke-timeout",
        "remote-dir",
        "blue-port",
        "green-port",
        "health-path",
    ),
    "proxy": (
        "nginx-template",
        "http-port",
        "proxy-image",
        "proxy-volumes",
        "proxy-container",
        "proxy-config-file",
        "verify-url",
    ),
    "timing": ("health-timeout", "drain-timeout", "lock-timeout"),
    "fleet": ("parallel", "batch-size", "batch-wait"),
    "registry": ("registry", "registry-username", "registry-password"),
    "notification": ("webhook-url", "webhook-timeout"),
    "canary": (
        "strategy",
        "canary-steps",
        "canary-interval",
        "canary-max-error-rate",
        "canary-max-latency-ratio",
        "canary-min-requests",
        "canary-sticky",
    ),
}
UNGROUPED = "more"
# The inputs each command reads; the others are accepted (one config file or set of flags serves
# every command) but not shown in its --help.
STATUS_INPUTS = (
    *GROUPS["connection"],
    "parallel",
    "app-name",
    "remote-dir",
    "proxy-container",
    "proxy-config-file",
    "verify-url",
)
NOT_FOR_ROLLBACK = (
    "compose-file",
    "image",
    "env",
    "shared-services",
    "release-command",
    "release-service",
    "release-timeout",
    "smoke-paths",
    "smoke-timeout",
    "registry",
    "registry-username",
    "registry-password",
)
REPEATABLE = ("hosts",)
"""Inputs whose flag may be given several times: the values become lines."""
SECRET_HINTS = {
    "ssh-key": "--ssh-key-file",
    "ssh-key-passphrase": "--ssh-key-passphrase-file or $BLUEGREEN_SSH_KEY_PASSPHRASE",
    "env": "--env-file",
    "registry-password": "--registry-password-file or $BLUEGREEN_REGISTRY_PASSWORD",
    "webhook-url": "$BLUEGREEN_WEBHOOK_URL",
}


def version() -> str:
    try:
        return metadata.version("bluegreen")
    except metadata.PackageNotFoundError:  # run from a checkout
        return __version__


def used_by(command: str, name: str) -> bool:
    if command == "status":
        return name in STATUS_INPUTS
    return not (command in ("rollback", "promote", "abort") and name in NOT_FOR_ROLLBACK)


def group_of(name: str) -> str:
    return next((group for group, names in GROUPS.items() if name in names), UNGROUPED)


def _help(name: str, shown: bool) -> str:
    if not shown:
        return argparse.SUPPRESS
    spec = input_specs()[name]
    text = spec.description
    if spec.name in SECRET_HINTS:
        text += f" On the command line it shows in `ps`: prefer {SECRET_HINTS[spec.name]}."
    return (text + (f" (default: {spec.default})" if spec.default else "")).replace("%", "%%")


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser], command: str) -> None:
    parser = sub.add_parser(command, help=DESCRIPTIONS[command], description=DESCRIPTIONS[command])
    groups = {name: parser.add_argument_group(f"{name} options") for name in (*GROUPS, UNGROUPED)}
    general = parser.add_argument_group("general options")
    for spec in input_specs().values():
        if spec.name == "command":
            continue
        group, shown = groups[group_of(spec.name)], used_by(command, spec.name)
        if spec.default in ("true", "false"):
            group.add_argument(
                f"--{spec.name}",
                dest=spec.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=_help(spec.name, shown),
            )
        else:
            metavar = spec.name.split("-")[-1].upper()
            repeatable = spec.name in REPEATABLE
            group.add_argument(
                f"--{spec.name}",
                dest=spec.name,
                metavar=metavar,
                action="append" if repeatable else "store",
                help=_help(spec.name, shown),
            )
    for flag, name in FILE_FLAGS.items():
        shown = used_by(command, name)
        help_text = f"Read `{name}` from this file." if shown else argparse.SUPPRESS
        groups[group_of(name)].add_argument(f"--{flag}", dest=flag, metavar="PATH", help=help_text)
    general.add_argument(
        "--config",
        metavar="FILE",
        help="YAML file of `input: value` lines (the action's inputs, and the *-file flags' names "
        "without --); flags override it. Paths are relative to the current directory.",
    )
    general.add_argument("--json", action="store_true", help="Print the result as JSON on the last line.")
    for group in groups.values():
        if not group._group_actions:
            parser._action_groups.remove(group)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bluegreen",
        description="Zero-downtime blue-green deploys of a docker-compose app to a server over SSH.",
        epilog=f"Secrets: {', '.join(f'${v} sets `{n}`' for n, v in ENV_VARIABLES.items())}; "
        "see `bluegreen COMMAND --help` for the flags of each command.",
    )
    parser.add_argument("--version", action="version", version=f"bluegreen {version()}")
    sub = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")
    for command in DESCRIPTIONS:
        add_command(sub, command)
    return parser


def summary_lines(result: Result) -> list[str]:
    """What the run did, for people (stderr); --json prints the whole Result."""
    line = f"{result.status}: {result.app_name} live color {result.active_color or 'none'}"
    if result.previous_color:
        line += f" (was {result.previous_color})"
    lines = [line]
    if result.command == "status" and result.active_color:
        who = result.deployed_by or "unknown"
        lines.append(f"deployed {result.deployed_at or 'at an unknown time'} by {who}")
        if result.image:
            lines.append(f"image {result.image}")
        lines.append(f"deploy lock held by {result.lock_holder}" if result.lock_holder else "not locked")
    if len(result.hosts) > 1:
        lines += [f"  {host.host}: {host.active_color or 'none'} ({host.status})" for host in result.hosts]
    if result.canary:
        lines.append(f"canary {result.canary}")
    return lines


def flag_values(args: argparse.Namespace) -> dict[str, str | None]:
    """The input and file flags as given (None: not given); switches as `true`/`false`."""
    values: dict[str, str | None] = {}
    for name, value in vars(args).items():
        if name not in ("command", "config", "json"):
            if isinstance(value, list):
                value = "\n".join(value)
            values[name] = ("true" if value else "false") if isinstance(value, bool) else value
    return values


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    cancellation.install()
    gathered = Gathered()
    try:
        args = build_parser().parse_args(argv)
        gathered.fill(
            args.command, flag_values(args), args.config, os.environ if environ is None else environ
        )
        result = execute(gathered.raw, StderrReporter())
    except InputError as exc:
        print(f"error: {exc.message(cli_naming(gathered.origins))}", file=sys.stderr)
        return 1
    except Failure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in summary_lines(result):
        print(line, file=sys.stderr)
    if args.json:
        print(json.dumps(result.as_dict(), sort_keys=True))
    return 0
