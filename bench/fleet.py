"""The fleet row (issue 18): the wall time of a deploy to one fleet host, of a parallel deploy to
every host (`batch-size: 100%`) and of a rolling one (`batch-size: 1`), each a real version change,
under load through the lab's load balancer. Target: parallel at most 1.3 x one host.

`python -m bench --only fleet` writes runs/<date>-fleet.json and .md (and prints the table).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lab.inputs import as_flags
from lab.traffic import Record, Traffic, failures

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.3
LOAD = {"clients": 8, "rate": 150.0, "slow_clients": 4, "slow_ms": 1000, "retry": False, "post_clients": 4}
APP = "fleetbench"
"""One app: the one-host deploys go to the first host alone (each host has the fleet's ports once)."""


def _flags(lab: dict[str, Any], app: str, hosts: list[str], image: str, batch: str) -> list[str]:
    fleet = lab["fleet"]
    return as_flags({
        "hosts": "\n".join(hosts),
        "username": lab["username"],
        "ssh-key-file": lab["ssh_key_file"],
        "known-hosts-file": lab["known_hosts_file"],
        "app-name": app,
        "compose-file": lab["compose_file"],
        "remote-dir": fleet["remote_dir"],
        "blue-port": str(fleet["blue_port"]),
        "green-port": str(fleet["green_port"]),
        "http-port": str(fleet["http_port"]),
        "proxy-image": lab["proxy_image"],
        "image": lab["images"][image],
        "batch-size": batch,
    })  # fmt: skip


def _deploy(lab: dict[str, Any], app: str, hosts: list[str], image: str, batch: str) -> float:
    """One deploy's wall time (the CLI's own duration); raises when it fails."""
    argv = [sys.executable, "-m", "bluegreen", "deploy", *_flags(lab, app, hosts, image, batch), "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{app} deploy to {hosts} failed:\n{done.stderr[-3000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["duration_seconds"])


def _versions() -> Iterator[str]:
    while True:
        yield "v2"
        yield "v1"


def measure(lab: dict[str, Any], reps: int) -> dict[str, Any]:
    """reps x (one host, parallel, rolling), alternating, under load through the balancer."""
    hosts: list[str] = list(lab["fleet"]["hosts"])
    _deploy(lab, APP, hosts, "v1", "100%")  # the first deploy: not measured
    times: dict[str, list[float]] = {"one": [], "parallel": [], "rolling": []}
    records: list[Record] = []
    versions = _versions()
    with Traffic(lab["fleet"]["lb_url"], **LOAD) as load:  # type: ignore[arg-type]
        time.sleep(0.5)
        for _ in range(reps):
            times["one"].append(_deploy(lab, APP, hosts[:1], next(versions), "1"))
            times["parallel"].append(_deploy(lab, APP, hosts, next(versions), "100%"))
            times["rolling"].append(_deploy(lab, APP, hosts, next(versions), "1"))
        time.sleep(1.0)
    records = load.records
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["parallel"] / medians["one"]
    return {
        "hosts": len(hosts),
        "reps": reps,
        "seconds": times,
        "median_seconds": medians,
        "rolling_seconds_per_host": medians["rolling"] / len(hosts),
        "parallel_over_one": round(ratio, 3),
        "target": {
            "name": "parallel deploy to the fleet / one host",
            "limit": TARGET_RATIO,
            "holds": ratio <= TARGET_RATIO,
        },
        "requests": len(records),
        "failed_requests": len(failures(records)),
        "load_average_1min_after": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
    }


def markdown(doc: dict[str, Any]) -> list[str]:
    m = doc["median_seconds"]
    holds = "holds" if doc["target"]["holds"] else "MISSED"
    return [
        f"## Fleet: {doc['hosts']} hosts behind the lab's load balancer ({doc['reps']} reps, medians)",
        "",
        "| Deploy | Wall time (s) | Per host (s) |",
        "|---|---:|---:|",
        f"| one host | {m['one']:.1f} | {m['one']:.1f} |",
        f"| parallel (`batch-size: 100%`) | {m['parallel']:.1f} | {m['parallel'] / doc['hosts']:.1f} |",
        f"| rolling (`batch-size: 1`) | {m['rolling']:.1f} | {doc['rolling_seconds_per_host']:.1f} |",
        "",
        f"Parallel / one host: {doc['parallel_over_one']:.2f} x (target at most {TARGET_RATIO} x: {holds}). "
        f"Requests through the balancer meanwhile: {doc['requests']}, failed: {doc['failed_requests']}. "
        f"Machine: {doc['cpus']} CPUs, load average {doc['load_average_1min_after']} at the end (the "
        "hosts' engines share these CPUs: a parallel deploy runs three `docker compose` at once).",
        "",
    ]


def remove_apps(lab: dict[str, Any]) -> None:
    """The bench's app off every fleet host (its projects, network, claim and directory)."""
    import docker

    from lab.cleanup import remove_app

    for engine in lab["fleet"]["engines"]:
        client = docker.DockerClient(base_url=engine["docker_host"])
        try:
            remove_app(client, APP, Path(engine["deploy_dir"]) / APP)
        finally:
            client.close()
