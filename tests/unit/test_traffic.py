"""lab.traffic against a local site: over https with a site name, and plain HTTP as before."""

from __future__ import annotations

import time
from pathlib import Path

from lab.traffic import Traffic, describe_failures, failures, get_once
from tests.unit.local_site import SITE, local_site


def _load(url: str, server_name: str | None = None) -> Traffic:
    """Two keep-alive clients at 40 req/s and one always in a 50 ms request."""
    return Traffic(url, clients=2, rate=40, slow_clients=1, slow_ms=50, timeout=2, server_name=server_name)


def test_traffic_over_https_to_a_named_site(tmp_path: Path) -> None:
    with local_site(tmp_path) as site, _load(f"https://127.0.0.1:{site.port}", SITE) as load:
        time.sleep(0.5)
    records = load.stop()
    assert len(records) >= 10
    assert failures(records) == [], describe_failures(records)
    assert {r.color for r in records} == {"green"}
    assert any(r.slow for r in records)
    assert set(site.seen.server_names) == {SITE}
    assert set(site.seen.hosts) == {f"{SITE}:{site.port}"}
    assert len(site.seen.server_names) == 3  # keep-alive: one connection per client


def test_plain_http_traffic_is_unchanged() -> None:
    with local_site() as site, _load(f"http://127.0.0.1:{site.port}") as load:
        time.sleep(0.3)
    records = load.stop()
    assert records and failures(records) == []
    assert set(site.seen.hosts) == {f"127.0.0.1:{site.port}"}  # http.client's own Host header


def test_a_redirect_is_a_failed_request_and_get_once_reads_it() -> None:
    with local_site(redirect=True) as site, _load(f"http://127.0.0.1:{site.port}") as load:
        time.sleep(0.2)
        status, headers = get_once(f"http://127.0.0.1:{site.port}", "/health", server_name=SITE)
    records = load.stop()
    assert records and [r.status for r in failures(records)] == [301] * len(records)
    assert (status, headers["location"]) == (301, f"https://{SITE}/health")
    assert f"{SITE}:{site.port}" in site.seen.hosts  # the traffic's requests send 127.0.0.1:port
