"""`strategy: canary` under load through the lab's nginx (issue 19): the split nginx really made at
each step, a bad canary aborted by what nginx recorded of its real requests, and nothing lost.

Traffic: keep-alive GETs that never retry, POSTs and slow requests at once (as test_seamless.py).
The test watches the active-color file on the lab server to know which split was in force when
each request started; requests that started within a moment of a change are not counted."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bluegreen.routing import split_of_active_file
from lab.traffic import Record, Traffic, describe_failures, failures
from tests.e2e.apps import App, Run, live, project_running, reset

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = str(ROOT / "lab" / "example" / "nginx.conf.j2")
LOAD = {"clients": 6, "rate": 150.0, "slow_clients": 2, "slow_ms": 500, "retry": False, "post_clients": 2}
CANARY = {
    "strategy": "canary",
    "canary-steps": "10,50,100",
    "canary-interval": "8",
    "canary-min-requests": "80",
    "canary-max-latency-ratio": "3",
    "nginx-template": TEMPLATE,
}
"""A p95 over a few dozen requests is noisy on the lab's 2 shared cores, and a freshly started color
is slower at first: with 20 requests a good v2 was aborted at ratio 2.42 (29 ms against 12 ms).
80 requests and a ratio of 3 keep the slow variant's +200 ms far above the limit. (The flaky test
asks for 20: its 500s are what is judged, and its time from the first 500 to weight 0 is measured.)"""
SETTLE = 0.3
"""Seconds after a change of the split during which a request is not counted for either split."""


class SplitWatch:
    """Polls the active-color file: (time, percent to the canary) at every change."""

    def __init__(self, app: App) -> None:
        self.path = app.app_dir / "nginx" / "active"
        self.config = app.app_dir / "nginx" / "nginx.conf"
        self.weight = re.compile(rf"server 127\.0\.0\.1:{app.green_port} weight=(\d+);".encode())
        self.name = app.name
        self.changes: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last: int | None = None
        while not self._stop.is_set():
            try:
                content = self.path.read_bytes()
            except OSError:
                content = b""
            split = split_of_active_file(self.name, content)
            percent = split.percent if split else self._weight()
            if percent != last:
                self.changes.append((time.monotonic(), percent))
                last = percent
            time.sleep(0.02)

    def _weight(self) -> int:
        """Reload mode: green's weight in the config (-1: no weighted upstream)."""
        try:
            found = self.weight.search(self.config.read_bytes())
        except OSError:
            return -1
        return int(found[1]) if found else -1

    def __enter__(self) -> SplitWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def percent_at(self, moment: float) -> int | None:
        """The split in force at `moment`, None near a change (-1: no split)."""
        current = None
        for at, percent in self.changes:
            if abs(moment - at) < SETTLE:
                return None
            if at <= moment:
                current = percent
        return current


@pytest.fixture
def app_with(lab: dict[str, Any]) -> Iterator[Callable[..., App]]:
    made: list[App] = []

    def make(name: str, base_port: int, compose_v1: bool = False, **extra: str) -> App:
        app = App(lab, name=f"canary-{name}", http_port=base_port, blue_port=base_port + 1,
                  green_port=base_port + 2, compose_v1=compose_v1, extra=extra)  # fmt: skip
        reset(app)
        made.append(app)
        app.deploy(lab["images"]["v1"], **{"nginx-template": TEMPLATE}).expect_ok()
        return app

    yield make
    for app in made:
        reset(app)


def shares(records: list[Record], watch: SplitWatch, version: str) -> dict[int, tuple[int, float]]:
    """Per split: the answers counted and the share of them from `version`."""
    counted: dict[int, list[Record]] = {}
    for record in records:
        percent = watch.percent_at(record.start)
        if percent is not None and percent >= 0 and record.ok:
            counted.setdefault(percent, []).append(record)
    return {
        percent: (len(group), 100 * sum(r.version == version for r in group) / len(group))
        for percent, group in counted.items()
    }


@pytest.mark.parametrize("mode", ["seamless", "reload", "compose-v1"])
def test_a_good_canary_reaches_v2_step_by_step_with_the_split_it_asked_for(
    app_with: Callable[..., App], lab: dict[str, Any], mode: str
) -> None:
    """reload: a proxy without njs (the demo image's Debian nginx) gets a weighted upstream per step."""
    base = {"seamless": 21900, "reload": 21970, "compose-v1": 21980}[mode]
    extra = {"proxy-image": lab["images"]["v1"]} if mode == "reload" else {}
    app = app_with(f"good-{mode}", base, compose_v1=mode == "compose-v1", **extra)
    # This test measures the split; the latency limit is the slow canary's test. On a busy 2-core
    # machine one side's p95 can jump 4x for a second (seen: 217 ms against 56 ms, 137 answers).
    good = {**CANARY, "canary-max-latency-ratio": "10"}
    with SplitWatch(app) as watch, Traffic(app.url, **LOAD) as load:  # type: ignore[arg-type]
        time.sleep(0.5)
        run = app.deploy(lab["images"]["v2"], **good)
        time.sleep(1.0)
    result = run.expect_ok()
    assert live(app) == ("v2", "green")
    assert result["active_color"] == "green"
    assert "canary: step 10% passed" in run.stderr and "canary: step 50% passed" in run.stderr
    records = load.records
    if mode == "reload":  # each step reloads: keep-alive connections idle at a reload are closed
        assert all(r.closed_keepalive for r in failures(records)), describe_failures(records)
    else:
        assert failures(records) == [], describe_failures(records)
        assert not any(r.retried or r.closed_keepalive for r in records)
    assert len([r for r in records if r.method == "POST"]) > 50
    measured = shares(records, watch, "v2")
    print(f"{mode}: requests {len(records)}, failed {len(failures(records))}, v2 share per step {measured}")
    assert set(measured) >= {10, 50}, watch.changes
    for percent in (10, 50):
        count, share = measured[percent]
        assert count > 200, measured
        assert abs(share - percent) <= 5, measured
    assert not project_running(app, "blue")


