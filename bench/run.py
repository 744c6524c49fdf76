"""The driver: lab up, a first deploy, then load + prober for the whole run while the strategies
deploy in alternation, each rep a real version change (v1 -> v2 -> v1 ...)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.probes import DockerEvents, Load, LoadResult, LoadSettings, Prober
from bench.stats import Deploy, DockerEvent, Probe, Startup, StartupSample, Window
from bench.strategies import PROXY_CHANGE, STRATEGIES, App, Runner, needs_preparation
from lab.traffic import Record


@dataclass(frozen=True)
class Settings:
    reps: int = 3
    strategies: tuple[str, ...] = STRATEGIES
    clients: int = 16
    rate: float = 400.0
    slow_clients: int = 8
    slow_ms: int = 2000
    steady_seconds: float = 4.0
    settle_seconds: float = 2.0
    warmup_seconds: float = 2.0
    probe_period: float = 0.05
    retry: bool = True  # False: clients never retry a request on a keep-alive connection found closed
    post_clients: int = 0  # keep-alive clients sending POST /echo, each paced like one fast client
    startup_samples: int = 9  # docker runs of the action image (`status`), after the strategies, under load


@dataclass(frozen=True)
class Raw:
    """Everything measured in one run; the results are computed from this alone."""

    settings: Settings
    lab: dict[str, Any]
    deploys: list[Deploy]
    records: list[Record]
    probes: list[Probe]
    events: list[DockerEvent]
    load_started: float
    load_stopped: float
    load_cpu_seconds: float
    cpu_busy: dict[str, float]  # machine-wide CPU busy % and load averages over the run
    run_seconds: float
    started_at: str
    source: dict[str, Any]
    preparations: tuple[tuple[str, Window], ...] = ()
    """The unmeasured deploys run before a bluegreen variant (strategies.needs_preparation): the
    strategy and the window from its start to the end of its settle time."""
    startup: Startup | None = None
    """The action image's start-up samples (bench.startup), taken under the same load."""


def source_version() -> dict[str, Any]:
    """The commit measured, and which files of the product and the lab differed from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=Path(__file__).parents[1])
        return done.stdout.rstrip("\n") if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", "bluegreen", "lab", "templates").splitlines()
    return {"commit": git("rev-parse", "HEAD"), "uncommitted": [line[3:] for line in changed]}


def say(text: str) -> None:
    print(f"bench: {text}", flush=True)


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


def busy_percent(before: tuple[float, float], after: tuple[float, float]) -> float:
    total = after[1] - before[1]
    return round(100 * (after[0] - before[0]) / total, 1) if total > 0 else 0.0


def measure(
    settings: Settings, lab: dict[str, Any], action_image: str | None = None, app: App | None = None
) -> Raw:
    """The strategies in alternation under load, then (given `action_image`) its start-up samples
    with the same load still running. `app`: another name and ports than the bench's own."""
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    source = source_version()
    run_started = time.monotonic()
    app = app or App(lab)
    images = lab["images"]
    app.reset()
    runner = Runner(app)
    load: Load | None = None
    prober: Prober | None = None
    watcher: DockerEvents | None = None
    try:
        say(f"first deploy of {images['v1']} (bluegreen, no load, not measured)")
        runner.deploy("bluegreen", images["v1"])
        current = images["v1"]
        watcher = DockerEvents(tuple(f"{app.name}-{color}" for color in app.ports))
        prober = Prober(tuple(app.ports.values()), period=settings.probe_period)
        load_settings = LoadSettings(
            app.url, settings.clients, settings.rate, settings.slow_clients, settings.slow_ms,
            settings.retry, settings.post_clients,
        )  # fmt: skip
        load = Load(load_settings)
        cpu_start = cpu_times()
        load_before = os.getloadavg()[0]
        time.sleep(settings.warmup_seconds)
        deploys: list[Deploy] = []
        preparations: list[tuple[str, Window]] = []
        previous = "bluegreen"
        for rep in range(1, settings.reps + 1):
            for strategy in settings.strategies:
                prepared = needs_preparation(strategy, previous)
                if prepared:
                    image = images["v2"] if current == images["v1"] else images["v1"]
                    say(f"rep {rep} {strategy}: an unmeasured deploy of {app.version_of(image)} first")
                    prepare_start = time.monotonic()
                    runner.deploy(strategy, image)
                    current = image
                    time.sleep(settings.settle_seconds)
                    preparations.append((strategy, Window(prepare_start, time.monotonic())))
                image = images["v2"] if current == images["v1"] else images["v1"]
                steady_start = time.monotonic()
                time.sleep(settings.steady_seconds)
                cpu_before = cpu_times()
                timeline = runner.deploy(strategy, image)
                cpu_busy = busy_percent(cpu_before, cpu_times())
                time.sleep(settings.settle_seconds)
                settle_end = time.monotonic()
                if strategy == PROXY_CHANGE:  # the proxy back as the other strategies expect it
                    say(f"rep {rep} {strategy}: an unmeasured deploy puts the proxy back")
                    runner.deploy("bluegreen", image)
                    time.sleep(settings.settle_seconds)
                    preparations.append((strategy, Window(settle_end, time.monotonic())))
                deploy = Deploy(
                    strategy=strategy,
                    rep=rep,
                    image=image,
                    version=app.version_of(image),
                    color=timeline.color,
                    previous_color=timeline.previous_color,
                    port=app.ports[timeline.color],
                    project=f"{app.name}-{timeline.color}",
                    steady=Window(steady_start, timeline.start),
                    window=Window(timeline.start, timeline.end),
                    settle_end=settle_end,
                    up_start=timeline.up_start,
                    phases=tuple(timeline.phases),
                    drain_seconds=timeline.drain_seconds,
                    pull_seconds=timeline.pull_seconds,
                    reported=timeline.reported,
                    cpu_busy_percent=cpu_busy,
                    prepared=prepared,
                )
                deploys.append(deploy)
                current, previous = image, strategy
                mode = f" ({deploy.switch_mode})" if deploy.switch_mode else ""
                say(
                    f"rep {rep} {strategy:16} {app.version_of(image)} -> {timeline.color}: "
                    f"{timeline.end - timeline.start:5.2f} s{mode}"
                )
        startup = None
        if action_image is not None and settings.startup_samples > 0:
            from bench.startup import measure_startup

            say(f"start-up of the action image {action_image}: {settings.startup_samples} runs of `status`")
            startup = measure_startup(lab, action_image, app.name, settings.startup_samples, say=say)
        cpu_end = cpu_times()
        load_after = os.getloadavg()[0]
        result: LoadResult = load.finish()
        load = None
        probes = prober.finish()
        prober = None
        events = watcher.finish()
        watcher = None
    finally:
        for process in (load, prober):
            if process is not None:
                process.kill()
        if watcher is not None:
            watcher.finish()
        app.reset()
    return Raw(
        settings=settings,
        lab=lab,
        deploys=deploys,
        records=result.records,
        probes=probes,
        events=events,
        load_started=result.started,
        load_stopped=result.stopped,
        load_cpu_seconds=result.cpu_seconds,
        cpu_busy={
            "whole_run_percent": busy_percent(cpu_start, cpu_end),
            "loadavg_1min_before": load_before,
            "loadavg_1min_after": load_after,
        },
        run_seconds=time.monotonic() - run_started,
        started_at=started_at,
        source=source,
        preparations=tuple(preparations),
        startup=startup,
    )


