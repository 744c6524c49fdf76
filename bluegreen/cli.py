"""`python -m bluegreen deploy|rollback|status --host ... [--json]`: one flag per action input."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bluegreen.config import COMMANDS, input_specs
from bluegreen.errors import BluegreenError, InputError
from bluegreen.progress import StderrReporter
from bluegreen.run import execute

FILE_FLAGS = {"ssh-key-file": "ssh-key", "known-hosts-file": "known-hosts"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bluegreen", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for command in COMMANDS:
        cmd = sub.add_parser(command)
        for spec in input_specs().values():
            if spec.name == "command":
                continue
            default = f" (default: {spec.default})" if spec.default else ""
            cmd.add_argument(f"--{spec.name}", dest=spec.name, default=None, help=spec.description + default)
        for flag, input_name in FILE_FLAGS.items():
            cmd.add_argument(f"--{flag}", dest=flag, default=None, help=f"read `{input_name}` from this file")
        cmd.add_argument("--json", action="store_true", help="print the result as JSON on the last line")
    return parser


def raw_inputs(args: argparse.Namespace) -> dict[str, str]:
    values = vars(args)
    raw = {name: values[name] for name in input_specs() if values.get(name) is not None}
    raw["command"] = args.command
    for flag, input_name in FILE_FLAGS.items():
        if values.get(flag):
            try:
                raw[input_name] = Path(values[flag]).read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(flag, f"cannot be read ({exc})", "Give a readable file") from None
    return raw


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = execute(raw_inputs(args), StderrReporter())
    except BluegreenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    summary = f"{result.status}: {result.app_name} live color {result.active_color or 'none'}"
    if result.previous_color:
        summary += f" (was {result.previous_color})"
    print(summary, file=sys.stderr)
    if args.json:
        print(json.dumps(result.as_dict(), sort_keys=True))
    return 0
