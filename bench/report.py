"""From a run's raw measurements to bench/results/latest.{json,md}."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.run import Raw
from bench.stats import (
    Target,
    check_targets,
    load_target,
    started_in,
    startup_target,
    summarize_startup,
    summarize_strategy,
)
from bench.strategies import BLUEGREEN_STRATEGIES

DEFINITIONS = {
    "requests": "requests started in the strategy's segments (steady window + deploy + settle), all reps",
    "failed": "of those, non-2xx, connection errors and timeouts (a keep-alive retry that succeeded is not)",
    "p50_ms/p99_ms": "latency of successful fast requests (GET /) in the steady windows before deploys",
    "deploy_p99_ms": "the same, for requests started inside the deploy windows",
    "deploy_seconds": "wall time of the deploy, strategy started -> returned (bluegreen: the CLI process)",
    "switch_delay_seconds": (
        "new color first healthy (prober, GET /health on its port every 50 ms) -> first response "
        "from the new color and version through nginx"
    ),
    "overhead_seconds": (
        "deploy_seconds - app start - drain; app start = `compose up` started -> first healthy (for "
        "bluegreen from the start of its `start` phase, which also pulls: its output does not split "
        "pull from up; `pull_seconds` of the other strategies shows what that pull costs); drain = "
        "bluegreen's `drain` phase, 0 for the others (they do not drain)"
    ),
    "closed_keepalive": (
        "client connections closed by the switch: requests started in the deploy window that met a "
        "reused keep-alive connection nginx had closed while they were on their way (at a reload its "
        "old workers close their idle client connections), retried on a new connection or, by "
        "clients that never retry, failed (`closed-keepalive: ...`)"
    ),
    "refused": (
        "failed requests whose connection was refused (ConnectionRefusedError): no proxy listened on "
        "the port at that moment"
    ),
    "proxy-change": (
        "bluegreen deploying with a `proxy-volumes` mount the proxy did not have, so the deploy "
        "replaces the proxy; an unmeasured deploy after the settle time puts it back (its failures, "
        "if any, are counted among the unmeasured deploys')"
    ),
    "switch_mode": "bluegreen's own `switch_mode` in its JSON result: seamless (no reload) or reload",
    "prepared": (
        "bluegreen's variants: after another strategy, one unmeasured deploy of the same variant ran "
        "first (proxy image or config of that variant; see bench/strategies.py), so the measured "
        "switch is the one its users get every time"
    ),
    "startup": (
        "the action image's start-up: `docker run` of it issued (the runner's arguments, INPUT_* of a "
        "`status` of the bench's app) -> the first byte of its SSH connection at a TCP relay in front "
        "of the lab's sshd, one run after another after the strategies, under the same load; "
        "image_size_mb is `docker image inspect`'s Size / 10^6"
    ),
    "aggregation": "counts are sums over reps, latency percentiles pool the reps' windows, times are medians",
}


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        memory_gb = round(int(memory) / 1024 / 1024, 1)
    except OSError:
        memory_gb = 0.0
    docker_version = ""
    try:
        import docker

        client = docker.from_env()
        docker_version = str(client.version().get("Version", ""))
        client.close()
    except Exception:  # the version is a nicety; the bench ran without it
        docker_version = "unknown"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "docker": docker_version,
    }


def build(raw: Raw) -> dict[str, Any]:
    strategies = {}
    for name in raw.settings.strategies:
        deploys = [d for d in raw.deploys if d.strategy == name]
        strategies[name] = summarize_strategy(deploys, raw.records, raw.probes, raw.events)
    duration = raw.load_stopped - raw.load_started
    targets = [load_target(len(raw.records) / duration), *check_targets(strategies)]
    startup = None if raw.startup is None else summarize_startup(raw.startup)
    if startup is not None:
        targets.append(startup_target(startup))
    fast = [r for r in raw.records if not r.slow]
    steady_rates = [strategies[d.strategy]["reps"][d.rep - 1]["steady_rate_rps"] for d in raw.deploys]
    deploy_rates = [strategies[d.strategy]["reps"][d.rep - 1]["deploy_rate_rps"] for d in raw.deploys]
    attributed = {id(r) for d in raw.deploys for r in started_in(raw.records, d.segment)}
    unattributed = [r for r in raw.records if not r.ok and id(r) not in attributed]
    in_preparations = [r for r in unattributed if any(r.start in w for _, w in raw.preparations)]
    return {
        "date": raw.started_at,
        "machine": machine(),
        "source": raw.source,
        "run_seconds": round(raw.run_seconds, 1),
        "settings": asdict(raw.settings),
        "load": {
            "target_fast_rate_rps": raw.settings.rate,
            "rate_rps": round(len(raw.records) / duration, 1),
            "fast_rate_rps": round(len(fast) / duration, 1),
            "slow_rate_rps": round((len(raw.records) - len(fast)) / duration, 1),
            "steady_rate_rps_min": min(steady_rates, default=None),
            "deploy_rate_rps_min": min(deploy_rates, default=None),
            "requests": len(raw.records),
            "retried": sum(r.retried for r in raw.records),
            "closed_keepalive": sum(r.closed_keepalive for r in raw.records),
            "post_requests": sum(r.method == "POST" for r in raw.records),
            "failed_outside_segments": len(unattributed),
            "failed_in_preparations": len(in_preparations),
            "preparations": len(raw.preparations),
            "load_process_cpu_percent_of_one_core": round(100 * raw.load_cpu_seconds / duration, 1),
            "machine_cpu_busy_percent": raw.cpu_busy.get("whole_run_percent"),
            "machine_loadavg_1min": [
                raw.cpu_busy.get("loadavg_1min_before"),
                raw.cpu_busy.get("loadavg_1min_after"),
            ],
            "seconds": round(duration, 1),
        },
        "strategies": strategies,
        "startup": startup,
        "targets": [asdict(t) for t in targets],
        "all_targets_hold": all(t.holds for t in targets),
        "definitions": DEFINITIONS,
    }


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def startup_markdown(doc: dict[str, Any]) -> list[str]:
    """The action image's start-up: one table row, and every sample."""
    s = doc.get("startup")
    if not s:
        return []
    verdict = "yes" if s["holds"] else "**NO**"
    samples = ", ".join("-" if t is None else f"{t:.2f}" for t in s["samples_seconds"])
    failed = [code for code in s["exit_codes"] if code != 0]
    return [
        "",
        "## The action's start-up: `docker run` -> first SSH packet",
        "",
        f"`docker run` of the action image as GitHub's runner runs it, for a `{s['command']}` of the app "
        f"`{s['app']}`, {s['samples']} times under the same load; measured from the moment the command "
        "is issued to the first byte at the lab's sshd (a relay in front of it).",
        "",
        "| image | image size MB | runs | median s | min s | max s | target | holds |",
        "|---|---:|---:|---:|---:|---:|---|---|",
        f"| `{s['image']}` | {s['image_size_mb']:.1f} | {s['samples']} | {_fmt(s['median_seconds'])} "
        f"| {_fmt(s['min_seconds'])} | {_fmt(s['max_seconds'])} | median <= {s['limit_seconds']:g} s "
        f"| {verdict} |",
        "",
        f"Every run (s): {samples}. "
        + (
            f"Runs that did not exit 0: {len(failed)} (exit codes {failed})."
            if failed
            else "Every run exited 0."
        ),
    ]


