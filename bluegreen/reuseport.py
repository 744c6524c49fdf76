"""`reuseport` on every listening socket of a rendered nginx config (pure: text in, text out).

bluegreen replaces its own proxy without a gap by starting the new nginx beside the old one on the
same port: both must open their sockets with SO_REUSEPORT, or the second bind fails with "Address
already in use". nginx sets socket options (reuseport among them) once per address:port, on one of
the `listen` directives for it ("duplicate listen options" if two carry options), so `reuseport` is
added where that address's socket options already are, else to its first `listen`.
"""

from __future__ import annotations

import re

LISTEN = re.compile(r"(?:^|(?<=[;{}]))\s*listen\s+(?P<args>[^;{}#]+?)\s*;")
SOCKET_OPTIONS = (
    "reuseport", "backlog=", "rcvbuf=", "sndbuf=", "accept_filter=", "deferred", "bind",
    "ipv6only=", "so_keepalive=", "fastopen=", "setfib=",
)  # fmt: skip
"""What makes nginx open the socket with options of its own (any of them must be on one directive)."""


def _code_end(line: str) -> int:
    """Where a line's comment starts (a `#` outside quotes), or its length."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#":
            return index
    return len(line)


def socket_key(address: str) -> str | None:
    """The socket a `listen` address opens: `80`, `*:80` and `0.0.0.0:80` are one; None for a unix
    socket (reuseport does not apply)."""
    if address.startswith("unix:"):
        return None
    if address.isdigit():
        return f"*:{address}"
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        return f"{address}:80"  # a bare address listens on port 80
    return f"{'*' if host in ('', '*', '0.0.0.0') else host}:{port}"


def _has_socket_options(args: list[str]) -> bool:
    return any(arg == option or arg.startswith(option) for arg in args[1:] for option in SOCKET_OPTIONS)


def _listens(config: str) -> list[tuple[int, int, list[str]]]:
    """Each `listen` directive outside comments: (start, end) of its arguments in the text, and them."""
    found = []
    offset = 0
    for line in config.splitlines(keepends=True):
        code = line[: _code_end(line)]
        for match in LISTEN.finditer(code):
            args = match.group("args").split()
            found.append((offset + match.start("args"), offset + match.end("args"), args))
        offset += len(line)
    return found


def with_reuseport(config: str) -> str:
    """The config with `reuseport` on one `listen` of every address:port that lacks it."""
    chosen: dict[str, tuple[int, int, list[str]]] = {}
    for listen in _listens(config):
        key = socket_key(listen[2][0]) if listen[2] else None
        if key is None:
            continue
        if key not in chosen or (_has_socket_options(listen[2]) and not _has_socket_options(chosen[key][2])):
            chosen[key] = listen
    edits = sorted((end for _, end, args in chosen.values() if "reuseport" not in args), reverse=True)
    for end in edits:
        config = f"{config[:end]} reuseport{config[end:]}"
    return config


def lacks_reuseport(config: str) -> list[str]:
    """The addresses whose socket the config opens without `reuseport`."""
    with_option = {socket_key(args[0]) for _, _, args in _listens(config) if args and "reuseport" in args}
    return sorted(
        {key for _, _, args in _listens(config) if args and (key := socket_key(args[0])) is not None}
        - with_option
    )
