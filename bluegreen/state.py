"""The state file kept in the app's directory on the host: what is live, since when, which image."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from bluegreen.colors import COLORS


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
        """Parse a state file; anything unreadable counts as no state (the containers decide)."""
        try:
            data: Any = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or data.get("active_color") not in COLORS:
            return None
        fields = {k: str(data.get(k) or "") for k in ("previous_color", "image", "previous_image")}
        return cls(
            active_color=str(data["active_color"]),
            deployed_at=str(data.get("deployed_at") or ""),
            actor=str(data.get("actor") or ""),
            **fields,
        )
