"""Progress messages of the lab go to stderr; stdout carries only the final JSON."""

from __future__ import annotations

import sys


def say(message: str) -> None:
    print(f"lab: {message}", file=sys.stderr, flush=True)
