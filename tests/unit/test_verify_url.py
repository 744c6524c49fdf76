"""The `verify-url` input: what it accepts, what it refuses, and the check it makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bluegreen.config import parse_inputs
from bluegreen.errors import InputError
from bluegreen.health_gate import Probe
from bluegreen.host import LocalHost
from bluegreen.verify import ProxyCheck
from bluegreen.verify_url import VerifyUrl, parse_verify_url
from tests.unit.test_config import KEY
from tests.unit.test_routine_failures import Recorder

S = "shop.example.com"
GOOD = [
    ("", None, ""),
    (f"https://{S}/health", VerifyUrl("https", S, 443, "/health"), S),
    (f"https://{S}", VerifyUrl("https", S, 443, "/"), S),
    ("HTTPS://Shop.Example.COM:8443/h?x=1", VerifyUrl("https", S, 8443, "/h?x=1"), f"{S}:8443"),
    (f"http://{S}/", VerifyUrl("http", S, 80, "/"), S),
    (f"http://{S}:443/", VerifyUrl("http", S, 443, "/"), f"{S}:443"),
    ("https://203.0.113.7/health", VerifyUrl("https", "203.0.113.7", 443, "/health"), "203.0.113.7"),
    ("https://[2001:db8::1]:8443/", VerifyUrl("https", "2001:db8::1", 8443, "/"), "[2001:db8::1]:8443"),
]


@pytest.mark.parametrize(("value", "url", "host_header"), GOOD, ids=[g[0] or "unset" for g in GOOD])
def test_good_urls(value: str, url: VerifyUrl | None, host_header: str) -> None:
    parsed = parse_verify_url(value)
    assert parsed == url
    assert parsed is None or parsed.host_header == host_header


BAD = [
    # (value, words of the problem)
    ("shop.example.com/health", "not an http or https URL"),
    ("ftp://shop.example.com/", "not an http or https URL"),
    ("//shop.example.com/", "not an http or https URL"),
    ("https:///health", "names no valid host"),
    ("https://shop_/", "names no valid host"),
    ("https://-shop.example.com/", "names no valid host"),
    ("https://shop..example.com/", "names no valid host"),
    ("https://shop.example.com:0/", "port is not a number from 1 to 65535"),
    ("https://shop.example.com:70000/", "port is not a number from 1 to 65535"),
    ("https://shop.example.com:https/", "port is not a number from 1 to 65535"),
    ("https://shop.example.com/health#top", "a #fragment is never sent"),
    ("https://shop.example.com/a b", "contains spaces or control characters"),
    ("https://shop.example.com/\x00", "contains spaces or control characters"),
    ('https://shop.example.com/h"<x>', "its path is not a plain URL path"),
    ("https://admin:s3cret@shop.example.com/", "contains a user name or password"),
    ("https://admin@shop.example.com/", "contains a user name or password"),
]


@pytest.mark.parametrize(("value", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_urls_name_verify_url_and_the_fix(value: str, words: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_verify_url(value)
    assert caught.value.input_name == "verify-url"
    assert str(caught.value).startswith("input 'verify-url': ")
    assert words in caught.value.problem
    assert caught.value.fix
    assert "s3cret" not in str(caught.value)


def _config(workspace: Path, **inputs: str) -> ProxyCheck:
    raw = {"command": "status", "host": "h.example.com", "username": "deploy", "ssh-key": KEY}
    config = parse_inputs({**raw, "app-name": "shop", "http-port": "8080", **inputs}, workspace)
    return ProxyCheck.for_config(config, Probe(LocalHost()), Recorder())


def test_the_check_goes_where_verify_url_says(tmp_path: Path) -> None:
    check = _config(tmp_path, **{"verify-url": "https://shop.example.com/up?deep=1"})
    assert (check.proxy_port, check.path, check.host_header, check.server_name) == (
        443, "/up?deep=1", "shop.example.com", "shop.example.com",
    )  # fmt: skip
    check = _config(tmp_path, **{"verify-url": "http://shop.example.com:8000/"})
    assert (check.proxy_port, check.path, check.host_header, check.server_name) == (
        8000, "/", "shop.example.com:8000", "",
    )  # fmt: skip


def test_without_verify_url_the_check_is_the_http_port_one(tmp_path: Path) -> None:
    check = _config(tmp_path, **{"health-path": "/ready"})
    assert (check.proxy_port, check.path, check.host_header, check.server_name) == (
        8080,
        "/ready",
        "localhost",
        "",
    )


def test_a_bad_verify_url_input_fails_parsing(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        _config(tmp_path, **{"verify-url": "shop.example.com"})
    assert caught.value.input_name == "verify-url"
