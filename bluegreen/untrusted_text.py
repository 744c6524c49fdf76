"""Text from the server made safe for a terminal or a job summary (placeholder until untrusted.py lands)."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, limit: int = 4000) -> str:
    """Drop control characters (escape sequences, BEL, CR, bidi overrides); keep newlines and tabs."""
    cleaned = _CONTROL.sub("", text)
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "…"
