"""The `bluegreen` command's entry point: SIGINT and SIGTERM cancel cleanly from its first moment,
also while the rest of bluegreen (paramiko, the Docker SDK: about 0.25 s) is still being imported."""

from __future__ import annotations

import sys

from bluegreen import cancellation
from bluegreen.errors import Cancelled


def main() -> int:
    cancellation.install()
    try:
        # A signal raised inside the import machinery (a module lock's weakref callback, say) is
        # printed as an ignored exception with a traceback: the cancel waits until imports end.
        with cancellation.shielded():
            from bluegreen.cli import main as run_cli
    except Cancelled as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return run_cli()
