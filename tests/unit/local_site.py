"""A local HTTP(S) site on 127.0.0.1 that records what clients send: the stand-in for a user's nginx.

Paths: `/` (X-App-Color: green), `/slow?ms=N`, `/health` (X-Bluegreen-Upstream: 127.0.0.1:8082),
`/big` (200,000 bytes). With `redirect`, every path answers 301 to https, as a port 80 often does.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lab.certs import Certificate, make_certificate

SITE = "shop.lab.test"
BIG = bytes(range(256)) * 781 + b"end!"  # 200,000 bytes


@dataclass
class Seen:
    server_names: list[str | None] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LocalSite:
    port: int
    seen: Seen
    certificate: Certificate | None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: _Server

    def do_GET(self) -> None:
        self.server.seen.hosts.append(self.headers.get("Host", ""))
        if self.server.redirect:
            self._answer(301, b"", {"Location": f"https://{SITE}{self.path}"})
        elif self.path == "/health":
            self._answer(200, b"fine", {"X-Bluegreen-Upstream": "127.0.0.1:8082"})
        elif self.path == "/big":
            self._answer(200, BIG, {})
        elif self.path.startswith("/slow?ms="):
            time.sleep(int(self.path.partition("=")[2]) / 1000)
            self._answer(200, b"slow", {"X-App-Color": "green"})
        elif self.path == "/":
            self._answer(200, b"hello", {"X-App-Color": "green"})
        else:
            self._answer(404, b"", {})

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext | None, redirect: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context, self.redirect, self.seen = context, redirect, Seen()

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        if self.context is None:
            return connection, address
        # the handshake happens in the request's thread, at its first read
        return self.context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False), address


@contextmanager
def local_site(directory: Path | None = None, redirect: bool = False, days: int = 30) -> Iterator[LocalSite]:
    """HTTPS with a lab certificate for SITE valid for `days` when `directory` is given (it holds the
    files), else HTTP."""
    certificate = make_certificate(directory, [SITE, f"www.{SITE}"], days) if directory else None
    context = None
    if certificate:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate.certificate, certificate.key)
    server = _Server(context, redirect)
    if context:
        context.sni_callback = lambda _socket, name, _context: server.seen.server_names.append(name)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield LocalSite(server.server_address[1], server.seen, certificate)
    finally:
        server.shutdown()
        server.server_close()
