"""`make demo`: bring the lab up, deploy the demo app v1 then v2 with bluegreen, show the switch."""

from __future__ import annotations

import json
import sys
import urllib.request
from typing import Any

from bluegreen.errors import Failure
from bluegreen.progress import StderrReporter
from bluegreen.run import execute
from lab.inputs import as_action_inputs, deploy_inputs


def serving(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.loads(response.read())
            return f"{body['version']} on {body['color']}"
    except OSError:
        return "nothing (no app deployed yet)"


def inputs(lab: dict[str, Any], image: str) -> dict[str, str]:
    app = deploy_inputs(lab, "demo", lab["http_port"], lab["blue_port"], lab["green_port"])
    return {**as_action_inputs(app), "image": image}


def main() -> int:
    from lab import up

    lab = up()
    url = lab["http_url"] + "/"
    for version in ("v1", "v2"):
        before = serving(url)
        print(f"\n### deploying demo {version}: {url} serves {before}", flush=True)
        try:
            result = execute(inputs(lab, lab["images"][version]), StderrReporter())
        except Failure as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(
            f"### {result.status} in {result.duration_seconds:.1f}s: "
            f"{result.previous_color or 'none'} -> {result.active_color}; {url} now serves {serving(url)}",
            flush=True,
        )
    return 0
