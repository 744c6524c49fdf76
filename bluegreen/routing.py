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


@dataclass(frozen=True)
class Split:
    """A canary's split: `percent` of the requests go to `canary`, the rest to `primary`;
    `sticky` (a cookie's name, or `ip`) keeps a user on one side (empty: each request on its own)."""

    primary: str
    canary: str
    percent: int
    sticky: str = ""


def template_variables(
    app_name: str,
    ports: dict[str, int],
    active_color: str,
    files: SeamlessFiles | None,
    host: str = "127.0.0.1",
    split: Split | None = None,
) -> dict[str, str]:
    """The variables a seamless-ready template uses; with files None, their reload-mode values
    (with a split: both colors in one upstream, weighted)."""
    name = app_id(app_name)
    if files is None:
        backend = f"{name}_backend"
        return {
            "bluegreen_main": "",
            "bluegreen_upstreams": _reload_upstream(backend, ports, active_color, host, split)
            + f'map $host ${log_variable(app_name)} {{\n    default "{"1" if split else ""}";\n}}\n'
            + _log_lines(app_name),
            "bluegreen_backend": backend,
        }
    blocks = "".join(
        f"upstream {upstream_name(app_name, color)} {{\n    server {host}:{ports[color]};\n"
        f"    keepalive 32;\n    keepalive_timeout {UPSTREAM_IDLE_TIMEOUT};\n}}\n"
        for color in COLORS
    )
    memory = f"js_shared_dict_zone zone={memory_zone(app_name)}:{MEMORY_SIZE};\n" if files.memory else ""
    upstreams = (
        f"{memory}js_import bluegreen_{name} from {files.js_path};\n"
        f"js_set ${switch_variable(app_name)} bluegreen_{name}.upstream;\n"
        f"js_set ${log_variable(app_name)} bluegreen_{name}.recording;\n{blocks}"
        f"{_log_lines(app_name)}"
    )
    main = f"load_module {files.module_path};\n" if files.module_path else ""
    return {
        "bluegreen_main": main,
        "bluegreen_upstreams": upstreams,
        "bluegreen_backend": f"${switch_variable(app_name)}",
    }


def _reload_upstream(
    backend: str, ports: dict[str, int], active_color: str, host: str, split: Split | None
) -> str:
    if split is None or split.percent <= 0:
        servers = f"    server {host}:{ports[active_color]};\n"
    elif split.percent >= 100:
        servers = f"    server {host}:{ports[split.canary]};\n"
    else:
        sticky = ""
        if split.sticky:
            key = "$remote_addr" if split.sticky == "ip" else f"$cookie_{split.sticky}"
            sticky = f"    hash {key} consistent;\n"
        servers = (
            f"{sticky}    server {host}:{ports[split.primary]} weight={100 - split.percent};\n"
            f"    server {host}:{ports[split.canary]} weight={split.percent};\n"
        )
    return f"upstream {backend} {{\n{servers}    keepalive 32;\n}}\n"


LOG_FORMAT = "$upstream_addr $status $upstream_response_time $uri"
"""What nginx records of each request during a canary: which color answered, how, how fast, and
its path (no query string: latencies are compared path by path)."""


def log_path(app_name: str) -> str:
    """Inside the proxy's container: the canary's records (written only while a canary runs)."""
    return f"/tmp/bluegreen-{app_id(app_name)}-canary.log"


def log_variable(app_name: str) -> str:
    """njs: non-empty while the active-color file holds a split (what the access log records)."""
    return "log_" + switch_variable(app_name).removesuffix("_upstream")


def _log_lines(app_name: str) -> str:
    """Only the requests of a split are recorded: nginx logs nothing of the app otherwise (as the
    default template's former `access_log off`)."""
    fmt = f"bluegreen_{app_id(app_name)}_canary"
    return (
        f"log_format {fmt} '{LOG_FORMAT}';\n"
        f"access_log {log_path(app_name)} {fmt} if=${log_variable(app_name)};\n"
    )


def uses_seamless(rendered: str) -> bool:
    return TEMPLATE_MARK in rendered


