"""Text from the server, made safe to print: nothing it holds can drive a terminal or a log.

A file or an error message on the host may hold escape sequences that retitle or clear the
terminal, carriage returns that overwrite a line, or bidi overrides that reorder what is shown.
"""

from __future__ import annotations

import re

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \) and two-byte ESC sequences go whole, so
# their parameters do not survive as stray text once ESC is dropped.
ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-~]?"  # any other ESC sequence
    r"|\x9b[0-?]*[ -/]*[@-~]"  # the 8-bit CSI
)
# C0 but tab and newline, DEL, C1, and the bidi controls (embeddings, overrides, isolates, marks).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
ELLIPSIS = "…"


def printable(text: str, limit: int = 4000) -> str:
    """`text` without control characters (tab and newline kept), at most `limit` characters.

    A shortened text ends in ELLIPSIS: the screen (redact.redact) masks a secret's beginning left
    just before it, so a secret cut here shows no part of itself."""
    cleaned = CONTROL.sub("", ESCAPE_SEQUENCE.sub("", text))
    if len(cleaned) <= limit:
        return cleaned
    return cleaned[: max(limit - len(ELLIPSIS), 0)] + ELLIPSIS


def decode(raw: bytes) -> str:
    """Bytes from the server as text; invalid UTF-8 becomes U+FFFD, never an exception."""
    return raw.decode("utf-8", errors="replace")
