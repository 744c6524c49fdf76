"""The bench's report, plot and raw dumps on a small synthetic run: no lab, no Docker."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from bench import plot, report
from bench.run import Raw, Settings, dump, load_dump
from bench.stats import Deploy, Probe, Window, check_targets, summarize_strategy
from bench.strategies import needs_preparation
from lab.traffic import CLOSED_KEEPALIVE, Record

STRATEGIES = ("seed", "bluegreen", "bluegreen-reload")


def _deploy(strategy: str, shift: float, mode: str | None) -> Deploy:
    reported = {} if mode is None else {
        "switch_mode": mode, "phases": {"start": 1.0, "health": 0.5, "switch": 0.25, "drain": 1.0},
        "duration_seconds": 4.0,
    }  # fmt: skip
    return Deploy(
        strategy=strategy, rep=1, image="registry/demo:v2", version="v2", color="green",
        previous_color="blue", port=8082, project="bench-green", steady=Window(shift + 6.0, shift + 10.0),
        window=Window(shift + 10.0, shift + 14.0), settle_end=shift + 16.0, up_start=shift + 10.5,
        phases=(("start", shift + 10.5), ("health", shift + 11.5), ("switch", shift + 12.0)),
        drain_seconds=1.0, reported=reported, prepared=mode is not None,
    )  # fmt: skip


def _ok(start: float) -> Record:
    return Record(start, start + 0.001, 200, "", "blue", "v1", False, False)


def _raw() -> Raw:
    deploys, records, probes = [], [], []
    for i, (strategy, mode, closures) in enumerate(
        [("seed", None, 17), ("bluegreen", "seamless", 0), ("bluegreen-reload", "reload", 16)]
    ):
        shift = 100.0 * i
        deploys.append(_deploy(strategy, shift, mode))
        records += [_ok(shift + t / 8) for t in range(48, 96)]
        records += [Record(shift + 12.5, shift + 12.625, 200, "", "green", "v2", False, False, "POST")]
        # closures: retried GETs, and one POST that is never retried
        retried = Record(shift + 12.25, shift + 12.375, 200, "", "green", "v2", False, True)
        records += [retried] * max(closures - 1, 0)
        if closures:
            error = f"{CLOSED_KEEPALIVE}: RemoteDisconnected"
            records += [Record(shift + 12.25, shift + 12.25, 0, error, "", "", False, False, "POST")]
        probes += [Probe(shift + 11.0, shift + 11.125, 8082, True)]
    # the unmeasured deploy before bluegreen-reload recreated the proxy: two refused connections
    refused = [
        Record(190.0 + i, 190.5 + i, 0, "ConnectionRefusedError", "", "", False, False) for i in (0, 1)
    ]
    records += [*refused, Record(50.0, 50.5, 502, "", "", "", False, False)]  # outside everything
    return Raw(
        settings=Settings(reps=1, strategies=STRATEGIES, post_clients=2), lab={}, deploys=deploys,
        records=sorted(records, key=lambda r: r.start), probes=probes, events=[], load_started=0.0,
        load_stopped=300.0, load_cpu_seconds=30.0, cpu_busy={"whole_run_percent": 50.0}, run_seconds=300.0,
        started_at="2026-11-25T00:00:00Z", source={"commit": "0" * 40, "uncommitted": []},
        preparations=(("bluegreen", Window(80.0, 90.0)), ("bluegreen-reload", Window(185.0, 196.0))),
    )  # fmt: skip


def test_the_report_has_the_closed_connections_and_the_switch_mode_per_strategy_and_rep(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    machine = {"cpu": "test", "cores": 2, "memory_gb": 1.0, "kernel": "k", "python": "3.11", "docker": "-"}
    monkeypatch.setattr(report, "machine", lambda: machine)
    raw = _raw()
    doc = report.build(raw)
    per_strategy = {name: (s["closed_keepalive"], s["switch_modes"]) for name, s in doc["strategies"].items()}
    assert per_strategy == {
        "seed": (17, []),
        "bluegreen": (0, ["seamless"]),
        "bluegreen-reload": (16, ["reload"]),
    }
    assert doc["load"]["closed_keepalive"] == 33 and doc["load"]["post_requests"] == 5
    load = doc["load"]
    assert (load["failed_outside_segments"], load["failed_in_preparations"], load["preparations"]) == (
        3,
        2,
        2,
    )
    text = report.markdown(doc)
    assert "| bluegreen | " in text and "| seamless |" in text and "| 0 [0] | seamless |" in text
    assert "| 16 | reload (prepared) |" in text
    assert "## bluegreen-reload: bluegreen's own phases" in text
    json.dumps(doc)  # latest.json
    plot.plot(raw, doc, tmp_path / "latest.png")
    assert (tmp_path / "latest.png").stat().st_size > 10_000


def test_raw_dumps_keep_the_method_and_read_older_dumps_without_it(tmp_path: Path) -> None:
    raw = _raw()
    dump(raw, tmp_path / "run.json.gz")
    again = load_dump(tmp_path / "run.json.gz")
    assert again.records == raw.records and again.deploys == raw.deploys and again.settings == raw.settings
    assert again.preparations == raw.preparations
    with gzip.open(tmp_path / "run.json.gz", "rt") as handle:
        data = json.load(handle)
    data["records"] = [row[:8] for row in data["records"]]  # before the method was recorded
    for key in ("retry", "post_clients"):
        del data["settings"][key]
    for deploy in data["deploys"]:
        del deploy["prepared"]
    del data["preparations"]
    with gzip.open(tmp_path / "old.json.gz", "wt") as handle:
        json.dump(data, handle)
    old = load_dump(tmp_path / "old.json.gz")
    assert {r.method for r in old.records} == {"GET"} and not any(d.prepared for d in old.deploys)
    assert old.preparations == ()


def test_bluegreen_variants_get_an_unmeasured_deploy_after_another_strategy() -> None:
    assert needs_preparation("bluegreen", "seed") and needs_preparation("bluegreen-reload", "bluegreen")
    assert not needs_preparation("bluegreen", "bluegreen")
    assert not needs_preparation("seed", "bluegreen-reload") and not needs_preparation("recreate", None)


def test_the_proxy_change_row_counts_refused_connections_against_a_target_of_zero() -> None:
    deploy = _deploy("proxy-change", 0.0, "seamless")
    refused = Record(12.0, 12.001, 0, "ConnectionRefusedError", "", "", False, False)
    records = [_ok(7.0), refused, Record(12.1, 12.2, 502, "", "", "", False, False)]
    summary = summarize_strategy([deploy], records, [])
    assert (summary["failed_per_rep"], summary["refused_per_rep"]) == ([2], [1])
    targets = {t.name: t for t in check_targets({"proxy-change": summary})}
    failed = targets["proxy change: 0 failed requests in every repetition"]
    refused_target = targets["proxy change: 0 refused connections in every repetition (issue 17.3)"]
    assert not failed.holds and not refused_target.holds and refused_target.measured == "refused per rep [1]"
    clean = summarize_strategy([deploy], [_ok(7.0), _ok(12.0)], [])
    assert all(t.holds for t in check_targets({"proxy-change": clean}))