def memory_zone(app_name: str) -> str:
    """The shared dict where njs keeps the last color it read from the active-color file."""
    return f"bluegreen_{app_id(app_name)}_live"


def njs_module(app_name: str, active_path: str, switched_to: str, memory: bool = True) -> str:
    """The njs module: the upstream named in the active-color file's first line, read on every
    request. A file that cannot be read or names no color of the app is ignored: the last color read
    serves (shared memory), else `switched_to`, the color bluegreen switched to when it wrote this
    module (njs reads the module only when nginx loads its config, so this is the last resort after a
    restart). A second line `canary <upstream> <percent> [ip|cookie:<name>]` sends that share of the
    requests to the canary: at random, or by a hash of the sticky key (a user whose hash is below the
    share stays on the canary while the share grows)."""
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
        "function lines() {\n"
        f"    try {{ return fs.readFileSync({json.dumps(active_path)}, 'utf8').trim().split('\\n'); }}\n"
        "    catch (e) { return ['']; }\n"
        "}\n"
        "function bucket(key) {\n"
        "    let h = 2166136261;\n"
        "    for (let i = 0; i < key.length; i++) { h = Math.imul(h ^ key.charCodeAt(i), 16777619) >>> 0; }\n"
        "    return h % 100;\n"
        "}\n"
        "function split(r, line, name) {\n"
        "    const f = (line || '').trim().split(' ');\n"
        "    const percent = Number(f[2]);\n"
        "    const known = f[0] === 'canary' && NAMES.includes(f[1]);\n"
        "    if (!known || !(percent >= 0 && percent <= 100)) { return name; }\n"
        "    const sticky = f[3] || '';\n"
        "    let key = '';\n"
        "    if (sticky === 'ip') { key = r.remoteAddress || ''; }\n"
        "    else if (sticky.startsWith('cookie:')) {\n"
        "        key = r.variables['cookie_' + sticky.slice(7)] || '';\n"
        "    }\n"
        "    const at = key ? bucket(key) : Math.random() * 100;\n"
        "    return at < percent ? f[1] : name;\n"
        "}\n"
        "function upstream(r) {\n"
        "    const file = lines();\n"
        "    let name = file[0].trim();\n"
        "    const valid = NAMES.includes(name);\n"
        f"{remember}"
        "    if (valid && file.length > 1) { return split(r, file[1], name); }\n"
        f"    return NAMES.includes(name) ? name : {json.dumps(upstream_name(app_name, switched_to))};\n"
        "}\n"
        "function recording(r) {\n"
        "    return lines().length > 1 ? '1' : '';\n"
        "}\n"
        "export default { upstream, recording };\n"
    )


def active_file(app_name: str, color: str, split: Split | None = None) -> bytes:
    """The first line names the color that serves (what njs remembers); a split adds a second."""
    text = f"{upstream_name(app_name, color)}\n"
    if split is not None:
        sticky = "" if not split.sticky else " ip" if split.sticky == "ip" else f" cookie:{split.sticky}"
        text += f"canary {upstream_name(app_name, split.canary)} {split.percent}{sticky}\n"
    return text.encode()


def color_of_active_file(app_name: str, content: bytes | None) -> str | None:
    if not content:
        return None
    text = content.decode(errors="replace").strip().split("\n")[0].strip()
    return next((color for color in COLORS if text == upstream_name(app_name, color)), None)


def split_of_active_file(app_name: str, content: bytes | None) -> Split | None:
    """The split a seamless active-color file holds (None: one color serves)."""
    primary = color_of_active_file(app_name, content)
    lines = (content or b"").decode(errors="replace").strip().split("\n")
    if primary is None or len(lines) < 2:
        return None
    fields = lines[1].split()
    canary = next((c for c in COLORS if fields[1:2] == [upstream_name(app_name, c)]), None)
    if fields[:1] != ["canary"] or canary is None or len(fields) < 3 or not fields[2].isdigit():
        return None
    sticky = fields[3].removeprefix("cookie:") if len(fields) > 3 else ""
    return Split(primary, canary, int(fields[2]), sticky)
