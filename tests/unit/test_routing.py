"""The two switch modes' pure parts: template variables, the njs module, the active-color file, the
kernel's TCP table, and which color a set of files routes to."""

from __future__ import annotations

from pathlib import Path

import pytest

from bluegreen.colors import mark_route
from bluegreen.proxy import Candidate, Routing, routed_color_of
from bluegreen.render import Route, render_nginx
from bluegreen.routing import (
    RELOAD,
    SEAMLESS,
    SEAMLESS_MARK,
    SeamlessFiles,
    active_file,
    color_of_active_file,
    njs_module,
    template_variables,
    uses_seamless,
)
from bluegreen.tcp_table import established_to

PORTS = {"blue": 8081, "green": 8082}
FILES = SeamlessFiles("/etc/bluegreen-nginx/bluegreen.js", "/etc/bluegreen-nginx/active", "/m/njs.so")
DEFAULT_TEMPLATE = Path(__file__).resolve().parents[2] / "bluegreen" / "templates" / "nginx.conf.j2"


LOG_LINES = (
    "log_format bluegreen_shop_eu_canary '$upstream_addr $status $upstream_response_time $uri';\n"
    "access_log /tmp/bluegreen-shop_eu-canary.log bluegreen_shop_eu_canary if=$log_bluegreen_shop_eu;\n"
)
"""Only a split's requests are recorded (the variable is empty otherwise)."""


def test_reload_mode_names_the_live_color_only() -> None:
    variables = template_variables("shop-eu", PORTS, "green", None)
    assert variables == {
        "bluegreen_main": "",
        "bluegreen_upstreams": (
            "upstream shop_eu_backend {\n    server 127.0.0.1:8082;\n    keepalive 32;\n}\n"
            'map $host $log_bluegreen_shop_eu {\n    default "";\n}\n' + LOG_LINES
        ),
        "bluegreen_backend": "shop_eu_backend",
    }


def test_seamless_mode_defines_both_colors_and_reads_the_live_one_per_request() -> None:
    variables = template_variables("shop-eu", PORTS, "green", FILES)
    assert variables["bluegreen_main"] == "load_module /m/njs.so;\n"
    assert variables["bluegreen_backend"] == "$bluegreen_shop_eu_upstream"
    assert variables["bluegreen_upstreams"] == (
        "js_shared_dict_zone zone=bluegreen_shop_eu_live:1m;\n"
        "js_import bluegreen_shop_eu from /etc/bluegreen-nginx/bluegreen.js;\n"
        "js_set $bluegreen_shop_eu_upstream bluegreen_shop_eu.upstream;\n"
        "js_set $log_bluegreen_shop_eu bluegreen_shop_eu.recording;\n"
        "upstream bluegreen_shop_eu_blue {\n    server 127.0.0.1:8081;\n    keepalive 32;\n"
        "    keepalive_timeout 1s;\n}\n"
        "upstream bluegreen_shop_eu_green {\n    server 127.0.0.1:8082;\n    keepalive 32;\n"
        "    keepalive_timeout 1s;\n}\n" + LOG_LINES
    )
    # Nothing in it depends on the live color: a switch does not change the config.
    assert variables == template_variables("shop-eu", PORTS, "blue", FILES)


def test_the_switch_variable_fits_nginx_default_variables_hash_for_every_app_name_length() -> None:
    """nginx refuses a variable name over 46 characters at its default variables_hash_bucket_size
    (64): "could not build variables_hash" for any app name of 28 characters or more."""
    names = ["a" * length for length in range(1, 64)] + [f"shop-eu-{'x' * 54}{n}" for n in (1, 2)]
    backends = {template_variables(name, PORTS, "blue", FILES)["bluegreen_backend"] for name in names}
    assert len(backends) == len(names)  # one variable per app, also where the name is cut
    assert max(len(backend.removeprefix("$")) for backend in backends) == 46
    assert template_variables("a" * 27, PORTS, "blue", FILES)["bluegreen_backend"] == (
        "$bluegreen_" + "a" * 27 + "_upstream"  # names that always fitted keep their variable
    )
    long = template_variables("a" * 63, PORTS, "blue", FILES)
    variable = long["bluegreen_backend"]
    assert f"js_set {variable} bluegreen_{'a' * 63}.upstream;" in long["bluegreen_upstreams"]


