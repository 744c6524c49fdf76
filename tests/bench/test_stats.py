"""The benchmark's statistics on synthetic records: exact values, no lab needed.

Times are multiples of 1/4 s or 1/8 s, so every difference below is exact in binary floating point.
"""

from __future__ import annotations

import math

import pytest

from bench.stats import (
    Deploy,
    DockerEvent,
    Probe,
    Window,
    check_targets,
    closed_keepalive,
    fast_ok_latencies_ms,
    first_event,
    first_healthy,
    first_served,
    load_target,
    overhead,
    percentile,
    started_in,
    summarize_deploy,
    summarize_strategy,
    switch_delay,
)
from lab.traffic import CLOSED_KEEPALIVE, Record


def ok(start: float, end: float, color: str = "blue", version: str = "v1", slow: bool = False) -> Record:
    return Record(start, end, 200, "", color, version, slow, False)


def failed(start: float, end: float, status: int = 0, error: str = "ConnectionResetError") -> Record:
    return Record(start, end, status, error, "", "", False, False)


# ---- percentiles ---------------------------------------------------------------------------------


def test_percentile_interpolates_linearly_between_closest_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]  # unsorted on purpose
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 2.5
    assert percentile(values, 100) == 4.0
    assert percentile(values, 25) == 1.75
    assert percentile([float(v) for v in range(1, 102)], 99) == 100.0  # rank 99 of 0..100
    assert percentile([float(v) for v in range(0, 201)], 99) == 198.0
    assert percentile([10.0, 20.0], 99) == 19.9


def test_percentile_of_one_value_and_of_none() -> None:
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


# ---- windows and selections ----------------------------------------------------------------------


def test_windows_are_half_open_and_select_by_start() -> None:
    window = Window(10.0, 12.0)
    assert (10.0 in window, 11.75 in window, 12.0 in window, 9.75 in window) == (True, True, False, False)
    assert window.seconds == 2.0
    records = [ok(9.75, 10.25), ok(10.0, 10.5), ok(11.75, 12.5), ok(12.0, 12.25)]
    assert started_in(records, window) == records[1:3]


def test_latencies_count_only_successful_fast_requests() -> None:
    records = [ok(1.0, 1.25), ok(1.0, 2.5, slow=True), failed(1.0, 1.5), ok(2.0, 2.125)]
    assert fast_ok_latencies_ms(records) == [250.0, 125.0]


def test_deploy_phases_end_where_the_next_begins_and_the_last_with_the_window() -> None:
    deploy = make_deploy(phases=(("start", 10.0), ("health", 11.5), ("switch", 12.25)))
    assert deploy.phase_windows() == [
        ("start", Window(10.0, 11.5)),
        ("health", Window(11.5, 12.25)),
        ("switch", Window(12.25, 14.0)),
    ]
    assert deploy.segment == Window(6.0, 16.0)


# ---- switch delay and overhead -------------------------------------------------------------------


def test_first_healthy_ignores_other_ports_failures_and_probes_before_compose_up() -> None:
    probes = [
        Probe(10.0, 10.125, 8082, True),  # before compose up: the old container on that port
        Probe(10.75, 10.875, 8082, False),
        Probe(11.0, 11.125, 8081, True),  # the other color
        Probe(11.25, 11.375, 8082, True),
        Probe(11.5, 11.625, 8082, True),
    ]
    assert first_healthy(probes, 8082, after=10.5) == 11.375
    assert first_healthy(probes, 8082, after=12.0) is None


def test_first_served_is_the_earliest_end_of_a_good_answer_from_the_new_color_and_version() -> None:
    records = [
        ok(10.0, 10.5, "green", "v2", slow=True),
        ok(10.25, 10.375, "green", "v1"),  # the new color's name but the old version
        ok(10.25, 10.25 + 0.125, "blue", "v1"),
        Record(10.5, 10.625, 502, "", "green", "v2", False, False),  # an error page is no answer
        ok(10.5, 10.75, "green", "v2"),
        ok(9.0, 9.5, "green", "v2"),  # ended before the deploy started
    ]
    assert first_served(records, "green", "v2", after=10.0) == 10.5
    assert first_served(records, "green", "v3", after=10.0) is None


def test_first_event_of_a_project_after_compose_up() -> None:
    events = [
        DockerEvent(10.0, "app-green", "health_status: healthy"),  # the previous container
        DockerEvent(10.75, "app-green", "start"),
        DockerEvent(11.0, "app-blue", "health_status: healthy"),
        DockerEvent(12.25, "app-green", "health_status: healthy"),
    ]
    assert first_event(events, "app-green", "health_status: healthy", after=10.5) == 12.25
    assert first_event(events, "app-green", "start", after=10.5) == 10.75
    assert first_event(events, "app-green", "die", after=10.5) is None


