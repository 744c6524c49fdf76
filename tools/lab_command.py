"""`make lab-up | lab-down | demo`: `python -m lab`, with a failure as one line instead of a traceback.

A missing program (mmdebstrap, docker, compose) or a lab step that fails is reported in one line
saying what to do; `make lab-system` installs the programs.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

from lab.__main__ import main as lab_main
from lab.build import BuildFailed
from lab.compose import ComposeNotFound
from lab.mirror import MirrorNotFound

SETUP_HINT = "run `make lab-system` (it installs mmdebstrap, docker-compose, openssh-client)"
MIRROR_HINT = (
    "the lab bootstraps Debian from the Debian mirror in apt's sources; on Ubuntu add one, disabled "
    "(`Enabled: no`), as .github/workflows/ci.yml does"
)


def one_line(error: BaseException) -> str | None:
    """The message for a failure the user can fix; None for a bug (its traceback is shown)."""
    if isinstance(error, FileNotFoundError) and error.filename:
        return f"{error.filename} is not installed: {SETUP_HINT}"
    if isinstance(error, ComposeNotFound):
        return f"{error}: {SETUP_HINT}"
    if isinstance(error, MirrorNotFound):
        return f"{error}: {MIRROR_HINT}"
    if isinstance(error, BuildFailed):
        return str(error)
    if isinstance(error, subprocess.CalledProcessError):
        command = error.cmd if isinstance(error.cmd, str) else " ".join(map(str, error.cmd))
        return f"`{command}` failed (exit {error.returncode})"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return lab_main(list(sys.argv[1:] if argv is None else argv))
    except Exception as error:
        message = one_line(error)
        if message is None:
            raise
        print(f"lab: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
