"""Traffic for zero-downtime checks: keep-alive clients and slow requests, every request recorded.

Fast clients send `GET /` at a paced total rate; slow clients keep `GET /slow?ms=N` in flight all the
time, so requests are always being served when a switch happens. Each client holds one keep-alive
connection and reconnects after an error.

Like browsers, curl and Go's net/http (RFC 9112 section 9.3.1), a client retries a request once,
on a new connection, when a *reused* keep-alive connection is closed before any byte of the response
arrived: the server closed an idle connection while the request was on its way, and the request was
never processed. Those retries are counted (`retried`); every other error is a failure. With
`retry=False` the clients never retry: such a request is a failure whose error names it
(`closed-keepalive: RemoteDisconnected`). Either way `Record.closed_keepalive` tells the requests
that met a keep-alive connection the server had closed from other errors.

`post_clients` more clients send `POST /echo` with a small JSON body (keep-alive, paced like one
fast client each, never retried: a POST is not idempotent); their records have `method` "POST".

The URL may be `https://host:port`: the certificate is not verified (the lab's are self-signed), and
`server_name` sets the TLS server name (SNI) and the Host header, for a site such as
`shop.lab.test` reached at 127.0.0.1. Redirects are never followed: a 301 counts as a failed request
(its status is recorded); `get_once` reads one answer, a redirect included, for a separate check.
"""

from __future__ import annotations

import http.client
import json
import math
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from bluegreen.tls import unverified_context

CLOSED_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ssl.SSLEOFError)
"""How a keep-alive connection the server closed while a request was on its way shows."""
CLOSED_KEEPALIVE = "closed-keepalive"
"""Error prefix of a request that met a reused keep-alive connection the server had closed, and was
not retried (`closed-keepalive: RemoteDisconnected`)."""


@dataclass(frozen=True)
class Record:
    start: float
    end: float
    status: int
    error: str
    color: str
    version: str
    slow: bool
    retried: bool
    method: str = "GET"

    @property
    def ok(self) -> bool:
        return not self.error and 200 <= self.status < 300

    @property
    def closed_keepalive(self) -> bool:
        """The request met a reused keep-alive connection closed by the server: retried (whatever
        the retry's outcome), or not retried and failed with a `closed-keepalive` error."""
        return self.retried or self.error.startswith(f"{CLOSED_KEEPALIVE}:")

    @property
    def latency_ms(self) -> float:
        return (self.end - self.start) * 1000


@dataclass(frozen=True)
class Site:
    """Where requests go: host and port to connect to, and for https the name the site goes by."""

    host: str
    port: int
    tls: bool = False
    server_name: str | None = None
    """SNI and Host header; None: the URL's host (and for plain HTTP, http.client's own Host)."""

    @classmethod
    def of(cls, url: str, server_name: str | None = None) -> Site:
        if "://" not in url:
            url = f"http://{url}"
        parts = urlsplit(url)
        tls = parts.scheme == "https"
        return cls(parts.hostname or "", parts.port or (443 if tls else 80), tls, server_name)

    @property
    def headers(self) -> dict[str, str]:
        if self.server_name is None:
            return {}
        default = 443 if self.tls else 80
        return {"Host": self.server_name if self.port == default else f"{self.server_name}:{self.port}"}

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        if not self.tls:
            return http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        return _TlsConnection(self.host, self.port, self.server_name or self.host, timeout)


class _TlsConnection(http.client.HTTPSConnection):
    """Connects to host:port; the TLS server name is `server_name` (http.client would use host)."""

    def __init__(self, host: str, port: int, server_name: str, timeout: float) -> None:
        self.tls_context = unverified_context()
        super().__init__(host, port, timeout=timeout, context=self.tls_context)
        self.server_name = server_name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self.tls_context.wrap_socket(self.sock, server_hostname=self.server_name)


def get_once(
    url: str, path: str = "/", server_name: str | None = None, timeout: float = 5.0
) -> tuple[int, dict[str, str]]:
    """One GET on a new connection: the status and headers (lower-case names), a redirect as is."""
    site = Site.of(url, server_name)
    connection = site.connection(timeout)
    try:
        connection.request("GET", path, headers=site.headers)
        response = connection.getresponse()
        response.read()
        return response.status, {name.lower(): value for name, value in response.getheaders()}
    finally:
        connection.close()