def test_the_default_template_is_the_same_for_both_colors_in_seamless_mode() -> None:
    def render(color: str, files: SeamlessFiles | None) -> str:
        route = Route(
            "shop", color, "", "127.0.0.1", PORTS[color], 80, template_variables("shop", PORTS, color, files)
        )
        return render_nginx(DEFAULT_TEMPLATE.read_text(), route)

    assert render("blue", FILES) == render("green", FILES)
    assert uses_seamless(render("blue", FILES))
    assert render("blue", None) != render("green", None)
    assert not uses_seamless(render("blue", None))
    assert "server 127.0.0.1:8082;" in render("green", None)


def test_njs_module_reads_the_active_file_and_falls_back_to_what_was_switched_to() -> None:
    module = njs_module("shop", "/etc/bluegreen-nginx/active", "green")
    assert "fs.readFileSync(\"/etc/bluegreen-nginx/active\", 'utf8').trim().split('\\n')" in module
    assert 'const NAMES = ["bluegreen_shop_blue", "bluegreen_shop_green"];' in module
    # only a name of one of the app's colors is used; the last one read is kept in shared memory
    assert "const valid = NAMES.includes(name);" in module
    assert 'const memory = ngx.shared["bluegreen_shop_live"];' in module
    assert "if (valid) { if (memory.get('live') !== name) { memory.set('live', name); } }" in module
    assert "else { name = memory.get('live') || ''; }" in module
    # the last resort is the color bluegreen switched to, not always blue (issue 17, finding 1)
    assert 'return NAMES.includes(name) ? name : "bluegreen_shop_green";' in module
    assert module.endswith("export default { upstream, recording };\n")


def test_njs_module_without_shared_memory_falls_back_to_what_was_switched_to() -> None:
    module = njs_module("shop", "/a", "blue", memory=False)
    assert "ngx.shared" not in module
    assert 'return NAMES.includes(name) ? name : "bluegreen_shop_blue";' in module
    no_memory = SeamlessFiles("/j.js", "/a", memory=False)
    assert (
        "js_shared_dict_zone"
        not in template_variables("shop", PORTS, "blue", no_memory)["bluegreen_upstreams"]
    )


@pytest.mark.parametrize(
    ("content", "color"),
    [
        (active_file("shop", "green"), "green"),
        (b"bluegreen_shop_blue", "blue"),
        (b"bluegreen_other_blue\n", None),
        (b"\xff\xfe", None),
        (b"", None),
        (None, None),
    ],
)
def test_color_of_the_active_file(content: bytes | None, color: str | None) -> None:
    assert color_of_active_file("shop", content) == color


def test_routed_color_in_both_modes() -> None:
    reload_config = mark_route("http {}\n", "green").encode()
    seamless_config = (SEAMLESS_MARK + "http {}\n").encode()
    assert routed_color_of(Routing(reload_config, active_file("shop", "blue")), "shop") == "green"
    assert routed_color_of(Routing(seamless_config, active_file("shop", "blue")), "shop") == "blue"
    assert routed_color_of(Routing(seamless_config, None), "shop") is None
    assert routed_color_of(Routing(None, None), "shop") is None


def test_candidate_mode() -> None:
    assert Candidate(b"x").mode == RELOAD
    assert Candidate(b"x", js=b"js", active=b"a").mode == SEAMLESS


TCP_TABLE = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout
   0: 0100007F:4C4A 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0
   1: 0100007F:D431 0100007F:1F91 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0
   2: 0100007F:D432 0100007F:1F91 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0
   3: 0100007F:D433 0100007F:1F91 06 00000000:00000000 00:00000000 00000000     0        0 4 1 0
   4: 0100007F:1F91 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 5 1 0
   5: 0100007F:D434 0100007F:1F92 01 00000000:00000000 00:00000000 00000000     0        0 6 1 0
"""
TCP6_TABLE = """  sl  local_address                         remote_address                        st tx_queue
   0: 00000000000000000000000001000000:D435 00000000000000000000000001000000:1F91 01 00000000:00000000
"""


def test_established_connections_to_a_port() -> None:
    # 0x1F91 = 8081: two established to it (rows 1 and 2); TIME_WAIT (06), the listening socket and
    # the accepted side (local port 8081) are not connections *to* it.
    assert established_to(8081, TCP_TABLE) == 2
    assert established_to(8082, TCP_TABLE) == 1
    assert established_to(9999, TCP_TABLE) == 0
    assert established_to(8081, TCP6_TABLE) == 1
    assert established_to(8081, "") == 0
    assert established_to(8081, "header\n garbage line\n 1: a:b c:zz 01\n") == 0
