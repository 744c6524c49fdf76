"""The benchmark's arithmetic: pure functions over load records, health probes and deploy timelines.

All times are `time.monotonic()` seconds (CLOCK_MONOTONIC, shared by every process on the machine),
so records from the load process, probes from the prober process and marks from the driver line up.

Definitions (the README of the results repeats them):
- latency percentiles are over successful fast requests (`GET /`); slow requests (`/slow?ms=N`)
  exist to be in flight at the switch and would otherwise be the whole tail;
- the steady window is the quiet time just before a deploy starts; the deploy window runs from the
  moment the strategy is started to the moment it returns; a request belongs to the window its
  start falls in;
- every request that starts in a deploy's segment (steady window + deploy window + settle time) is
  counted for that deploy: `requests` and `failed` are over segments;
- first healthy: end of the first successful health probe of the new color's port that started
  after the new color's `compose up` began (before it, that port is dead or, for recreate, serves
  the old container);
- switch delay: first healthy -> end of the first successful request through nginx answered by the
  new color and version;
- overhead: deploy wall time - app start (`compose up` start -> first healthy) - drain;
- client connections closed by the switch: requests started in the deploy window that met a reused
  keep-alive connection the server (nginx) had closed while they were on their way, retried or not
  (`Record.closed_keepalive`): at a reload nginx's old workers close their idle client connections;
  a switch that does not reload closes none.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lab.traffic import Record


@dataclass(frozen=True)
class Window:
    """A half-open time interval [start, end)."""

    start: float
    end: float

    def __contains__(self, moment: float) -> bool:
        return self.start <= moment < self.end

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Probe:
    """One health probe of a color's port, straight to the app (not through nginx)."""

    start: float
    end: float
    port: int
    ok: bool


@dataclass(frozen=True)
class DockerEvent:
    """A container event from the engine (`docker events`), e.g. start, health_status: healthy."""

    at: float
    project: str
    action: str


@dataclass(frozen=True)
class Deploy:
    """One measured deploy, as the driver saw it."""

    strategy: str
    rep: int
    image: str
    version: str  # the version (X-App-Version) the deploy brings
    color: str  # the color live after it
    previous_color: str
    port: int  # the new color's port, probed for health
    project: str  # the new color's compose project
    steady: Window  # quiet time before the deploy
    window: Window  # the deploy itself: strategy started -> returned
    settle_end: float  # end of the quiet time after the deploy
    up_start: float  # `compose up` of the new color started (bluegreen: its `start` phase)
    phases: tuple[tuple[str, float], ...] = ()  # (name, start) in order; the last ends with the window
    drain_seconds: float = 0.0
    pull_seconds: float | None = None  # `compose pull` before `up`, when the driver could time it
    cpu_busy_percent: float | None = None  # whole machine, during the deploy window
    reported: dict[str, Any] = field(default_factory=dict)  # bluegreen's JSON result
    prepared: bool = False  # an unmeasured deploy of the same strategy ran just before the steady window

    @property
    def switch_mode(self) -> str | None:
        """bluegreen's `switch_mode` (seamless or reload) from its JSON result; None for the others
        or a product that does not report it."""
        mode = self.reported.get("switch_mode") or self.reported.get("switch-mode")
        return str(mode) if mode else None

    @property
    def segment(self) -> Window:
        return Window(self.steady.start, self.settle_end)

    def phase_windows(self) -> list[tuple[str, Window]]:
        if not self.phases:
            return []
        ends = [start for _, start in self.phases[1:]] + [self.window.end]
        return [(name, Window(start, end)) for (name, start), end in zip(self.phases, ends, strict=True)]


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile, linearly interpolated between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, not {p}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def started_in(records: Iterable[Record], window: Window) -> list[Record]:
    return [r for r in records if r.start in window]


def fast_ok_latencies_ms(records: Iterable[Record]) -> list[float]:
    return [r.latency_ms for r in records if r.ok and not r.slow]


REFUSED = "ConnectionRefusedError"
"""A request whose connection nothing accepted (no proxy listened on the port)."""


def failure_kind(record: Record) -> str:
    return record.error or f"HTTP {record.status}"


def closed_keepalive(records: Iterable[Record], window: Window) -> int:
    """Requests started in `window` that met a keep-alive connection closed by the server."""
    return sum(1 for r in records if r.closed_keepalive and r.start in window)