class _Client:
    def __init__(
        self,
        site: Site,
        path: str,
        timeout: float,
        slow: bool,
        retry: bool = True,
        method: str = "GET",
        body: bytes | None = None,
    ) -> None:
        self.site, self.path, self.timeout, self.slow = site, path, timeout, slow
        self.retry, self.method, self.body = retry and method == "GET", method, body
        self.headers = site.headers
        if body is not None:
            self.headers = {**self.headers, "Content-Type": "application/json"}
        self.connection: http.client.HTTPConnection | None = None
        self.used = False

    def _connect(self) -> http.client.HTTPConnection:
        if self.connection is None:
            self.connection = self.site.connection(self.timeout)
            self.used = False
        return self.connection

    def _drop(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.connection = None

    def request(self) -> Record:
        start = time.monotonic()
        retried = False
        while True:
            reused = self.used
            connection = self._connect()
            try:
                connection.request(self.method, self.path, body=self.body, headers=self.headers)
                response = connection.getresponse()
                response.read()
                self.used = True
                if response.will_close:
                    self._drop()
                return Record(
                    start, time.monotonic(), response.status, "",
                    response.getheader("X-App-Color", ""), response.getheader("X-App-Version", ""),
                    self.slow, retried, self.method,
                )  # fmt: skip
            except CLOSED_CONNECTION as exc:
                self._drop()
                if reused and not retried and self.retry:
                    retried = True
                    continue
                error = type(exc).__name__
                if reused and not retried:
                    error = f"{CLOSED_KEEPALIVE}: {error}"
                return self._failed(start, error, retried)
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                return self._failed(start, type(exc).__name__, retried)

    def _failed(self, start: float, error: str, retried: bool) -> Record:
        return Record(start, time.monotonic(), 0, error, "", "", self.slow, retried, self.method)


class Traffic:
    """Runs the clients in threads until stopped; `records` holds every request made."""

    def __init__(
        self,
        url: str,
        clients: int = 8,
        rate: float = 200.0,
        slow_clients: int = 4,
        slow_ms: int = 1000,
        timeout: float = 10.0,
        stagger: bool = False,
        server_name: str | None = None,
        retry: bool = True,
        post_clients: int = 0,
    ) -> None:
        self.site = Site.of(url, server_name)
        self.clients, self.rate, self.slow_clients, self.slow_ms, self.timeout = (
            clients, rate, slow_clients, slow_ms, timeout,
        )  # fmt: skip
        # retry False: a reused keep-alive connection found closed is an error (`closed-keepalive:
        # ...`), not retried. post_clients: clients sending POST /echo, each paced like one fast
        # client (rate / clients per second), never retried.
        self.retry, self.post_clients = retry, post_clients
        # stagger: spread the clients' first requests over one interval (fast) and one slow period
        # (slow clients are then paced too, one request per 1.25 x slow_ms), and keep each client in
        # its slot after an error or a late answer, so requests never bunch up: not in bursts, and
        # slow ones do not all start and end together (then a stop at a given moment would find all
        # or none of them in flight).
        self.stagger = stagger
        self.records: list[Record] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _run(self, client: _Client, interval: float, delay: float = 0.0) -> None:
        if delay and self._stop.wait(delay):
            return
        next_at = time.monotonic()
        while not self._stop.is_set():
            record = client.request()
            with self._lock:
                self.records.append(record)
            if interval:
                next_at += interval
                delay = next_at - time.monotonic()
                if delay <= 0 and self.stagger:  # late: skip to this client's next slot
                    next_at += (math.floor(-delay / interval) + 1) * interval
                    delay = next_at - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                else:
                    next_at = time.monotonic()
            elif not record.ok:
                self._stop.wait(0.01)

    def start(self) -> None:
        interval = self.clients / self.rate if self.rate else 0.0
        for i in range(self.clients):
            delay = interval * i / self.clients if self.stagger else 0.0
            self._spawn(_Client(self.site, "/", self.timeout, slow=False, retry=self.retry), interval, delay)
        slow_interval = 1.25 * self.slow_ms / 1000 if self.stagger else 0.0
        for i in range(self.slow_clients):
            path = f"/slow?ms={self.slow_ms}"
            delay = slow_interval * i / self.slow_clients
            self._spawn(
                _Client(self.site, path, self.timeout + self.slow_ms / 1000, slow=True, retry=self.retry),
                slow_interval,
                delay,
            )
        post_interval = max(self.clients, 1) / self.rate if self.rate else 0.0
        for i in range(self.post_clients):
            delay = post_interval * (i + 0.5) / self.post_clients if self.stagger else 0.0
            body = json.dumps({"client": i, "note": "bluegreen lab traffic"}).encode()
            client = _Client(self.site, "/echo", self.timeout, slow=False, method="POST", body=body)
            self._spawn(client, post_interval, delay)

    def _spawn(self, client: _Client, interval: float, delay: float = 0.0) -> None:
        thread = threading.Thread(target=self._run, args=(client, interval, delay), daemon=True)
        thread.start()
        self._threads.append(thread)

    def __enter__(self) -> Traffic:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> list[Record]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + self.slow_ms / 1000 + 5)
        with self._lock:
            return sorted(self.records, key=lambda r: r.start)


def failures(records: list[Record]) -> list[Record]:
    return [r for r in records if not r.ok]


def describe_failures(records: list[Record], limit: int = 10) -> str:
    bad = failures(records)
    lines = [f"{len(bad)} of {len(records)} requests failed"]
    t0 = records[0].start if records else 0.0
    for record in bad[:limit]:
        kind = "slow" if record.slow else "post" if record.method == "POST" else "fast"
        lines.append(f"  t={record.start - t0:7.3f}s {kind} status={record.status} error={record.error}")
    return "\n".join(lines)