def test_a_flaky_canary_is_aborted_in_its_first_step_and_v1_serves_everything_after(
    app_with: Callable[..., App], lab: dict[str, Any]
) -> None:
    app = app_with("flaky", 21910)
    with SplitWatch(app) as watch, Traffic(app.url, **LOAD) as load:  # type: ignore[arg-type]
        time.sleep(0.5)
        run = app.deploy(lab["images"]["flaky"], **{**CANARY, "canary-min-requests": "20"})
        time.sleep(2.0)
    assert run.exit_code != 0, run.stderr
    assert "canary aborted at 10%: canary-max-error-rate crossed" in run.stderr, run.stderr
    assert live(app) == ("v1", "blue")
    assert not project_running(app, "green")
    records = load.records
    aborted = next(at for at, percent in watch.changes[1:] if percent == -1)
    failed = failures(records)
    first_bad = min(r.start for r in failed)
    print(f"requests {len(records)}, failed {len(failed)}, first 500 to weight 0 {aborted - first_bad:.2f} s")
    assert aborted - first_bad <= 5.0
    assert all(r.status == 500 and r.version == "flaky" for r in failed), describe_failures(records)
    in_step = [r for r in records if r.start < aborted]
    assert len(failed) < 0.2 * 0.1 * len(in_step) * 2 + 5, (len(failed), len(in_step))
    after = [r for r in records if r.start > aborted + SETTLE]
    assert after and all(r.ok and r.version == "v1" for r in after), describe_failures(after)


def test_a_slow_canary_is_aborted_by_the_latency_ratio(
    app_with: Callable[..., App], lab: dict[str, Any]
) -> None:
    app = app_with("slow", 21920)
    with Traffic(app.url, **LOAD) as load:  # type: ignore[arg-type]
        time.sleep(0.5)
        run = app.deploy(lab["images"]["slow"], **CANARY)
        time.sleep(1.0)
    assert run.exit_code != 0, run.stderr
    assert "canary aborted at 10%: canary-max-latency-ratio crossed" in run.stderr, run.stderr
    print(f"requests {len(load.records)}, failed {len(failures(load.records))}")
    assert live(app) == ("v1", "blue")
    assert failures(load.records) == [], describe_failures(load.records)


PAUSED = {**CANARY, "canary-steps": "10,pause,100"}


def test_pause_then_promote_and_a_deploy_during_the_pause_is_refused(
    app_with: Callable[..., App], lab: dict[str, Any]
) -> None:
    app = app_with("promote", 21930)
    with SplitWatch(app) as watch, Traffic(app.url, **LOAD) as load:  # type: ignore[arg-type]
        time.sleep(0.5)
        paused = app.deploy(lab["images"]["v2"], **PAUSED)
        assert paused.expect_ok()["status"] == "paused", paused.stderr
        time.sleep(3.0)
        status = app.run("status").expect_ok()
        refused = app.deploy(lab["images"]["v1"], **{"nginx-template": TEMPLATE})
        rollback = app.run("rollback")
        time.sleep(2.0)
        promoted = app.run("promote")
        time.sleep(1.0)
    assert status["canary"] == "paused at 10% to green (next steps: 100)", status
    for run in (refused, rollback):
        assert run.exit_code != 0
        assert "`command: promote` (go on) or `command: abort`" in run.stderr, run.stderr
    result = promoted.expect_ok()
    assert (result["status"], result["active_color"]) == ("deployed", "green"), promoted.stderr
    assert live(app) == ("v2", "green")
    assert not project_running(app, "blue")
    records = load.records
    assert failures(records) == [], describe_failures(records)
    measured = shares(records, watch, "v2")
    print(f"requests {len(records)}, failed 0, v2 share while paused {measured}")
    assert abs(measured[10][1] - 10) <= 5, measured
    app.deploy(lab["images"]["v1"], **{"nginx-template": TEMPLATE}).expect_ok()  # the pause is over