def first_healthy(probes: Iterable[Probe], port: int, after: float) -> float | None:
    """When the app on `port` was first seen healthy among probes started at or after `after`."""
    ends = [p.end for p in probes if p.port == port and p.ok and p.start >= after]
    return min(ends) if ends else None


def first_served(records: Iterable[Record], color: str, version: str, after: float) -> float | None:
    """End of the first successful response from (color, version) that ended after `after`."""
    ends = [r.end for r in records if r.ok and r.color == color and r.version == version and r.end > after]
    return min(ends) if ends else None


def first_event(events: Iterable[DockerEvent], project: str, action: str, after: float) -> float | None:
    times = [e.at for e in events if e.project == project and e.action == action and e.at >= after]
    return min(times) if times else None


def switch_delay(healthy: float | None, served: float | None) -> float | None:
    if healthy is None or served is None:
        return None
    return served - healthy


def overhead(deploy_seconds: float, app_start_seconds: float | None, drain_seconds: float) -> float | None:
    if app_start_seconds is None:
        return None
    return deploy_seconds - app_start_seconds - drain_seconds


def rate(records: Sequence[Record], window: Window) -> float:
    """Requests started per second within the window."""
    return len(started_in(records, window)) / window.seconds if window.seconds > 0 else math.nan


def _ms(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 2)


def _s(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 3)


def summarize_deploy(
    deploy: Deploy,
    records: Sequence[Record],
    probes: Sequence[Probe],
    events: Sequence[DockerEvent] = (),
) -> dict[str, Any]:
    """Everything measured about one deploy; records, probes and events may cover the whole run."""
    segment = started_in(records, deploy.segment)
    steady = started_in(segment, deploy.steady)
    during = started_in(segment, deploy.window)
    failed = [r for r in segment if not r.ok]
    steady_ms = fast_ok_latencies_ms(steady)
    deploy_ms = fast_ok_latencies_ms(during)
    healthy = first_healthy(probes, deploy.port, deploy.up_start)
    served = first_served(segment, deploy.color, deploy.version, deploy.window.start)
    app_start = None if healthy is None else healthy - deploy.up_start
    t0 = deploy.window.start
    container_started = first_event(events, deploy.project, "start", deploy.up_start)
    docker_healthy = first_event(events, deploy.project, "health_status: healthy", deploy.up_start)
    phase_p99 = {
        name: _ms(percentile(fast_ok_latencies_ms(started_in(during, w)), 99))
        for name, w in deploy.phase_windows()
    }
    return {
        "rep": deploy.rep,
        "image": deploy.image,
        "from_color": deploy.previous_color,
        "to_color": deploy.color,
        "to_version": deploy.version,
        "requests": len(segment),
        "failed": len(failed),
        "failed_slow": sum(r.slow for r in failed),
        "refused": sum(r.error == REFUSED for r in failed),
        "failure_kinds": dict(sorted(Counter(failure_kind(r) for r in failed).items())),
        "failure_times": [round(r.start - t0, 3) for r in failed[:50]],
        "retried": sum(r.retried for r in segment),
        "closed_keepalive": closed_keepalive(during, deploy.window),
        "closed_keepalive_failed": sum(1 for r in during if r.closed_keepalive and not r.ok),
        "post_requests": sum(r.method == "POST" for r in segment),
        "switch_mode": deploy.switch_mode,
        "prepared": deploy.prepared,
        "slow_requests": sum(r.slow for r in segment),
        "steady_requests": len(steady),
        "deploy_requests": len(during),
        "p50_ms": _ms(percentile(steady_ms, 50)),
        "p99_ms": _ms(percentile(steady_ms, 99)),
        "deploy_p50_ms": _ms(percentile(deploy_ms, 50)),
        "deploy_p99_ms": _ms(percentile(deploy_ms, 99)),
        "deploy_max_ms": _ms(max(deploy_ms, default=math.nan)),
        "deploy_seconds": _s(deploy.window.seconds),
        "switch_delay_seconds": _s(switch_delay(healthy, served)),
        "app_start_seconds": _s(app_start),
        "pull_seconds": _s(deploy.pull_seconds),
        "drain_seconds": _s(deploy.drain_seconds),
        "overhead_seconds": _s(overhead(deploy.window.seconds, app_start, deploy.drain_seconds)),
        "first_healthy_at": _s(None if healthy is None else healthy - t0),
        "first_served_at": _s(None if served is None else served - t0),
        "up_start_at": _s(deploy.up_start - t0),
        "container_started_at": _s(None if container_started is None else container_started - t0),
        "docker_healthy_at": _s(None if docker_healthy is None else docker_healthy - t0),
        "steady_rate_rps": _s(rate(segment, deploy.steady)),
        "deploy_rate_rps": _s(rate(segment, deploy.window)),
        "cpu_busy_percent": deploy.cpu_busy_percent,
        "phases": [(name, round(w.start - t0, 3), round(w.seconds, 3)) for name, w in deploy.phase_windows()],
        "phase_p99_ms": phase_p99,
        **({"reported": deploy.reported} if deploy.reported else {}),
    }