def test_switch_delay_and_overhead_arithmetic() -> None:
    assert switch_delay(11.375, 12.125) == 0.75
    assert switch_delay(None, 12.0) is None
    assert switch_delay(11.0, None) is None
    assert overhead(deploy_seconds=6.5, app_start_seconds=2.25, drain_seconds=1.125) == 3.125
    assert overhead(6.5, None, 0.0) is None


# ---- one deploy from synthetic records -----------------------------------------------------------


def make_deploy(
    rep: int = 1,
    shift: float = 0.0,
    phases: tuple[tuple[str, float], ...] = (),
    drain: float = 1.0,
    reported: dict[str, object] | None = None,
    prepared: bool = False,
) -> Deploy:
    """Steady 6..10, deploy 10..14, settle to 16; green v2 `compose up` at 10.5, port 8082."""
    return Deploy(
        strategy="bluegreen",
        rep=rep,
        image="registry/app:v2",
        version="v2",
        color="green",
        previous_color="blue",
        port=8082,
        project="app-green",
        steady=Window(6.0 + shift, 10.0 + shift),
        window=Window(10.0 + shift, 14.0 + shift),
        settle_end=16.0 + shift,
        up_start=10.5 + shift,
        phases=phases,
        drain_seconds=drain,
        reported=dict(reported or {}),
        prepared=prepared,
    )


def synthetic_run(shift: float = 0.0) -> tuple[list[Record], list[Probe]]:
    s = shift
    records = [
        ok(s + 5.0, s + 5.5),  # before the segment: not counted
        # steady: latencies 10, 20, 30, 40 ms
        ok(s + 6.0, s + 6.0 + 0.010),
        ok(s + 7.0, s + 7.0 + 0.020),
        ok(s + 8.0, s + 8.0 + 0.030),
        ok(s + 9.0, s + 9.0 + 0.040),
        ok(s + 9.5, s + 10.75, slow=True),  # slow: in flight across the switch, not in latencies
        # deploy window: 50 and 250 ms answered by blue, then green v2 first answers at 12.5
        ok(s + 10.0, s + 10.0 + 0.050),
        ok(s + 11.0, s + 11.25),
        ok(s + 12.25, s + 12.5, "green", "v2"),
        failed(s + 12.75, s + 12.875),
        Record(s + 13.0, s + 13.125, 502, "", "", "", False, True),
        # settle
        ok(s + 15.0, s + 15.125, "green", "v2"),
        ok(s + 16.0, s + 16.125, "green", "v2"),  # after the segment
    ]
    probes = [Probe(s + 10.0, s + 10.125, 8082, False), Probe(s + 11.625, s + 11.75, 8082, True)]
    return records, probes


def test_one_deploy_summarized_exactly() -> None:
    records, probes = synthetic_run()
    deploy = make_deploy(phases=(("start", 10.5), ("drain", 13.0)))
    events = [
        DockerEvent(10.75, "app-green", "start"),
        DockerEvent(12.0, "app-green", "health_status: healthy"),
    ]
    rep = summarize_deploy(deploy, records, probes, events)
    assert rep["requests"] == 11
    assert rep["failed"] == 2
    assert rep["failure_kinds"] == {"ConnectionResetError": 1, "HTTP 502": 1}
    assert rep["failure_times"] == [2.75, 3.0]
    assert rep["retried"] == 1
    assert rep["slow_requests"] == 1
    assert (rep["steady_requests"], rep["deploy_requests"]) == (5, 5)
    assert rep["p50_ms"] == 25.0
    assert rep["p99_ms"] == 39.7  # 30 + 0.97 * 10
    assert rep["deploy_p50_ms"] == 250.0  # 50, 250, 250 ms (the failures have no latency)
    assert rep["deploy_p99_ms"] == 250.0
    assert rep["deploy_seconds"] == 4.0
    assert rep["first_healthy_at"] == 1.75
    assert rep["first_served_at"] == 2.5
    assert rep["switch_delay_seconds"] == 0.75
    assert rep["app_start_seconds"] == 1.25  # compose up 10.5 -> healthy 11.75
    assert rep["overhead_seconds"] == 1.75  # 4 - 1.25 - 1
    assert rep["steady_rate_rps"] == 1.25  # 5 requests in 4 s
    assert rep["phases"] == [("start", 0.5, 2.5), ("drain", 3.0, 1.0)]
    assert rep["phase_p99_ms"] == {"start": 250.0, "drain": None}  # 250 ms twice in start, none in drain
    assert (rep["container_started_at"], rep["docker_healthy_at"]) == (0.75, 2.0)