def markdown(doc: dict[str, Any]) -> str:
    m, load, s = doc["machine"], doc["load"], doc["settings"]
    out = [
        f"# Zero-downtime benchmark, {doc['date']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Linux {m['kernel']}, "
        f"Docker {m['docker']}, Python {m['python']}. Run time {doc['run_seconds']:.0f} s. "
        f"Source: commit {doc['source']['commit'][:10]}"
        + (
            f" with uncommitted changes in {', '.join(doc['source']['uncommitted'])}."
            if doc["source"]["uncommitted"]
            else "."
        ),
        "",
        f"Load through nginx for the whole run: {s['clients']} keep-alive clients paced at "
        f"{s['rate']:g} req/s in total (`GET /`) + {s['slow_clients']} clients always in a "
        f"`GET /slow?ms={s['slow_ms']}`"
        + (
            f" + {s['post_clients']} clients paced like a fast one in `POST /echo`"
            if s.get("post_clients")
            else ""
        )
        + (
            "; clients never retry"
            if s.get("retry") is False
            else "; a GET is retried once on a keep-alive "
            "connection found closed, as browsers do, a POST never"
        )
        + f". Reached **{load['rate_rps']:.0f} req/s** "
        f"({load['fast_rate_rps']:.0f} fast + {load['slow_rate_rps']:.1f} slow; lowest steady window "
        f"{_fmt(load['steady_rate_rps_min'], 0)} req/s, lowest deploy window "
        f"{_fmt(load['deploy_rate_rps_min'], 0)} req/s); the load process used "
        f"{load['load_process_cpu_percent_of_one_core']:.0f}% of one core, the machine was "
        f"{_fmt(load['machine_cpu_busy_percent'], 0)}% busy (1-min load average "
        f"{_fmt(load['machine_loadavg_1min'][0])} at the start, {_fmt(load['machine_loadavg_1min'][1])} at "
        f"the end). {load['requests']} requests, "
        f"{load['retried']} keep-alive retries (RFC 9112 9.3.1), "
        f"{load['closed_keepalive']} requests met a keep-alive connection closed by nginx, "
        f"{load['failed_outside_segments']} failures outside the deploys' segments"
        + (
            f" ({load['failed_in_preparations']} of them in the {load['preparations']} unmeasured deploys "
            "run before a bluegreen variant that follows another strategy, or after a proxy change to "
            "put the proxy back)."
            if load.get("preparations")
            else "."
        ),
        "",
        f"{s['reps']} repetitions, in alternation {' -> '.join(s['strategies'])}; every deploy is a "
        f"version change (v1 -> v2 -> v1 ...). Before each deploy {s['steady_seconds']:g} s steady, "
        f"after it {s['settle_seconds']:g} s settle.",
        "",
        "| strategy | requests | failed | failed per rep | refused connections (per rep) "
        "| client connections closed by the switch (per rep) "
        "| switch mode | p50 ms | p99 ms | deploy p99 ms | deploy s | switch delay s | overhead s |",
        "|---|---:|---:|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in doc["strategies"].items():
        closed = r.get("closed_keepalive")
        out.append(
            f"| {name} | {r['requests']} | {r['failed']} | {r['failed_per_rep']} "
            f"| {_fmt(r.get('refused'))} {r.get('refused_per_rep', '')} "
            f"| {_fmt(closed)} {r.get('closed_keepalive_per_rep', '')} "
            f"| {', '.join(r.get('switch_modes', [])) or '-'} | {_fmt(r['p50_ms'])} "
            f"| {_fmt(r['p99_ms'])} | {_fmt(r['deploy_p99_ms'])} | {_fmt(r['deploy_seconds'])} "
            f"| {_fmt(r['switch_delay_seconds'])} | {_fmt(r['overhead_seconds'])} |"
        )
    out += startup_markdown(doc)
    out += ["", "## Targets", "", "| target | holds | measured | limit | margin |", "|---|---|---|---|---|"]
    for t in doc["targets"]:
        target = Target(**t)
        verdict = "yes" if target.holds else "**NO**"
        out.append(f"| {target.name} | {verdict} | {target.measured} | {target.limit} | {target.margin} |")
    out += [
        "",
        "## Every repetition",
        "",
        "| strategy | rep | change | requests | failed | failure kinds | retried | closed by switch "
        "| switch mode | p99 ms | deploy p99 ms | deploy s | app start s | drain s | switch delay s "
        "| overhead s | CPU busy % |",
        "|---|---:|---|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in doc["strategies"].items():
        for rep in r["reps"]:
            kinds = ", ".join(f"{k} x{v}" for k, v in rep["failure_kinds"].items()) or "-"
            out.append(
                f"| {name} | {rep['rep']} | {rep['to_version']}: {rep['from_color']} -> {rep['to_color']} "
                f"| {rep['requests']} | {rep['failed']} | {kinds} | {rep['retried']} "
                f"| {_fmt(rep.get('closed_keepalive'))} "
                f"| {rep.get('switch_mode') or '-'}{' (prepared)' if rep.get('prepared') else ''} "
                f"| {_fmt(rep['p99_ms'])} "
                f"| {_fmt(rep['deploy_p99_ms'])} | {_fmt(rep['deploy_seconds'])} "
                f"| {_fmt(rep['app_start_seconds'])} | {_fmt(rep['drain_seconds'])} "
                f"| {_fmt(rep['switch_delay_seconds'])} | {_fmt(rep['overhead_seconds'])} "
                f"| {_fmt(rep['cpu_busy_percent'], 0)} |"
            )
    out += [
        "",
        "## From compose up to the first answer through nginx (seconds since the deploy started)",
        "",
        "`app healthy` is the prober's first 2xx from GET /health on the new color's port; `docker "
        "healthy` is the engine's first `health_status: healthy` event for it (the compose file's "
        "healthcheck); `gate passed` is the end of bluegreen's `health` phase.",
        "",
        "| strategy | rep | compose up | container started | app healthy | docker healthy | gate passed "
        "| switch phase | first answer via nginx | switch delay |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in doc["strategies"].items():
        for rep in r["reps"]:
            phases = {p[0]: p for p in rep["phases"]}
            gate = phases.get("health")
            switch = phases.get("switch")
            out.append(
                f"| {name} | {rep['rep']} | {_fmt(rep['up_start_at'])} | {_fmt(rep['container_started_at'])} "
                f"| {_fmt(rep['first_healthy_at'])} | {_fmt(rep['docker_healthy_at'])} "
                f"| {_fmt(gate[1] + gate[2]) if gate and name.startswith('bluegreen') else '-'} "
                f"| {_fmt(switch[1]) if switch else '-'} | {_fmt(rep['first_served_at'])} "
                f"| {_fmt(rep['switch_delay_seconds'])} |"
            )
    for name in BLUEGREEN_STRATEGIES:
        bluegreen = doc["strategies"].get(name)
        if not bluegreen or not bluegreen["reps"]:
            continue
        out += ["", f"## {name}: bluegreen's own phases (seconds, from its JSON result, per rep)", ""]
        names = list(bluegreen["reps"][0]["reported"]["phases"])
        out.append("| rep | " + " | ".join(names) + " | total |")
        out.append("|---:|" + "---:|" * (len(names) + 1))
        for rep in bluegreen["reps"]:
            phases = rep["reported"]["phases"]
            cells = " | ".join(_fmt(phases.get(n)) for n in names)
            out.append(f"| {rep['rep']} | {cells} | {_fmt(rep['reported']['duration_seconds'])} |")
    out += ["", "## Definitions", ""]
    out += [f"- `{k}`: {v}" for k, v in doc["definitions"].items()]
    out += ["", "![requests over time per strategy](latest.png)", ""]
    return "\n".join(out)
