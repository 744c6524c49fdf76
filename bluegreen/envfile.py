"""The app's env file: read as users write it (`read_env`), written so that each compose reads every
value back byte for byte (`env_file_text`).

Reading: `KEY=VALUE` lines. An unquoted value is kept byte for byte to the end of its line (no `$`
expansion, no ` #` comment cut, spaces kept). A value in quotes is read as compose v2 reads it,
except that `$` is never expanded: single quotes are literal but for `\\'`; in double quotes `\\n`,
`\\r`, `\\t`, `\\a`, `\\b`, `\\f`, `\\v`, `\\"`, `\\\\` and `\\$` stand for the character, other
backslashes are kept. A quoted value may span lines; after its closing quote only a comment.

Writing: compose does not read `env_file` literally: both versions expand variables and strip comments
and spaces from unquoted values, and they disagree on quoting, so no one text reads the same in
both. Each value is therefore double-quoted in the dialect of the compose that will read it:

- compose v2 (compose-go's dotenv): inside double quotes `\\`, `\"` and `$$` stand for `\\`, `"`
  and `$`; newlines and every other character are kept as they are.
- docker-compose 1.29 (python-dotenv 0.21): inside double quotes `\\`, `\"` and `\r` stand for
  `\\`, `"` and CR (the file is read with universal newlines, which would turn a CR into LF).
  `$` is literal except in `${...}`, which is always expanded and has no escape: `${` is written
  `${:-$}{` (the unset variable with the empty name, defaulting to `$`). A trailing backslash is
  followed by `${}` (which expands to nothing) so that it cannot pair with the closing quote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
EXPORT = re.compile(r"export[ \t]+")
DOUBLE_QUOTE_ESCAPES = {
    "n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
    '"': '"', "\\": "\\", "$": "$",
}  # fmt: skip
AFTER_CLOSING_QUOTE = re.compile(r"[ \t]*(?:#.*)?")


@dataclass(frozen=True)
class EnvSyntaxError(Exception):
    """A line of the env text that cannot be read; never holds a value."""

    line: int
    key: str
    problem: str


def read_env(text: str) -> tuple[tuple[str, str], ...]:
    """The (key, value) pairs of `KEY=VALUE` lines (LF or CRLF; blank lines and # comments skipped).

    Raises EnvSyntaxError (key "" where the line has no valid key)."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    pairs: list[tuple[str, str]] = []
    number = 0
    while number < len(lines):
        line, number = lines[number], number + 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, equals, value = line.partition("=")
        key = EXPORT.sub("", key.strip(), count=1)
        if not equals or not KEY.fullmatch(key):
            raise EnvSyntaxError(number, "", "is not KEY=VALUE")
        opened = value.lstrip(" \t")
        if opened[:1] in ("'", '"'):
            value, number = _quoted(lines, number, key, opened)
        pairs.append((key, value))
    return tuple(pairs)


def _quoted(lines: list[str], number: int, key: str, opened: str) -> tuple[str, int]:
    """The value of a quoted value that starts at `opened` (its quote first) on line `number`, and
    the number of the last line it takes."""
    quote, first = opened[0], number
    text, at, value = opened, 1, []
    while True:
        if at >= len(text):
            if number >= len(lines):
                raise EnvSyntaxError(first, key, f"opens a {quote} quote that is never closed")
            text, at, number = lines[number], 0, number + 1
            value.append("\n")
            continue
        char = text[at]
        if char == quote:
            if not AFTER_CLOSING_QUOTE.fullmatch(text, at + 1):
                raise EnvSyntaxError(number, key, "has text after its closing quote")
            return "".join(value), number
        if char == "\\" and at + 1 < len(text):
            escaped = text[at + 1]
            if quote == "'":
                value.append("'" if escaped == "'" else char + escaped)
            else:
                value.append(DOUBLE_QUOTE_ESCAPES.get(escaped, char + escaped))
            at += 2
            continue
        value.append(char)
        at += 1


V2_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "$": "$$"})
V1_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\r": "\\r"})


def quote_for_compose_v2(value: str) -> str:
    return f'"{value.translate(V2_ESCAPES)}"'


def quote_for_compose_v1(value: str) -> str:
    escaped = value.translate(V1_ESCAPES).replace("${", "${:-$}{")
    if escaped.endswith("\\"):
        escaped += "${}"
    return f'"{escaped}"'


def env_file_text(pairs: Iterable[tuple[str, str]], compose_v1: bool = False) -> str:
    """KEY="VALUE" lines that the given compose reads back as exactly the pairs given."""
    quote = quote_for_compose_v1 if compose_v1 else quote_for_compose_v2
    return "".join(f"{key}={quote(value)}\n" for key, value in pairs)