def test_a_deploy_whose_new_color_never_answers_has_no_switch_delay() -> None:
    records, _ = synthetic_run()
    rep = summarize_deploy(make_deploy(), records, probes=[])
    assert rep["switch_delay_seconds"] is None
    assert rep["app_start_seconds"] is None
    assert rep["overhead_seconds"] is None


# ---- a strategy over repetitions -----------------------------------------------------------------


def test_strategy_sums_counts_pools_percentiles_and_takes_medians() -> None:
    records: list[Record] = []
    probes: list[Probe] = []
    deploys = []
    for rep, (shift, drain) in enumerate([(0.0, 1.0), (100.0, 0.5), (200.0, 2.0)], start=1):
        more_records, more_probes = synthetic_run(shift)
        records += more_records
        probes += more_probes
        deploys.append(make_deploy(rep, shift, drain=drain))
    records.append(failed(200.0 + 15.5, 200.0 + 15.625))  # one more failure in rep 3's settle time
    summary = summarize_strategy(deploys, records, probes)
    assert summary["requests"] == 34
    assert summary["failed"] == 7
    assert summary["failed_per_rep"] == [2, 2, 3]
    assert summary["retried"] == 3
    # pooled steady latencies: 10, 10, 10, 20 x3, 30 x3, 40 x3
    assert summary["p50_ms"] == 25.0
    assert summary["p99_ms"] == 40.0
    assert summary["deploy_p99_ms"] == 250.0
    assert summary["deploy_seconds"] == 4.0
    assert summary["switch_delay_seconds"] == 0.75
    assert summary["overhead_seconds"] == 1.75  # overheads 1.75, 2.25, 0.75: the median
    assert summary["drain_seconds"] == 1.0
    assert [r["overhead_seconds"] for r in summary["reps"]] == [1.75, 2.25, 0.75]
    for field in ("requests", "failed", "p50_ms", "p99_ms", "deploy_p99_ms", "deploy_seconds"):
        assert field in summary
    assert "switch_delay_seconds" in summary and "overhead_seconds" in summary


# ---- targets -------------------------------------------------------------------------------------


def strategy(failed_per_rep: list[int], **values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "failed": sum(failed_per_rep),
        "failed_per_rep": failed_per_rep,
        "switch_delay_seconds": 0.5,
        "overhead_seconds": 2.0,
        "p99_ms": 10.0,
        "deploy_p99_ms": 15.0,
    }
    return {**base, **values}


def test_targets_hold_at_their_limits_and_miss_beyond() -> None:
    strategies = {
        "recreate": strategy([3, 0, 1]),
        "seed": strategy([0, 0, 0]),
        "bluegreen": strategy([0, 0, 0], switch_delay_seconds=1.0, overhead_seconds=3.25),
    }
    strategies["bluegreen"]["closed_keepalive_per_rep"] = [0, 0, 0]
    verdicts = {t.name: t.holds for t in check_targets(strategies)}
    assert verdicts == {
        "bluegreen: 0 failed requests in every repetition": True,
        "bluegreen: switch delay (median)": True,
        "bluegreen: overhead (median)": False,
        "bluegreen: deploy-window p99 <= 1.5 x steady p99": True,
        "bluegreen: 0 client connections closed by the switch in every repetition (issue 12)": True,
        "bluegreen: switch delay (median) <= 0.35 s (issue 12)": False,
        "seed: fails requests": False,
        "recreate: fails requests": True,
    }


def test_the_seamless_switch_delay_target_is_issue_12s_limit() -> None:
    name = "bluegreen: switch delay (median) <= 0.35 s (issue 12)"
    for delay, holds in ((0.35, True), (0.36, False)):
        targets = {
            t.name: t for t in check_targets({"bluegreen": strategy([0, 0, 0], switch_delay_seconds=delay)})
        }
        assert targets[name].holds is holds
        assert targets["bluegreen: switch delay (median)"].holds is True


def test_one_failed_request_in_one_bluegreen_rep_misses_the_target() -> None:
    targets = check_targets({"bluegreen": strategy([0, 1, 0], deploy_p99_ms=15.5)})
    assert (targets[0].name, targets[0].holds) == ("bluegreen: 0 failed requests in every repetition", False)
    assert targets[3].holds is False
    assert targets[3].margin == "0.5 ms over (103% of the limit)"


def test_the_load_must_reach_300_requests_per_second() -> None:
    assert load_target(300.0).holds
    assert load_target(299.5).holds is False
    assert load_target(394.0).margin == "94 req/s over the minimum"


# ---- client connections closed by the switch (issue 12) ----------------------------------------------


def closed(start: float, end: float, retried: bool = True, method: str = "GET") -> Record:
    """A request that met a keep-alive connection nginx had closed: retried (and answered), or not."""
    if retried:
        return Record(start, end, 200, "", "green", "v2", False, True, method)
    return Record(start, end, 0, f"{CLOSED_KEEPALIVE}: RemoteDisconnected", "", "", False, False, method)


