"""TLS over a plain stream (as over an SSH channel), and the verification through it."""

from __future__ import annotations

import os
import socket
import ssl
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bluegreen.errors import BluegreenError
from bluegreen.health import http_get
from bluegreen.health_gate import Probe
from bluegreen.host import LocalHost
from bluegreen.tls import CertificateInfo, TlsStream, open_tls
from bluegreen.verify import ProxyCheck
from lab.certs import make_certificate
from tests.unit.local_site import BIG, SITE, LocalSite, local_site
from tests.unit.test_routine_failures import Recorder


@pytest.fixture
def https_site(tmp_path: Path) -> Iterator[LocalSite]:
    with local_site(tmp_path) as site:
        yield site


@pytest.fixture
def redirecting_site() -> Iterator[LocalSite]:
    with local_site(redirect=True) as site:
        yield site


def _tls(port: int, server_name: str = SITE) -> TlsStream:
    return open_tls(socket.create_connection(("127.0.0.1", port)), server_name, 2)


def test_http_get_over_tls_sends_sni_and_host_and_reads_the_certificate(https_site: LocalSite) -> None:
    tls = _tls(https_site.port)
    answer = http_get(lambda: tls, "/health", 2, SITE)
    assert (answer.status, answer.body, answer.headers["x-bluegreen-upstream"]) == (
        200,
        b"fine",
        "127.0.0.1:8082",
    )
    assert https_site.seen.server_names == [SITE]
    assert https_site.seen.hosts == [SITE]
    assert https_site.certificate is not None
    assert tls.certificate == CertificateInfo(
        f"CN={SITE}", (SITE, f"www.{SITE}"), https_site.certificate.not_after
    )


def test_a_body_of_many_tls_records_arrives_whole(https_site: LocalSite) -> None:
    answer = http_get(lambda: _tls(https_site.port), "/big", 2, SITE)
    assert answer.body == BIG[:65536]  # http_get reads at most 64 KiB


def test_a_host_with_a_port_is_sent_as_given(https_site: LocalSite) -> None:
    http_get(lambda: _tls(https_site.port), "/health", 2, f"{SITE}:8443")
    assert https_site.seen.hosts == [f"{SITE}:8443"]


def test_tls_to_a_plain_http_port_fails_and_closes_the_stream(redirecting_site: LocalSite) -> None:
    raw = socket.create_connection(("127.0.0.1", redirecting_site.port))
    with pytest.raises(ssl.SSLError):
        open_tls(raw, SITE, 2)
    assert raw.fileno() == -1


def test_a_lab_certificate_and_its_private_key_file(tmp_path: Path) -> None:
    made = make_certificate(tmp_path / "certs", ["a.lab.test"], days=3)
    assert stat.S_IMODE(os.stat(made.key).st_mode) == 0o600
    assert made.certificate.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert timedelta(days=2, hours=23) < made.not_after - datetime.now(UTC) <= timedelta(days=3)


@pytest.mark.parametrize(
    ("names", "host", "named"),
    [
        (("shop.example.com",), "shop.example.com", True),
        (("shop.example.com",), "SHOP.example.com.", True),
        (("*.example.com",), "shop.example.com", True),
        (("*.example.com",), "a.shop.example.com", False),
        (("*.example.com",), "example.com", False),
        (("*.com",), "example.com", False),
        (("www.example.com",), "shop.example.com", False),
        ((), "shop.example.com", False),
    ],
)
def test_whether_a_certificate_names_a_host(names: tuple[str, ...], host: str, named: bool) -> None:
    certificate = CertificateInfo("CN=x", names, datetime(2030, 1, 1, tzinfo=UTC))
    assert certificate.names_host(host) is named


def _check(port: int, path: str = "/health", **url: str) -> tuple[ProxyCheck, Recorder]:
    report = Recorder()
    return ProxyCheck(Probe(LocalHost(), timeout=2), report, port, path, timeout=0.5, **url), report


def test_verification_over_https_reports_the_certificate(https_site: LocalSite) -> None:
    check, report = _check(https_site.port, host_header=SITE, server_name=SITE)
    check.expect_upstream(8082)
    assert https_site.seen.server_names[-1] == SITE
    assert https_site.seen.hosts[-1] == SITE
    assert https_site.certificate is not None
    assert check.certificate is not None
    assert check.certificate.not_after == https_site.certificate.not_after
    expires = https_site.certificate.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"TLS certificate of {SITE}: expires {expires} (29 days)" in report.infos[-1]
    assert report.warnings == []
    assert check.serving_color({"blue": 8081, "green": 8082}) == "green"


def test_a_certificate_expiring_soon_or_for_another_name_is_a_warning(tmp_path: Path) -> None:
    with local_site(tmp_path, days=3) as site:
        check, report = _check(site.port, host_header="other.lab.test", server_name="other.lab.test")
        check.expect_upstream(8082)
    assert site.certificate is not None
    expires = site.certificate.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert report.warnings == [
        f"the TLS certificate of other.lab.test expires in 2 days ({expires})",
        f"the TLS certificate nginx presents for other.lab.test does not name it (it names {SITE}, "
        f"www.{SITE}): browsers will refuse it",
    ]


def test_verification_over_https_from_the_wrong_upstream_fails(https_site: LocalSite) -> None:
    check, _ = _check(https_site.port, host_header=SITE, server_name=SITE)
    with pytest.raises(BluegreenError) as caught:
        check.expect_upstream(8081)
    assert str(caught.value) == (
        f"verification through nginx (https://{SITE}/health (127.0.0.1:{https_site.port} on the server)) "
        "failed after the switch: HTTP 200 from upstream 127.0.0.1:8082"
    )


def test_a_redirecting_http_port_fails_at_once_and_suggests_verify_url(redirecting_site: LocalSite) -> None:
    check, _ = _check(redirecting_site.port)
    started = time.monotonic()
    with pytest.raises(BluegreenError) as caught:
        check.expect_upstream(8082)
    assert time.monotonic() - started < 0.4  # no waiting for the 0.5 s timeout
    assert str(caught.value) == (
        f"http-port {redirecting_site.port} answers 301 to GET /health (a redirect to "
        f"https://{SITE}/health) after the switch: set verify-url to the https URL the public uses, "
        "e.g. https://shop.example.com/health"
    )
    assert redirecting_site.seen.hosts == ["localhost"]  # today's check, unchanged


def test_a_redirecting_verify_url_says_so(redirecting_site: LocalSite) -> None:
    check, _ = _check(redirecting_site.port, host_header=SITE)
    with pytest.raises(BluegreenError, match="set verify-url to the URL that answers without a redirect"):
        check.expect_upstream(8082)
    assert check.certificate is None
