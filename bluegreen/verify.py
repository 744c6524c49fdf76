"""Verification through the proxy: after a switch, nginx must answer 2xx from the new color.

By default the check asks nginx's `http-port` for `health-path` over plain HTTP with `Host:
localhost`. With `verify-url` it asks the way the public arrives: the URL's port on the host's
127.0.0.1, TLS when https (SNI and Host: the URL's host), the URL's path. The certificate is read
(its expiry is reported), not verified.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bluegreen.errors import BluegreenError, TunnelForbidden
from bluegreen.health import Answer, backoff, http_get
from bluegreen.health_gate import Probe
from bluegreen.host import Stream
from bluegreen.progress import Reporter
from bluegreen.tls import CertificateInfo, open_tls
from bluegreen.untrusted import printable

if TYPE_CHECKING:
    from bluegreen.config import Config

VERIFY_TIMEOUT = 5.0
UPSTREAM_HEADER = "x-bluegreen-upstream"
CERTIFICATE_WARNING_DAYS = 14


@dataclass
class ProxyCheck:
    probe: Probe
    report: Reporter
    proxy_port: int
    path: str
    timeout: float = VERIFY_TIMEOUT
    host_header: str = "localhost"
    server_name: str = ""
    """TLS with this SNI server name when set; plain HTTP when empty."""
    certificate: CertificateInfo | None = field(default=None, init=False)
    """The certificate of the last answer over TLS (set by expect_upstream and serving_color)."""

    @classmethod
    def for_config(cls, config: Config, probe: Probe, report: Reporter) -> ProxyCheck:
        """`verify-url` when set, else `http-port` and `health-path` with Host: localhost."""
        url = config.verify_url
        if url is None:
            return cls(probe, report, config.http_port, config.health_path)
        server_name = url.host if url.tls else ""
        return cls(probe, report, url.port, url.path, host_header=url.host_header, server_name=server_name)

    @property
    def by_url(self) -> bool:
        """Whether the check is the one `verify-url` asked for (not the default one)."""
        return bool(self.server_name) or self.host_header != "localhost"

    @property
    def where(self) -> str:
        if self.by_url:
            scheme = "https" if self.server_name else "http"
            return f"{scheme}://{self.host_header}{self.path} (127.0.0.1:{self.proxy_port} on the server)"
        return f"127.0.0.1:{self.proxy_port}{self.path}"

    def expect_upstream(self, upstream_port: int) -> None:
        """Wait until a GET through nginx answers 2xx from 127.0.0.1:upstream_port (the
        X-Bluegreen-Upstream header, when the template sets it), or fail. A redirect fails at once."""
        expected = f":{upstream_port}"
        deadline = time.monotonic() + self.timeout
        last = "no answer yet"
        for delay in backoff(0.05):
            answer = self._get()
            if isinstance(answer, Answer):
                header = answer.headers.get(UPSTREAM_HEADER)
                upstream = printable(header, 200) if header is not None else None  # the server's text
                if answer.ok and (upstream is None or upstream.endswith(expected)):
                    via = f" from upstream {upstream}" if upstream else ""
                    self.report.info(f"nginx answers {answer.status}{via}")
                    self._report_certificate()
                    return
                if 300 <= answer.status < 400:
                    raise BluegreenError(self._redirect_message(answer))
                last = f"HTTP {answer.status}" + (f" from upstream {upstream}" if upstream else "")
            else:
                last = answer
            if time.monotonic() + delay > deadline:
                raise BluegreenError(
                    f"verification through nginx ({self.where}) failed after the switch: {last}"
                )
            time.sleep(delay)

    def serving_color(self, ports: dict[str, int]) -> str | None:
        """The color nginx answers from now (by its upstream header), if it answers and says."""
        try:
            answer = self._get()
        except TunnelForbidden:  # no tunnel to ask through: the config file and the records decide
            return None
        upstream = answer.headers.get(UPSTREAM_HEADER, "") if isinstance(answer, Answer) else ""
        port = upstream.rpartition(":")[2]
        return next((color for color, p in ports.items() if port == str(p)), None)

    def _get(self) -> Answer | str:
        """The answer, or why there was none (a failed SSH connection raises BluegreenError)."""
        timeout = self.probe.timeout
        certificates: list[CertificateInfo | None] = []

        def open_stream() -> Stream:
            stream = self.probe.host.connect_tcp(self.proxy_port, timeout)
            if not self.server_name:
                return stream
            tls = open_tls(stream, self.server_name, timeout)
            certificates.append(tls.certificate)
            return tls

        try:
            answer: Answer | str = http_get(open_stream, self.path, timeout, self.host_header)
        except BluegreenError:
            raise
        except Exception as exc:  # OSError (ssl.SSLError too), EOFError, http.client's errors
            answer = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if certificates:
            self.certificate = certificates[0]
        return answer

    def _redirect_message(self, answer: Answer) -> str:
        location = printable(answer.headers.get("location", ""))
        if self.by_url:
            return (
                f"verify-url {self.where} answers {answer.status} (a redirect to {location or '?'}) "
                "after the switch: set verify-url to the URL that answers without a redirect"
            )
        return (
            f"http-port {self.proxy_port} answers {answer.status} to GET {self.path} (a redirect to "
            f"{location or 'https?'}) after the switch: set verify-url to the https URL the public "
            "uses, e.g. https://shop.example.com/health"
        )

    def _report_certificate(self) -> None:
        certificate = self.certificate
        if certificate is None:
            return
        days = certificate.days_left(datetime.now(UTC))
        names = ", ".join(certificate.names) or "no DNS names"
        self.report.info(
            f"TLS certificate of {self.server_name}: expires {certificate.expires} ({days} days); "
            f"subject {certificate.subject}, names {names} (not verified: only routing is checked)"
        )
        if days < CERTIFICATE_WARNING_DAYS:
            when = "has expired" if days < 0 else f"expires in {days} days"
            self.report.warning(f"the TLS certificate of {self.server_name} {when} ({certificate.expires})")
        if not is_ip_address(self.server_name) and not certificate.names_host(self.server_name):
            self.report.warning(
                f"the TLS certificate nginx presents for {self.server_name} does not name it "
                f"(it names {names}): browsers will refuse it"
            )


def is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