def test_a_closed_keepalive_connection_is_one_whether_retried_or_failed() -> None:
    assert closed(1.0, 1.5).closed_keepalive and closed(1.0, 1.5).ok
    assert closed(1.0, 1.5, retried=False).closed_keepalive and not closed(1.0, 1.5, retried=False).ok
    # A retry that failed too still met a closed connection first.
    assert Record(1.0, 1.5, 0, "ConnectionRefusedError", "", "", False, True).closed_keepalive
    assert not failed(1.0, 1.5).closed_keepalive  # a reset on a new connection is another error
    assert not failed(1.0, 1.5, error="RemoteDisconnected").closed_keepalive
    assert not ok(1.0, 1.5).closed_keepalive
    assert ok(1.0, 1.5).method == "GET"  # records without a method are GETs (older raw dumps)


def test_closed_keepalive_counts_requests_started_in_the_window() -> None:
    records = [
        closed(9.75, 10.25),  # started before the window
        closed(10.0, 10.125),
        closed(12.0, 12.25, retried=False),
        closed(13.0, 13.25, retried=False, method="POST"),
        failed(13.5, 13.625),
        closed(14.0, 14.125),  # the window is half-open
    ]
    assert closed_keepalive(records, Window(10.0, 14.0)) == 3
    assert closed_keepalive([], Window(10.0, 14.0)) == 0


def test_one_deploy_counts_closed_connections_in_its_window_and_reports_the_switch_mode() -> None:
    records, probes = synthetic_run()
    records += [
        closed(8.0, 8.125),  # steady window: in `retried`, not closed by this switch
        closed(12.5, 12.625),
        closed(12.5, 12.5625, retried=False),
        closed(12.75, 12.875, retried=False, method="POST"),
        closed(15.0, 15.125),  # settle: after the deploy returned
    ]
    deploy = make_deploy()
    rep = summarize_deploy(deploy, records, probes)
    # three here, and the synthetic run's retried request that then got a 502
    assert rep["closed_keepalive"] == 3 + 1
    assert rep["closed_keepalive_failed"] == 2 + 1
    assert rep["retried"] == 1 + 3  # the synthetic run's own retried 502, and three here
    assert rep["failed"] == 2 + 2
    assert rep["failure_kinds"][f"{CLOSED_KEEPALIVE}: RemoteDisconnected"] == 2
    assert rep["post_requests"] == 1
    assert (rep["switch_mode"], rep["prepared"]) == (None, False)
    seamless = summarize_deploy(
        make_deploy(reported={"switch_mode": "seamless"}, prepared=True), records, probes
    )
    assert (seamless["switch_mode"], seamless["prepared"]) == ("seamless", True)
    assert make_deploy(reported={"switch-mode": "reload"}).switch_mode == "reload"


def test_strategy_sums_closed_connections_and_keeps_them_per_rep() -> None:
    records: list[Record] = []
    probes: list[Probe] = []
    deploys = []
    for rep, (shift, closures, mode) in enumerate(
        [(0.0, 0, "seamless"), (100.0, 2, "seamless"), (200.0, 17, "reload")], start=1
    ):
        more_records, more_probes = synthetic_run(shift)
        records += more_records + [closed(shift + 12.5, shift + 12.625) for _ in range(closures)]
        probes += more_probes
        deploys.append(make_deploy(rep, shift, reported={"switch_mode": mode}))
    summary = summarize_strategy(deploys, records, probes)
    assert summary["closed_keepalive"] == 22  # each synthetic run has one retried request of its own
    assert summary["closed_keepalive_per_rep"] == [1, 3, 18]
    assert summary["switch_modes"] == ["reload", "seamless"]
    assert summary["failed_per_rep"] == [2, 2, 2]  # retried closures are no failures


def test_closed_connections_and_the_reload_variant_have_their_targets() -> None:
    strategies = {
        "bluegreen": strategy([0, 0, 0], closed_keepalive_per_rep=[0, 1, 0]),
        "bluegreen-reload": strategy([0, 0, 1]),
    }
    targets = {t.name: t for t in check_targets(strategies)}
    closed_target = targets[
        "bluegreen: 0 client connections closed by the switch in every repetition (issue 12)"
    ]
    assert (closed_target.holds, closed_target.measured, closed_target.margin) == (
        False, "closed per rep [0, 1, 0]", "1 over",
    )  # fmt: skip
    assert targets["bluegreen-reload: 0 failed requests in every repetition"].holds is False
    unmeasured = check_targets({"bluegreen": strategy([0, 0, 0])})
    assert [(t.holds, t.margin) for t in unmeasured if "closed" in t.name] == [(False, "no repetition")]
