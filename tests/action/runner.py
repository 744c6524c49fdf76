"""The runner's side of the action: the environment it gives the container, and reading what the
action leaves behind (the $GITHUB_OUTPUT file, the log)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from bluegreen.config import input_specs

BLOCK = re.compile(r"([a-z-]+)<<(ghadelimiter_[0-9a-f]{32})\n(.*?)\n\2\n", re.DOTALL)


def input_env(inputs: Mapping[str, str | None]) -> dict[str, str]:
    """INPUT_* as the runner sets them: every declared input, its default unless given (None: unset)."""
    values: dict[str, str | None] = {name: spec.default for name, spec in input_specs().items()}
    values.update(inputs)
    return {f"INPUT_{name.upper()}": value for name, value in values.items() if value is not None}


def parse_outputs(text: str) -> dict[str, str]:
    """The outputs of a $GITHUB_OUTPUT file; fails unless the whole file is heredoc blocks."""
    outputs: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = BLOCK.match(text, position)
        assert match, f"not a name<<DELIMITER block at {position}: {text[position:]!r}"
        outputs[match.group(1)] = match.group(3)
        position = match.end()
    return outputs


def unescape(data: str) -> str:
    """A workflow command's message as the runner reads it."""
    return data.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def error_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("::error")]


def assert_secrets_masked(log: str, secrets: Iterable[str]) -> None:
    """Each non-empty line of each secret is masked before the first other line, and appears
    nowhere else in the log."""
    lines = log.splitlines()
    masks = [line.removeprefix("::add-mask::") for line in lines if line.startswith("::add-mask::")]
    first_other = next((i for i, line in enumerate(lines) if not line.startswith("::add-mask::")), len(lines))
    assert all(line.startswith("::add-mask::") for line in lines[:first_other])
    assert len(masks) == first_other, "an ::add-mask:: came after other output"
    unmasked = "\n".join(line for line in lines if not line.startswith("::add-mask::"))
    for secret in secrets:
        for part in (p.strip() for p in secret.splitlines()):
            if part:
                assert part.replace("%", "%25") in masks
                assert part not in unmasked


def assert_groups_balanced(log: str) -> None:
    """Every ::group:: is ended before the next one starts (GitHub cannot nest them)."""
    open_group = False
    for line in log.splitlines():
        if line.startswith("::group::"):
            assert not open_group, log
            open_group = True
        elif line == "::endgroup::":
            assert open_group, log
            open_group = False
    assert not open_group, log
