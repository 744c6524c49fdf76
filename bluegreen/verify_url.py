"""The `verify-url` input: the public URL whose routing is checked after the switch."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlsplit

from bluegreen.errors import InputError

DEFAULT_PORTS = {"http": 80, "https": 443}
HOST_NAME = re.compile(r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9_-]*[a-z0-9])?)*\.?$")
IPV6 = re.compile(r"^[0-9a-f:.]+$")
PATH_AND_QUERY = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$")
EXAMPLE = "Give the URL the public uses, e.g. https://shop.example.com/health"


@dataclass(frozen=True)
class VerifyUrl:
    scheme: str
    """`http` or `https`."""
    host: str
    """The site's name (or IP address, IPv6 without brackets): the Host header and TLS server name."""
    port: int
    """The port on the server's 127.0.0.1 that the check connects to (80/443 unless the URL says)."""
    path: str
    """The path requested, with the query if the URL has one."""

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def host_header(self) -> str:
        """As a browser sends it: the port only when it is not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.path}"


def parse_verify_url(value: str) -> VerifyUrl | None:
    """The URL, or None when unset; one InputError naming `verify-url` when it is not usable."""
    if not value:
        return None
    if any(c.isspace() or not c.isprintable() for c in value):
        _fail("contains spaces or control characters")
    parts = urlsplit(value)
    if "@" in parts.netloc:  # never quote it: it may hold a password
        _fail("contains a user name or password", "Remove them: the check sends no credentials")
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        _fail(f"is {value!r}: not an http or https URL")
    host = parts.hostname or ""
    if not (HOST_NAME.fullmatch(host) or (":" in host and IPV6.fullmatch(host))):
        _fail(f"is {value!r}: it names no valid host")
    try:
        port = DEFAULT_PORTS[scheme] if parts.port is None else parts.port
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        _fail(f"is {value!r}: its port is not a number from 1 to 65535")
    if parts.fragment or value.endswith("#"):
        _fail(f"is {value!r}: a #fragment is never sent to the server")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not PATH_AND_QUERY.fullmatch(path):
        _fail(f"is {value!r}: its path is not a plain URL path")
    return VerifyUrl(scheme, host, port, path)


def _fail(problem: str, fix: str = EXAMPLE) -> NoReturn:
    raise InputError("verify-url", problem, fix)
