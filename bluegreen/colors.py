"""Colors and the pure decision of which one is live."""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from bluegreen.errors import BluegreenError

COLORS: Final = ("blue", "green")
FIRST_COLOR: Final = "blue"


def other(color: str) -> str:
    if color not in COLORS:
        raise ValueError(f"not a color: {color!r}")
    return "green" if color == "blue" else "blue"


def project_name(app_name: str, color: str) -> str:
    return f"{app_name}-{color}"


def live_color(recorded: str | None, running: Collection[str]) -> str | None:
    """The color serving now, from the state file's record checked against running containers.

    The record wins while its color still runs (a deploy killed mid-way may leave the other color
    running too). Without a usable record, a single running color is live; none means first deploy.
    """
    if recorded in COLORS and recorded in running:
        return recorded
    live = [color for color in COLORS if color in running]
    if len(live) == 1:
        return live[0]
    if not live:
        return None
    raise BluegreenError(
        "both colors are running and the state file does not say which one is live; "
        "stop the color nginx does not route to (`docker compose -p <app>-<color> stop`) and retry"
    )
