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


def live_color(routed: str | None, recorded: str | None, running: Collection[str]) -> str | None:
    """The color serving now: the one the live nginx config routes to, else the state file's record,
    whichever still runs (a deploy killed mid-way may leave the other color running too).

    With neither, a single running color is live; none running means a first deploy.
    """
    for claimed in (routed, recorded):
        if claimed in COLORS and claimed in running:
            return claimed
    live = [color for color in COLORS if color in running]
    if len(live) == 1:
        return live[0]
    if not live:
        return None
    raise BluegreenError(
        "both colors are running and the state file does not say which one is live; "
        "stop the color nginx does not route to (`docker compose -p <app>-<color> stop`) and retry"
    )


ROUTE_MARK = "# bluegreen-active-color: "


def mark_route(config: str, color: str) -> str:
    """Prefix a rendered nginx config with the color it routes to, so the file itself says it."""
    return f"{ROUTE_MARK}{color}\n{config}"


def routed_color(config: bytes | None) -> str | None:
    if not config:
        return None
    first_line = config.split(b"\n", 1)[0].decode(errors="replace")
    color = first_line.removeprefix(ROUTE_MARK).strip() if first_line.startswith(ROUTE_MARK) else None
    return color if color in COLORS else None
