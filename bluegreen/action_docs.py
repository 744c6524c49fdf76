"""The README's inputs and outputs tables, generated from action.yml so they cannot drift.

`python -m bluegreen.action_docs` rewrites the README section between the markers;
`python -m bluegreen.action_docs --check` only says whether it is up to date (exit 1 if not).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import yaml

from bluegreen.config import ACTION_YML, input_specs

README = ACTION_YML.parent / "README.md"
START = "<!-- inputs:start -->"
END = "<!-- inputs:end -->"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def section() -> str:
    """The Markdown between the markers (without them)."""
    lines = [
        "<!-- Generated from action.yml by `python -m bluegreen.action_docs`: edit action.yml instead. -->",
        "",
        "### Inputs",
        "",
        "| Input | Required | Default | Description |",
        "|---|---|---|---|",
    ]
    for spec in input_specs().values():
        default = f"`{_cell(spec.default)}`" if spec.default else ""
        required = "yes" if spec.required else "no"
        lines.append(f"| `{spec.name}` | {required} | {default} | {_cell(spec.description)} |")
    action: dict[str, Any] = yaml.safe_load(ACTION_YML.read_text())
    lines += ["", "### Outputs", "", "| Output | Description |", "|---|---|"]
    for name, spec in (action.get("outputs") or {}).items():
        lines.append(f"| `{name}` | {_cell(str(spec.get('description', '')))} |")
    return "\n".join(lines)


def updated(readme: str) -> str:
    """`readme` with the section between the markers regenerated."""
    if readme.count(START) != 1 or readme.count(END) != 1 or readme.index(START) > readme.index(END):
        raise ValueError(f"the README needs exactly one {START} ... {END} pair")
    before, rest = readme.split(START)
    _, after = rest.split(END)
    return f"{before}{START}\n{section()}\n{END}{after}"


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    current = README.read_text()
    wanted = updated(current)
    if "--check" in args:
        if current != wanted:
            print(f"{README.name} is out of date: run `python -m bluegreen.action_docs`", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        README.write_text(wanted)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