def test_pause_then_abort_sends_everything_back(app_with: Callable[..., App], lab: dict[str, Any]) -> None:
    app = app_with("abort", 21940)
    with Traffic(app.url, **LOAD) as load:  # type: ignore[arg-type]
        time.sleep(0.5)
        app.deploy(lab["images"]["v2"], **PAUSED).expect_ok()
        time.sleep(2.0)
        aborted = app.run("abort")
        ended = time.monotonic()
        time.sleep(1.5)
    assert aborted.expect_ok()["status"] == "aborted", aborted.stderr
    assert live(app) == ("v1", "blue")
    assert not project_running(app, "green")
    records = load.records
    assert failures(records) == [], describe_failures(records)
    assert all(r.version == "v1" for r in records if r.start > ended)
    print(f"requests {len(records)}, failed 0")
    assert app.run("status").expect_ok()["canary"] == ""


def run_and_cancel_in_step(app: App, image: str, sig: signal.Signals = signal.SIGTERM) -> Run:
    """A canary deploy sent `sig` one second into its first step."""
    argv = [sys.executable, "-m", "bluegreen", "deploy", *app.flags(image, **CANARY), "--json"]
    process = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "canary: 10% of requests" in line:
            time.sleep(1.0)
            process.send_signal(sig)
            break
    out, err = process.communicate(timeout=120)
    return Run(process.returncode, out, "".join(seen) + err)


def test_a_canary_cancelled_in_a_step_leaves_the_old_version_serving_all(
    app_with: Callable[..., App], lab: dict[str, Any]
) -> None:
    app = app_with("cancel", 21950)
    with SplitWatch(app) as watch, Traffic(app.url, **LOAD) as load:  # type: ignore[arg-type]
        time.sleep(0.5)
        cancelled = run_and_cancel_in_step(app, lab["images"]["v2"])
        ended = time.monotonic()
        time.sleep(1.5)
    assert cancelled.exit_code != 0
    assert "Traceback" not in cancelled.stderr, cancelled.stderr
    assert live(app) == ("v1", "blue")
    assert not project_running(app, "green")
    assert watch.changes[-1][1] == -1, watch.changes
    records = load.records
    assert failures(records) == [], describe_failures(records)
    assert all(r.version == "v1" for r in records if r.start > ended)
    print(f"requests {len(records)}, failed 0")


def sticky_client(url: str, cookie: str, stop: threading.Event, seen: list[tuple[float, str, str]]) -> None:
    while not stop.is_set():
        request = urllib.request.Request(url, headers={"Cookie": f"session={cookie}"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                seen.append((time.monotonic(), cookie, json.loads(response.read())["version"]))
        except OSError:
            seen.append((time.monotonic(), cookie, "error"))
        time.sleep(0.02)


def test_a_sticky_cookie_keeps_its_client_on_one_side_through_growing_steps(
    app_with: Callable[..., App], lab: dict[str, Any]
) -> None:
    app = app_with("sticky", 21960)
    seen: list[tuple[float, str, str]] = []
    stop = threading.Event()
    clients = [
        threading.Thread(target=sticky_client, args=(app.url, f"user{n}", stop, seen), daemon=True)
        for n in range(20)
    ]
    with SplitWatch(app) as watch, Traffic(app.url, **LOAD):  # type: ignore[arg-type]
        for client in clients:
            client.start()
        run = app.deploy(lab["images"]["v2"], **{**CANARY, "canary-sticky": "session"})
        stop.set()
        for client in clients:
            client.join()
    run.expect_ok()
    sides: dict[tuple[str, int], set[str]] = {}
    for moment, cookie, version in seen:
        percent = watch.percent_at(moment)
        if percent is not None and percent >= 0:
            sides.setdefault((cookie, percent), set()).add(version)
    assert all(len(versions) == 1 for versions in sides.values()), sides
    on_v2_at_10 = {cookie for (cookie, percent), v in sides.items() if percent == 10 and v == {"v2"}}
    for cookie in on_v2_at_10:
        assert sides.get((cookie, 50), {"v2"}) == {"v2"}, sides
    at_50 = [cookie for (cookie, percent), v in sides.items() if percent == 50 and v == {"v2"}]
    print(f"sticky: {len(on_v2_at_10)} of 20 users on v2 at 10%, {len(at_50)} at 50%")
    assert "error" not in {version for _, _, version in seen}


def test_a_deploy_after_a_canary_killed_in_a_step_takes_the_split_back_first(
    app_with: Callable[..., App], lab: dict[str, Any]
) -> None:
    """SIGKILL leaves no undo: the split stays in the active-color file and v2 runs. The next deploy
    (it recreates green) sends everything back to blue before it starts anything."""
    app = app_with("killed", 21990)
    with Traffic(app.url, **LOAD) as load:  # type: ignore[arg-type]
        time.sleep(0.5)
        killed = run_and_cancel_in_step(app, lab["images"]["v2"], signal.SIGKILL)
        time.sleep(1.0)
        again = app.deploy(lab["images"]["v2"], **{"nginx-template": TEMPLATE})
        time.sleep(1.0)
    assert killed.exit_code == -signal.SIGKILL
    assert "still sends 10% of requests to green" in again.stderr, again.stderr
    again.expect_ok()
    assert live(app) == ("v2", "green")
    records = load.records
    assert failures(records) == [], describe_failures(records)
    print(f"requests {len(records)}, failed 0")
