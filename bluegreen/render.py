"""Pure rendering: the user's nginx template, and the compose file of the proxy container."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import jinja2
import jinja2.exceptions
import jinja2.sandbox
import yaml

from bluegreen.errors import InputError
from bluegreen.routing import template_variables


@dataclass(frozen=True)
class Route:
    """What the nginx template is rendered with."""

    app_name: str
    active_color: str
    previous_color: str
    upstream_host: str
    upstream_port: int
    listen_port: int
    switch_variables: Mapping[str, str] = field(default_factory=dict)
    """bluegreen_main, bluegreen_upstreams, bluegreen_backend (routing.template_variables); when
    empty, their reload-mode values."""

    def variables(self) -> dict[str, object]:
        switch = self.switch_variables or template_variables(
            self.app_name,
            {self.active_color: self.upstream_port},
            self.active_color,
            None,
            self.upstream_host,
        )
        return {
            "app_name": self.app_name,
            "active_color": self.active_color,
            "previous_color": self.previous_color,
            "upstream_host": self.upstream_host,
            "upstream_port": self.upstream_port,
            "upstream": f"{self.upstream_host}:{self.upstream_port}",
            "listen_port": self.listen_port,
            **switch,
        }


def render_nginx(template_text: str, route: Route, template_name: str = "nginx-template") -> str:
    # The sandbox: a template reaches the variables, not Python (no `cycler.__init__.__globals__`).
    environment = jinja2.sandbox.SandboxedEnvironment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    try:
        return environment.from_string(template_text).render(route.variables())
    except jinja2.exceptions.SecurityError as exc:
        raise InputError(
            "nginx-template",
            f"{template_name} reaches outside its variables, which is not allowed ({exc})",
            "Use only the template's variables and jinja2's filters",
        ) from None
    except jinja2.UndefinedError as exc:
        known = ", ".join(route.variables())
        raise InputError(
            "nginx-template",
            f"{template_name} uses an undefined variable ({exc.message})",
            f"Use only: {known}",
        ) from None
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" line {line}" if line else ""
        raise InputError(
            "nginx-template",
            f"{template_name}{where} is not a valid jinja2 template ({exc})",
            "Fix the template's syntax",
        ) from None
    except Exception as exc:  # e.g. {{ 1/0 }}, or a range the sandbox refuses as too big
        raise InputError(
            "nginx-template",
            f"{template_name} fails to render ({type(exc).__name__}: {exc})",
            "Fix the expression it names",
        ) from None


PROXY_CONFIG_DIR = "/etc/bluegreen-nginx"


def proxy_compose(image: str, config_dir: str, app_name: str, volumes: tuple[str, ...] = ()) -> str:
    """Compose file of the nginx proxy: host networking, the app's config directory mounted, and
    the extra mounts of `proxy-volumes` (certificates, ...).

    The directory (not the file) is mounted so an atomic rename of nginx.conf is seen inside.
    """
    document = {
        "services": {
            "nginx": {
                "image": image,
                "network_mode": "host",
                "restart": "unless-stopped",
                "command": ["nginx", "-g", "daemon off;", "-c", f"{PROXY_CONFIG_DIR}/nginx.conf"],
                "volumes": [f"{config_dir}:{PROXY_CONFIG_DIR}:ro", *volumes],
                "labels": {"bluegreen.managed": "proxy", "bluegreen.app": app_name},
            }
        }
    }
    return "# Written by bluegreen: the nginx proxy of this app.\n" + yaml.safe_dump(
        document, sort_keys=False
    )
