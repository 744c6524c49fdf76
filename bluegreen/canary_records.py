"""What nginx recorded of a canary's real requests, and the verdict on a step (pure, but for the
commands that read the records).

nginx writes one line per request while a split is in place (routing.LOG_FORMAT: the upstream's
address, the status, the upstream's response time) to a file inside the proxy's container. A
`Tally` per color adds up those lines; tallies add up (`+`), so the records of several hosts (a
fleet) are judged as one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bluegreen.canary_inputs import CanaryPlan
from bluegreen.untrusted import printable

LINE = re.compile(
    r"^(?P<addresses>.*?) (?P<status>\d{3}) (?P<times>[0-9.-]+(?:, [0-9.-]+)*)(?: (?P<path>.*))?$"
)
LATENCY_FLOOR = 0.01
"""Seconds: p95s below this count as this (nginx records milliseconds; a 1 ms app against a 2 ms
one is no ratio of 2)."""


@dataclass
class Tally:
    """One color's requests in a step: how many, how many answered 5xx, how long each took (also
    per path: a p95 over a mix of fast and slow paths says more about the mix than the version)."""

    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    by_path: dict[str, list[float]] = field(default_factory=dict)

    def __add__(self, other: Tally) -> Tally:
        paths = {
            p: self.by_path.get(p, []) + other.by_path.get(p, []) for p in {*self.by_path, *other.by_path}
        }
        return Tally(
            self.requests + other.requests,
            self.errors + other.errors,
            self.latencies + other.latencies,
            paths,
        )

    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def p95(self) -> float:
        return p95(self.latencies)


def p95(latencies: list[float]) -> float:
    """The nearest-rank 95th percentile (0 for none)."""
    if not latencies:
        return 0.0
    ordered = sorted(latencies)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


def latency_ratio(fresh: Tally, before: Tally, least: int) -> tuple[float, str]:
    """The new color's p95 over the old one's, and on what: the worst ratio among the paths both
    colors answered at least `least` times (like against like), else over all requests."""
    ratios = [
        (max(p95(fresh.by_path[path]), LATENCY_FLOOR) / max(p95(before.by_path[path]), LATENCY_FLOOR), path)
        for path in fresh.by_path.keys() & before.by_path.keys()
        if min(len(fresh.by_path[path]), len(before.by_path[path])) >= least
    ]
    if ratios:
        return max(ratios)
    if not before.latencies:
        return 0.0, ""
    return max(fresh.p95(), LATENCY_FLOOR) / max(before.p95(), LATENCY_FLOOR), ""


def tally_lines(lines: Iterable[str], ports: Mapping[str, int]) -> dict[str, Tally]:
    """Each color's tally from access-log lines (the last upstream a request tried answered it)."""
    by_port = {str(port): color for color, port in ports.items()}
    tallies = {color: Tally() for color in ports}
    for line in lines:
        found = LINE.match(line.strip())
        if not found:
            continue
        address = found["addresses"].split(",")[-1].strip()
        color = by_port.get(address.rpartition(":")[2])
        if color is None:
            continue
        tally = tallies[color]
        tally.requests += 1
        tally.errors += found["status"].startswith("5")
        seconds = found["times"].split(",")[-1].strip()
        if re.fullmatch(r"[0-9.]+", seconds):  # "-": no answer from the upstream
            tally.latencies.append(float(seconds))
            tally.by_path.setdefault(found["path"] or "", []).append(float(seconds))
    return tallies


def add_up(*tallies: Mapping[str, Tally]) -> dict[str, Tally]:
    """The tallies of several hosts as one."""
    total: dict[str, Tally] = {}
    for by_color in tallies:
        for color, tally in by_color.items():
            total[color] = total.get(color, Tally()) + tally
    return total


@dataclass(frozen=True)
class Verdict:
    """A step's judgement: `failed` names the limit crossed ("" when none), `figures` say what was
    measured beside the limits, `enough` whether min-requests were seen."""

    failed: str
    figures: str
    enough: bool
    error_rate: float
    latency_ratio: float
    requests: int


def judge(tallies: Mapping[str, Tally], plan: CanaryPlan, new: str, old: str) -> Verdict:
    """The new color against the limits, once it has answered min-requests (before: not judged)."""
    fresh, before = tallies.get(new, Tally()), tallies.get(old, Tally())
    rate = fresh.error_rate()
    ratio, path = latency_ratio(fresh, before, max(plan.min_requests // 5, 5))
    new_p95 = p95(fresh.by_path[path]) if path else fresh.p95()
    old_p95 = p95(before.by_path[path]) if path else before.p95()
    on = f" on {printable(path, 80)}" if path else ""
    figures = (
        f"{new} answered {fresh.requests} request(s) (min {plan.min_requests}), "
        f"{fresh.errors} 5xx: {rate:.1%} (limit {plan.max_error_rate:.1%}); "
        f"p95{on} {new_p95 * 1000:.0f} ms against {old}'s {old_p95 * 1000:.0f} ms "
        f"({before.requests} request(s) in all): ratio {ratio:.2f} (limit {plan.max_latency_ratio:g})"
    )
    enough = fresh.requests >= plan.min_requests
    failed = ""
    if enough and rate > plan.max_error_rate:
        failed = "canary-max-error-rate"
    elif enough and ratio > plan.max_latency_ratio:
        failed = "canary-max-latency-ratio"
    return Verdict(failed, figures, enough, rate, ratio, fresh.requests)


# ---- reading the records -------------------------------------------------------------------------


def truncate_records(container: str, path: str) -> list[str]:
    """Empty the records file (nginx appends to it: O_APPEND writes land at the new end)."""
    return ["docker", "exec", container, "sh", "-c", ': > "$1"', "sh", path]


def read_records(container: str, path: str, offset: int) -> list[str]:
    """The records file from byte `offset` on (empty output when it does not exist yet)."""
    return ["docker", "exec", container, "sh", "-c", 'tail -c "+$1" "$2" 2>/dev/null || true', "sh",
            str(offset + 1), path]  # fmt: skip


class RecordsReader:
    """Reads the lines appended since the last read (a line cut at the end waits for its rest)."""

    def __init__(self) -> None:
        self.offset = 0
        self._partial = b""

    def take(self, output: bytes) -> list[str]:
        self.offset += len(output)
        text = self._partial + output
        complete, _, self._partial = text.rpartition(b"\n")
        return complete.decode(errors="replace").splitlines() if complete else []
