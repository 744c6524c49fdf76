"""The app's env file, written so that each compose reads every value back byte for byte.

Compose does not read `env_file` literally: both versions expand variables and strip comments
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

from collections.abc import Iterable

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
