"""The config a switch makes nginx serve: the template rendered for a color, in the switch mode the
proxy and the template allow (seamless: with the njs module and the active-color file)."""

from __future__ import annotations

from bluegreen.colors import mark_route
from bluegreen.host_run import HostRun
from bluegreen.proxy import Candidate
from bluegreen.render import Route, render_nginx
from bluegreen.reuseport import with_reuseport
from bluegreen.routing import SEAMLESS_MARK, SeamlessFiles, Split, template_variables, uses_seamless
from bluegreen.switch_file import seamless_candidate
from bluegreen.verify import UPSTREAM_HEADER


def render_candidate(run: HostRun, target: str, live: str | None, split: Split | None = None) -> Candidate:
    """nginx routing to `target`; `live` is the color serving until the switch. With a split (a
    canary's step, reload mode): both colors, weighted, and the config names `live` as routed."""
    config, report = run.config, run.report
    files = run.seamless if isinstance(run.seamless, SeamlessFiles) else None
    route = Route(
        app_name=run.app,
        active_color=target,
        previous_color=live or "",
        upstream_host="127.0.0.1",
        upstream_port=run.ports[target],
        listen_port=config.http_port,
        switch_variables=template_variables(run.app, run.ports, target, files, split=split),
    )
    template = run.nginx_template()
    rendered = render_nginx(template.text, route, template.source)
    if not config.proxy_container:  # bluegreen's own proxy: a replacement listens beside it
        rendered = with_reuseport(rendered)
    if UPSTREAM_HEADER not in rendered.lower() and "header" not in run.warned:
        run.warned.add("header")
        report.warning(
            "the nginx-template sets no X-Bluegreen-Upstream header: verification after the switch "
            "only sees a 2xx, not that it came from the new color; add "
            "`add_header X-Bluegreen-Upstream $upstream_addr always;` to the location"
        )
    if files is None or not uses_seamless(rendered):
        if files is not None and "template" not in run.warned:
            run.warned.add("template")
            report.info(
                "the nginx-template does not use bluegreen_upstreams / bluegreen_backend: switching "
                "with a reload (see templates/nginx.conf.j2 for a template that switches seamlessly)"
            )
        return Candidate(mark_route(rendered, split.primary if split else target).encode())
    return seamless_candidate(run.app, files, (SEAMLESS_MARK + rendered).encode(), target, live)
