"""The canary's inputs (`strategy: canary` and the `canary-*` inputs), validated before anything
connects: one InputError each."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bluegreen.errors import InputError

STRATEGIES = ("bluegreen", "canary")
PAUSE = "pause"
COOKIE_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
"""A cookie nginx can name as `$cookie_<name>` (njs reads it as the same variable)."""
TEMPLATE_PARTS = ("bluegreen_upstreams", "bluegreen_backend")


@dataclass(frozen=True)
class CanaryPlan:
    """How a canary moves traffic: the steps (percents, or `pause`), how long each is watched, and
    the limits a step's new color is judged by."""

    steps: tuple[int | str, ...] = (10, 50, 100)
    interval: float = 60.0
    max_error_rate: float = 0.01
    """Share of the new color's answers that may be 5xx (0.01: 1 %)."""
    max_latency_ratio: float = 1.5
    """The new color's p95 over the old color's, at most."""
    min_requests: int = 50
    """Requests to the new color a step must see to be judged."""
    sticky: str = ""
    """A cookie's name, or `ip`: keeps a user on one side (empty: each request on its own)."""


def parse_canary(values: Mapping[str, str]) -> CanaryPlan | None:
    """The canary of the inputs; None for `strategy: bluegreen`. Every canary input is checked
    either way, so a typo is caught before the strategy is switched on."""
    strategy = values["strategy"]
    if strategy not in STRATEGIES:
        raise InputError("strategy", f"is {strategy!r}", f"Use one of: {', '.join(STRATEGIES)}")
    plan = CanaryPlan(
        steps=_steps(values["canary-steps"]),
        interval=_number(values, "canary-interval", 1, 86400, "seconds, e.g. 60"),
        max_error_rate=_percent(values["canary-max-error-rate"]),
        max_latency_ratio=_number(values, "canary-max-latency-ratio", 1, 1000, "a ratio, e.g. 1.5"),
        min_requests=int(_number(values, "canary-min-requests", 1, 10**9, "a whole number, e.g. 50", True)),
        sticky=_sticky(values["canary-sticky"]),
    )
    return plan if strategy == "canary" else None


def _steps(text: str) -> tuple[int | str, ...]:
    fix = (
        "Give percents that grow up to 100, comma-separated, with `pause` where a person decides, "
        "e.g. 10,50,100"
    )
    steps: list[int | str] = []
    for part in (p.strip() for p in text.split(",")):
        if part == PAUSE:
            if not steps or steps[-1] == PAUSE:
                raise InputError("canary-steps", f"is {text!r}: a pause must follow a percent", fix)
            steps.append(PAUSE)
            continue
        if not part.isdigit() or not 1 <= int(part) <= 100:
            raise InputError("canary-steps", f"is {text!r}: {part!r} is not a percent from 1 to 100", fix)
        percents = [s for s in steps if isinstance(s, int)]
        if percents and int(part) <= percents[-1]:
            raise InputError("canary-steps", f"is {text!r}: {part} does not grow", fix)
        steps.append(int(part))
    if steps[-1] != 100:
        raise InputError("canary-steps", f"is {text!r}: the last step must be 100", fix)
    return tuple(steps)


def _number(
    values: Mapping[str, str], name: str, low: float, high: float, what: str, whole: bool = False
) -> float:
    value = values[name]
    try:
        number = int(value) if whole else float(value)
    except ValueError:
        raise InputError(name, f"is {value!r}, not a number", f"Give {what}") from None
    if not low <= number <= high:  # also refuses nan
        raise InputError(name, f"is {value!r}", f"Give {what}, from {low:g} to {high:g}")
    return float(number)


def _percent(value: str) -> float:
    number = value.removesuffix("%").strip()
    try:
        rate = float(number)
    except ValueError:
        rate = -1.0
    if not 0 <= rate <= 100:
        raise InputError("canary-max-error-rate", f"is {value!r}", "Give a percent from 0 to 100, e.g. 1%")
    return rate / 100


def _sticky(value: str) -> str:
    if value and value != "ip" and not COOKIE_NAME.fullmatch(value):
        raise InputError(
            "canary-sticky",
            f"is {value!r}",
            "Give a cookie's name (letters, digits, _) or `ip`, or leave it empty",
        )
    return value


def check_template_weighs(template_text: str, source: str) -> None:
    """A canary needs a template whose upstreams bluegreen writes (to weigh the colors) and that
    lets nginx record the requests (no `access_log off`)."""
    missing = [part for part in TEMPLATE_PARTS if part not in template_text]
    if missing:
        raise InputError(
            "nginx-template",
            f"{source} cannot weigh the colors for `strategy: canary`: it does not use "
            f"{' and '.join(missing)}",
            "Route through `{{ bluegreen_upstreams }}` (in http {}) and "
            "`proxy_pass http://{{ bluegreen_backend }}` as bluegreen's default template does, "
            "or use `strategy: bluegreen`",
        )
    if re.search(r"access_log\s+off", template_text):
        raise InputError(
            "nginx-template",
            f"{source} says `access_log off`, which hides the requests a canary is judged by",
            "Remove `access_log off` (bluegreen records only a canary's requests), "
            "or use `strategy: bluegreen`",
        )