# ---- raw dumps (bench/results/runs/, not committed): re-plot without re-running ------------------


def dump(raw: Raw, path: Path) -> None:
    data = {
        "settings": asdict(raw.settings),
        "lab": raw.lab,
        "deploys": [asdict(d) for d in raw.deploys],
        "records": [
            [r.start, r.end, r.status, r.error, r.color, r.version, r.slow, r.retried, r.method]
            for r in raw.records
        ],
        "probes": [[p.start, p.end, p.port, p.ok] for p in raw.probes],
        "events": [[e.at, e.project, e.action] for e in raw.events],
        "load_started": raw.load_started,
        "load_stopped": raw.load_stopped,
        "load_cpu_seconds": raw.load_cpu_seconds,
        "cpu_busy": raw.cpu_busy,
        "run_seconds": raw.run_seconds,
        "started_at": raw.started_at,
        "source": raw.source,
        "preparations": [[name, w.start, w.end] for name, w in raw.preparations],
        "startup": None if raw.startup is None else asdict(raw.startup),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as handle:
        json.dump(data, handle)


def load_dump(path: Path) -> Raw:
    with gzip.open(path, "rt") as handle:
        data = json.load(handle)
    deploys = []
    for d in data["deploys"]:
        d["steady"] = Window(**d["steady"])
        d["window"] = Window(**d["window"])
        d["phases"] = tuple((name, at) for name, at in d["phases"])
        deploys.append(Deploy(**d))
    settings = data["settings"]
    settings["strategies"] = tuple(settings["strategies"])
    return Raw(
        settings=Settings(**settings),
        lab=data["lab"],
        deploys=deploys,
        records=[Record(*row) for row in data["records"]],
        probes=[Probe(*row) for row in data["probes"]],
        events=[DockerEvent(*row) for row in data.get("events", [])],
        load_started=data["load_started"],
        load_stopped=data["load_stopped"],
        load_cpu_seconds=data["load_cpu_seconds"],
        cpu_busy=data["cpu_busy"],
        run_seconds=data["run_seconds"],
        started_at=data["started_at"],
        source=data.get("source", {"commit": "", "uncommitted": []}),
        preparations=tuple((name, Window(start, end)) for name, start, end in data.get("preparations", [])),
        startup=_startup(data.get("startup")),
    )


def _startup(data: dict[str, Any] | None) -> Startup | None:
    if data is None:
        return None
    samples = tuple(StartupSample(**sample) for sample in data.pop("samples"))
    return Startup(**data, samples=samples)
