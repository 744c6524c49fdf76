"""HTTP probes over any byte stream (an SSH tunnel or a socket), and the backoff schedule."""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bluegreen.host import Stream


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def __str__(self) -> str:
        return f"HTTP {self.status}"


class _StreamConnection(http.client.HTTPConnection):
    def __init__(self, stream: Stream, host_header: str) -> None:
        super().__init__(host_header)
        self.sock = stream

    def connect(self) -> None:  # already connected
        return


def http_get(
    open_stream: Callable[[], Stream], path: str, timeout: float, host_header: str = "localhost"
) -> Answer:
    """One GET on a fresh connection; raises OSError (or http.client errors) when it cannot."""
    return http_request(open_stream, path, timeout, "GET", host_header)


def http_request(
    open_stream: Callable[[], Stream],
    path: str,
    timeout: float,
    method: str = "GET",
    host_header: str = "localhost",
) -> Answer:
    """One request without a body on a fresh connection (POST, PUT, PATCH send Content-Length: 0);
    raises OSError (or http.client errors) when it cannot."""
    stream = open_stream()
    stream.settimeout(timeout)
    connection = _StreamConnection(stream, host_header)
    try:
        connection.request(method, path, headers={"User-Agent": "bluegreen", "Connection": "close"})
        response = connection.getresponse()
        body = response.read(65536)
        headers = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, headers, body)
    finally:
        connection.close()
        stream.close()


def backoff(first: float = 0.1, factor: float = 1.5, ceiling: float = 2.0) -> Iterator[float]:
    """Delays between polls: 0.1, 0.15, 0.225, ... capped at `ceiling` seconds."""
    delay = first
    while True:
        yield delay
        delay = min(delay * factor, ceiling)
