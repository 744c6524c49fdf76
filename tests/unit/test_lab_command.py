"""`make demo` and friends report a missing program or a failed lab step in one line."""

from __future__ import annotations

import subprocess

import pytest

from lab.compose import ComposeNotFound
from tools.lab_command import one_line


def test_a_missing_program_is_one_line_saying_how_to_install_it() -> None:
    with pytest.raises(FileNotFoundError) as missing:
        subprocess.run(["bluegreen-no-such-mmdebstrap", "--version"], check=False)
    message = one_line(missing.value)
    assert message == (
        "bluegreen-no-such-mmdebstrap is not installed: "
        "run `make lab-system` (it installs mmdebstrap, docker-compose, openssh-client)"
    )
    assert one_line(ComposeNotFound("neither `docker compose` nor `docker-compose` is installed"))


def test_a_failed_command_is_one_line_and_a_bug_keeps_its_traceback() -> None:
    failed = subprocess.CalledProcessError(1, ["docker", "compose", "up", "-d"])
    assert one_line(failed) == "`docker compose up -d` failed (exit 1)"
    assert one_line(KeyError("bug")) is None
