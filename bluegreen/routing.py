"""How nginx picks the color, in either switch mode (pure: text in, text out).

- reload: the config names the live color's port; a switch rewrites it and reloads nginx. At a
  reload nginx's old workers close their idle keep-alive client connections.
- seamless: the config defines both colors as upstreams, and njs (`js_set`) reads which one to use
  from a small file on every request; a switch rewrites that file and nothing else, so nginx is not
  reloaded and no connection is closed. The config changes (and nginx reloads) only when the
  template or the ports change. No read of that file can send traffic to a color bluegreen did not
  switch to: a file that is missing, unreadable or names no color of the app is ignored, and the
  last color read from it serves (kept in nginx's shared memory, across workers and reloads), else
  the color bluegreen last switched to (written into the njs module, read when nginx loads it).

A template opts in by using `bluegreen_upstreams` (in `http {}`), `bluegreen_backend` (after
`proxy_pass http://`) and, for a whole nginx.conf, `bluegreen_main` (main context: loads njs).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from bluegreen.colors import COLORS

SEAMLESS, RELOAD = "seamless", "reload"
UPSTREAM_IDLE_TIMEOUT = "1s"
MEMORY_SIZE = "1m"
"""The shared dict's size: one key, but nginx's slab allocator wants 8 pages (64 KiB pages exist)."""
"""How long nginx keeps an idle connection to a color: after a switch the old color's pool empties
within it, which is what the drain waits for."""
NJS_MODULE_PATHS = (
    "/usr/lib/nginx/modules/ngx_http_js_module.so",  # Debian, Ubuntu (libnginx-mod-http-js)
    "/etc/nginx/modules/ngx_http_js_module.so",  # the official nginx image
    "/usr/lib64/nginx/modules/ngx_http_js_module.so",  # Fedora, RHEL
)
TEMPLATE_MARK = "$bluegreen_"
MAX_VARIABLE_NAME = 46
"""The longest variable name nginx's variables hash holds at its default bucket size (64 bytes on a
64-bit build: 8 for the value, the name and 2 rounded up to 8, 8 for the bucket's end)."""
SEAMLESS_MARK = "# bluegreen-switch: seamless (the active color is in the active-color file)\n"
"""The first line of a seamless config, instead of the color a reload-mode config names."""


@dataclass(frozen=True)
class SeamlessFiles:
    """Where nginx finds bluegreen's njs module and the active-color file (paths inside the proxy)."""

    js_path: str
    active_path: str
    module_path: str = ""
    """load_module this (empty: the user's nginx.conf loads njs itself)."""
    memory: bool = True
    """njs keeps the last color read in a shared dict (`js_shared_dict_zone`, njs 0.8.0 and later)."""


def app_id(app_name: str) -> str:
    """The app's name as nginx variable and upstream names allow it."""
    return re.sub(r"[^A-Za-z0-9_]", "_", app_name)


def upstream_name(app_name: str, color: str) -> str:
    return f"bluegreen_{app_id(app_name)}_{color}"


def switch_variable(app_name: str) -> str:
    """The variable that names the live color's upstream (without `$`): the app's name in it is cut
    and given a hash of the whole name where it would not fit nginx's variables hash."""
    name = app_id(app_name)
    if len(f"bluegreen_{name}_upstream") > MAX_VARIABLE_NAME:
        name = f"{name[:18]}_{hashlib.sha256(app_name.encode()).hexdigest()[:8]}"
    return f"bluegreen_{name}_upstream"


def template_variables(
    app_name: str,
    ports: dict[str, int],
    active_color: str,
    files: SeamlessFiles | None,
    host: str = "127.0.0.1",
) -> dict[str, str]:
    """The variables a seamless-ready template uses; with files None, their reload-mode values."""
    name = app_id(app_name)
    if files is None:
        backend = f"{name}_backend"
        upstreams = (
            f"upstream {backend} {{\n    server {host}:{ports[active_color]};\n    keepalive 32;\n}}\n"
        )
        return {"bluegreen_main": "", "bluegreen_upstreams": upstreams, "bluegreen_backend": backend}
    blocks = "".join(
        f"upstream {upstream_name(app_name, color)} {{\n    server {host}:{ports[color]};\n"
        f"    keepalive 32;\n    keepalive_timeout {UPSTREAM_IDLE_TIMEOUT};\n}}\n"
        for color in COLORS
    )
    memory = f"js_shared_dict_zone zone={memory_zone(app_name)}:{MEMORY_SIZE};\n" if files.memory else ""
    upstreams = (
        f"{memory}js_import bluegreen_{name} from {files.js_path};\n"
        f"js_set ${switch_variable(app_name)} bluegreen_{name}.upstream;\n{blocks}"
    )
    main = f"load_module {files.module_path};\n" if files.module_path else ""
    return {
        "bluegreen_main": main,
        "bluegreen_upstreams": upstreams,
        "bluegreen_backend": f"${switch_variable(app_name)}",
    }


def uses_seamless(rendered: str) -> bool:
    return TEMPLATE_MARK in rendered


def memory_zone(app_name: str) -> str:
    """The shared dict where njs keeps the last color it read from the active-color file."""
    return f"bluegreen_{app_id(app_name)}_live"


def njs_module(app_name: str, active_path: str, switched_to: str, memory: bool = True) -> str:
    """The njs module: the upstream named in the active-color file, read on every request. A file
    that cannot be read or names no color of the app is ignored: the last color read serves (shared
    memory), else `switched_to`, the color bluegreen switched to when it wrote this module (njs reads
    the module only when nginx loads its config, so this is the last resort after a restart)."""
    names = [upstream_name(app_name, color) for color in COLORS]
    zone = json.dumps(memory_zone(app_name))
    remember = (
        f"    const memory = ngx.shared[{zone}];\n"
        "    try { if (valid) { if (memory.get('live') !== name) { memory.set('live', name); } }\n"
        "          else { name = memory.get('live') || ''; } } catch (e) { }\n"
        if memory
        else ""
    )
    return (
        "// Written by bluegreen: which color serves is read from a file on every request.\n"
        "import fs from 'fs';\n"
        f"const NAMES = {json.dumps(names)};\n"
        "function upstream(r) {\n"
        "    let name = '';\n"
        f"    try {{ name = fs.readFileSync({json.dumps(active_path)}, 'utf8').trim(); }} catch (e) {{ }}\n"
        "    const valid = NAMES.includes(name);\n"
        f"{remember}"
        f"    return NAMES.includes(name) ? name : {json.dumps(upstream_name(app_name, switched_to))};\n"
        "}\n"
        "export default { upstream };\n"
    )


def active_file(app_name: str, color: str) -> bytes:
    return f"{upstream_name(app_name, color)}\n".encode()


def color_of_active_file(app_name: str, content: bytes | None) -> str | None:
    if not content:
        return None
    text = content.decode(errors="replace").strip()
    return next((color for color in COLORS if text == upstream_name(app_name, color)), None)
