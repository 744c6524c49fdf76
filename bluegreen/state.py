"""The state file kept in the app's directory on the host: what is live, since when, which image."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from bluegreen.colors import COLORS
from bluegreen.config import IMAGE
from bluegreen.untrusted import printable

MAX_STATE_BYTES = 64 * 1024
MAX_TEXT = 300


@dataclass(frozen=True)
class State:
    active_color: str
    previous_color: str = ""
    image: str = ""
    previous_image: str = ""
    deployed_at: str = ""
    actor: str = ""

    def to_json(self) -> bytes:
        return (json.dumps(asdict(self), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes) -> State | None:
        """Parse a state file; anything unreadable counts as no state (the containers decide).

        The file is the server's word, so nothing in it is trusted: a field of the wrong type or
        an unknown color counts as empty, and this never raises.
        """
        if len(raw) > MAX_STATE_BYTES:
            return None
        try:
            data: Any = json.loads(raw)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            return None
        if not isinstance(data, dict) or data.get("active_color") not in COLORS:
            return None
        active = str(data["active_color"])
        previous = data.get("previous_color")
        return cls(
            active_color=active,
            previous_color=previous if previous in COLORS and previous != active else "",
            image=_image(data.get("image")),
            previous_image=_image(data.get("previous_image")),
            deployed_at=_text(data.get("deployed_at")),
            actor=_text(data.get("actor")),
        )


def _image(value: object) -> str:
    return value if isinstance(value, str) and IMAGE.fullmatch(value) else ""


def _text(value: object) -> str:
    return printable(value, MAX_TEXT).replace("\n", " ") if isinstance(value, str) else ""