def _median_of(reps: Sequence[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in reps if r[key] is not None]
    return _s(median(values)) if values else None


def summarize_strategy(
    deploys: Sequence[Deploy],
    records: Sequence[Record],
    probes: Sequence[Probe],
    events: Sequence[DockerEvent] = (),
) -> dict[str, Any]:
    """One strategy over its repetitions: latency percentiles pool the reps' windows, times are
    medians over reps, counts are sums; every rep's own values are kept under `reps`."""
    reps = [summarize_deploy(d, records, probes, events) for d in deploys]
    steady_ms: list[float] = []
    deploy_ms: list[float] = []
    for d in deploys:
        segment = started_in(records, d.segment)
        steady_ms += fast_ok_latencies_ms(started_in(segment, d.steady))
        deploy_ms += fast_ok_latencies_ms(started_in(segment, d.window))
    return {
        "requests": sum(r["requests"] for r in reps),
        "failed": sum(r["failed"] for r in reps),
        "p50_ms": _ms(percentile(steady_ms, 50)),
        "p99_ms": _ms(percentile(steady_ms, 99)),
        "deploy_p99_ms": _ms(percentile(deploy_ms, 99)),
        "deploy_seconds": _median_of(reps, "deploy_seconds"),
        "switch_delay_seconds": _median_of(reps, "switch_delay_seconds"),
        "overhead_seconds": _median_of(reps, "overhead_seconds"),
        "deploy_p50_ms": _ms(percentile(deploy_ms, 50)),
        "failed_per_rep": [r["failed"] for r in reps],
        "refused": sum(r["refused"] for r in reps),
        "refused_per_rep": [r["refused"] for r in reps],
        "retried": sum(r["retried"] for r in reps),
        "closed_keepalive": sum(r["closed_keepalive"] for r in reps),
        "closed_keepalive_per_rep": [r["closed_keepalive"] for r in reps],
        "switch_modes": sorted({r["switch_mode"] for r in reps if r["switch_mode"] is not None}),
        "slow_requests": sum(r["slow_requests"] for r in reps),
        "app_start_seconds": _median_of(reps, "app_start_seconds"),
        "drain_seconds": _median_of(reps, "drain_seconds"),
        "reps": reps,
    }


SEAMLESS_SWITCH_DELAY = 0.35
"""Issue 12's limit (seconds, median) for the switch from a healthy new color to its first answer
through nginx; issue 5's 1 s stays checked too."""


@dataclass(frozen=True)
class Target:
    name: str
    holds: bool
    measured: str
    limit: str
    margin: str


def check_targets(strategies: dict[str, dict[str, Any]]) -> list[Target]:
    """The issue's targets, measured: never relaxed here."""
    targets: list[Target] = []
    bg = strategies.get("bluegreen")
    if bg is not None:
        targets.append(
            _none_in_any_rep("bluegreen: 0 failed requests in every repetition", bg["failed_per_rep"])
        )
        delay = bg["switch_delay_seconds"]
        targets.append(_at_most("bluegreen: switch delay (median)", delay, 1.0, "s"))
        targets.append(_at_most("bluegreen: overhead (median)", bg["overhead_seconds"], 3.0, "s"))
        steady, during = bg["p99_ms"], bg["deploy_p99_ms"]
        limit = None if steady is None else 1.5 * steady
        targets.append(_at_most("bluegreen: deploy-window p99 <= 1.5 x steady p99", during, limit, "ms"))
        targets.append(
            _none_in_any_rep(
                "bluegreen: 0 client connections closed by the switch in every repetition (issue 12)",
                bg.get("closed_keepalive_per_rep", []),
                "closed per rep",
            )
        )
        targets.append(
            _at_most(
                "bluegreen: switch delay (median) <= 0.35 s (issue 12)", delay, SEAMLESS_SWITCH_DELAY, "s"
            )
        )
    change = strategies.get("proxy-change")
    if change is not None:
        targets.append(
            _none_in_any_rep("proxy change: 0 failed requests in every repetition", change["failed_per_rep"])
        )
        targets.append(
            _none_in_any_rep(
                "proxy change: 0 refused connections in every repetition (issue 17.3)",
                change["refused_per_rep"],
                "refused per rep",
            )
        )
    reload_mode = strategies.get("bluegreen-reload")
    if reload_mode is not None:
        targets.append(
            _none_in_any_rep(
                "bluegreen-reload: 0 failed requests in every repetition", reload_mode["failed_per_rep"]
            )
        )
    for name in ("seed", "recreate"):
        other = strategies.get(name)
        if other is not None:
            per_rep = other["failed_per_rep"]
            targets.append(
                Target(
                    f"{name}: fails requests",
                    other["failed"] > 0,
                    f"failed per rep {per_rep}",
                    "> 0",
                    f"{sum(f > 0 for f in per_rep)} of {len(per_rep)} reps failed requests",
                )
            )
    return targets


def _none_in_any_rep(name: str, per_rep: list[int], what: str = "failed per rep") -> Target:
    return Target(
        name,
        bool(per_rep) and all(n == 0 for n in per_rep),
        f"{what} {per_rep}",
        "0 each",
        ("no repetition" if not per_rep else f"{max(per_rep)} over" if any(per_rep) else "met"),
    )


def load_target(rate_rps: float, minimum: float = 300.0) -> Target:
    """The load generator must not be the bottleneck: it has to reach `minimum` req/s."""
    holds = rate_rps >= minimum
    margin = f"{abs(rate_rps - minimum):.0f} req/s {'over' if holds else 'under'} the minimum"
    return Target(
        "load: rate reached over the run", holds, f"{rate_rps:.0f} req/s", f">= {minimum:g} req/s", margin
    )


def _at_most(name: str, value: float | None, limit: float | None, unit: str) -> Target:
    if value is None or limit is None:
        return Target(name, False, "not measured", f"<= {limit} {unit}", "n/a")
    holds = value <= limit
    margin = f"{abs(limit - value):.3g} {unit} {'under' if holds else 'over'}"
    if limit:
        margin += f" ({value / limit:.0%} of the limit)"
    return Target(name, holds, f"{value:.3g} {unit}", f"<= {limit:.3g} {unit}", margin)


# ---- the action's start-up (issue 13 item 5) ------------------------------------------------------

STARTUP_LIMIT_SECONDS = 1.0
"""docker run of the action image -> its first SSH packet at the server: the median, at most."""


@dataclass(frozen=True)
class StartupSample:
    """One `docker run` of the action image: issued -> first byte at the lab's sshd (None: none came)."""

    seconds: float | None
    exit_code: int | None
    first_bytes: str = ""


@dataclass(frozen=True)
class Startup:
    """The start-up samples of one run, and the image they ran."""

    image: str
    image_id: str
    image_size_bytes: int
    command: str
    app: str
    samples: tuple[StartupSample, ...]


def summarize_startup(startup: Startup, limit: float = STARTUP_LIMIT_SECONDS) -> dict[str, Any]:
    """Median, min and max of the samples that reached the server; the target holds when the
    median is within `limit` and every sample reached it."""
    times = [s.seconds for s in startup.samples if s.seconds is not None]
    mid = median(times) if times else None
    missed = len(startup.samples) - len(times)
    return {
        "image": startup.image,
        "image_id": startup.image_id,
        "image_size_mb": round(startup.image_size_bytes / 1e6, 1),
        "command": startup.command,
        "app": startup.app,
        "samples": len(startup.samples),
        "samples_seconds": [None if s.seconds is None else round(s.seconds, 3) for s in startup.samples],
        "exit_codes": [s.exit_code for s in startup.samples],
        "no_ssh_packet": missed,
        "median_seconds": _s(mid),
        "min_seconds": _s(min(times)) if times else None,
        "max_seconds": _s(max(times)) if times else None,
        "limit_seconds": limit,
        "holds": mid is not None and mid <= limit and missed == 0,
    }


def startup_target(summary: dict[str, Any]) -> Target:
    name = "action image: docker run -> first SSH packet at the server (median)"
    target = _at_most(name, summary["median_seconds"], summary["limit_seconds"], "s")
    if summary["no_ssh_packet"]:
        missed = f"{summary['no_ssh_packet']} of {summary['samples']} runs sent no SSH packet"
        return Target(name, False, f"{target.measured}; {missed}", target.limit, target.margin)
    return target
