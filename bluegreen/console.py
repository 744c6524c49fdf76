"""The `bluegreen` command's entry point: SIGINT and SIGTERM cancel cleanly from its first moment,
also while the rest of bluegreen (paramiko, the Docker SDK: about 0.25 s) is still being imported."""

from __future__ import annotations

import sys

from bluegreen import cancellation
from bluegreen.errors import Cancelled


def main() -> int:
    cancellation.install()
    try:
        from bluegreen.cli import main as run_cli
    except Cancelled as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return run_cli()
