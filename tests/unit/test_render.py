import pytest
import yaml

from bluegreen.config import DEFAULT_TEMPLATE
from bluegreen.errors import InputError
from bluegreen.render import Route, proxy_compose, render_nginx

ROUTE = Route("shop", "green", "blue", "127.0.0.1", 8082, 80)


def test_renders_every_variable() -> None:
    template = (
        "{{app_name}} {{active_color}} {{previous_color}} {{upstream_host}}:{{upstream_port}} "
        "{{upstream}} {{listen_port}}"
    )
    assert render_nginx(template, ROUTE) == "shop green blue 127.0.0.1:8082 127.0.0.1:8082 80"


def test_undefined_variable_is_an_input_error_listing_the_known_ones() -> None:
    with pytest.raises(InputError) as caught:
        render_nginx("server {{ upstream_prot }};", ROUTE, "deploy/nginx.conf.j2")
    assert caught.value.input_name == "nginx-template"
    assert "'upstream_prot' is undefined" in str(caught.value)
    assert "Use only: app_name, active_color" in str(caught.value)


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(InputError, match="line 2 is not a valid jinja2 template"):
        render_nginx("ok\n{% if %}\n", ROUTE, "t.j2")


def test_default_template_routes_to_the_active_color() -> None:
    text = render_nginx(DEFAULT_TEMPLATE.read_text(), ROUTE)
    assert "server 127.0.0.1:8082;" in text
    assert "listen 80;" in text
    assert "add_header X-Bluegreen-Upstream $upstream_addr always;" in text


def test_proxy_compose_mounts_the_config_directory_on_host_network() -> None:
    document = yaml.safe_load(proxy_compose("nginx:1.27", "/srv/bg/shop/nginx", "shop"))
    assert document == {
        "services": {
            "nginx": {
                "image": "nginx:1.27",
                "network_mode": "host",
                "restart": "unless-stopped",
                "command": ["nginx", "-g", "daemon off;", "-c", "/etc/bluegreen-nginx/nginx.conf"],
                "volumes": ["/srv/bg/shop/nginx:/etc/bluegreen-nginx:ro"],
                "labels": {"bluegreen.managed": "proxy", "bluegreen.app": "shop"},
            }
        }
    }
