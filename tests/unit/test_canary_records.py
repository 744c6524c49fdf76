"""A canary's analysis (what nginx recorded, per color, judged against the limits) and the split as
nginx is told it, in both switch modes (pure)."""

import pytest

from bluegreen.canary_inputs import CanaryPlan
from bluegreen.canary_records import RecordsReader, Tally, add_up, judge, read_records, tally_lines
from bluegreen.routing import (
    Split,
    active_file,
    color_of_active_file,
    split_of_active_file,
    template_variables,
)

PORTS = {"blue": 8081, "green": 8082}
PLAN = CanaryPlan(min_requests=10)


def lines(color_port: int, status: int, seconds: str, count: int, path: str = "/") -> list[str]:
    return [f"127.0.0.1:{color_port} {status} {seconds} {path}"] * count


def test_records_are_tallied_per_color_by_the_upstream_that_answered() -> None:
    tallies = tally_lines(
        [
            "127.0.0.1:8081 200 0.004 /a b",  # $uri is decoded: a path may hold spaces
            "127.0.0.1:8082 502 0.001 /",
            "127.0.0.1:8081, 127.0.0.1:8082 500 0.002, 0.010 /",  # nginx tried blue, then green answered
            "- 499 -",  # no upstream: counted for neither
            "127.0.0.1:9999 200 0.001",  # not a color of the app
            "garbage",
        ],
        PORTS,
    )
    assert tallies["blue"] == Tally(1, 0, [0.004], {"/a b": [0.004]})
    assert tallies["green"] == Tally(2, 2, [0.001, 0.010], {"/": [0.001, 0.010]})


def test_the_records_of_several_hosts_add_up() -> None:
    one = tally_lines(lines(8082, 500, "0.1", 1), PORTS)
    two = tally_lines(lines(8082, 200, "0.2", 3), PORTS)
    assert add_up(one, two)["green"] == Tally(4, 1, [0.1, 0.2, 0.2, 0.2], {"/": [0.1, 0.2, 0.2, 0.2]})


def test_no_verdict_before_min_requests_then_the_error_rate_aborts() -> None:
    few = tally_lines(lines(8082, 500, "0.001", 9) + lines(8081, 200, "0.001", 90), PORTS)
    assert judge(few, PLAN, "green", "blue").failed == ""
    assert not judge(few, PLAN, "green", "blue").enough
    enough = add_up(few, tally_lines(lines(8082, 200, "0.001", 1), PORTS))
    verdict = judge(enough, PLAN, "green", "blue")
    assert verdict.failed == "canary-max-error-rate"
    assert verdict.figures.startswith("green answered 10 request(s) (min 10), 9 5xx: 90.0% (limit 1.0%)")


def test_the_latency_ratio_compares_p95s_with_a_floor_for_fast_apps() -> None:
    fast = tally_lines(lines(8082, 200, "0.002", 20) + lines(8081, 200, "0.001", 20), PORTS)
    assert judge(fast, PLAN, "green", "blue").failed == ""  # 2 ms against 1 ms is no ratio of 2
    slow = tally_lines(lines(8082, 200, "0.210", 20) + lines(8081, 200, "0.012", 20), PORTS)
    verdict = judge(slow, PLAN, "green", "blue")
    assert verdict.failed == "canary-max-latency-ratio"
    assert "p95 on / 210 ms against blue's 12 ms (20 request(s) in all): ratio 17.50 (limit 1.5)" in (
        verdict.figures
    )


def test_latencies_are_compared_path_by_path_so_the_mix_of_paths_does_not_decide() -> None:
    """Seen in the lab: a good v2 aborted at p95 501 ms against 15 ms, because 6 of its 96 requests
    were a 500 ms endpoint (2 % of the traffic), against 2 % of the old color's."""
    mixed = tally_lines(
        lines(8082, 200, "0.012", 90) + lines(8082, 200, "0.501", 6, "/slow")
        + lines(8081, 200, "0.012", 860) + lines(8081, 200, "0.500", 17, "/slow"),
        PORTS,
    )  # fmt: skip
    plan = CanaryPlan(min_requests=80)
    assert judge(mixed, plan, "green", "blue").failed == ""
    slow = tally_lines(lines(8082, 200, "0.212", 90) + lines(8081, 200, "0.012", 860), PORTS)
    assert judge(slow, plan, "green", "blue").failed == "canary-max-latency-ratio"


def test_p95_is_the_nearest_rank() -> None:
    assert Tally(20, 0, [float(n) for n in range(1, 21)]).p95() == 19.0
    assert Tally().p95() == 0.0


def test_the_reader_takes_whole_lines_and_moves_its_offset() -> None:
    reader = RecordsReader()
    assert reader.take(b"a 200 0.1\nb 20") == ["a 200 0.1"]
    assert reader.offset == 14
    assert reader.take(b"0 0.2\n") == ["b 200 0.2"]
    assert read_records("shop-proxy-nginx-1", "/tmp/x.log", 20) == [
        "docker", "exec", "shop-proxy-nginx-1", "sh", "-c", 'tail -c "+$1" "$2" 2>/dev/null || true', "sh",
        "21", "/tmp/x.log",
    ]  # fmt: skip


@pytest.mark.parametrize("sticky", ["", "ip", "session"])
def test_the_active_file_keeps_the_serving_color_first_and_the_split_second(sticky: str) -> None:
    split = Split("blue", "green", 10, sticky)
    content = active_file("shop", "blue", split)
    assert content.split(b"\n")[0] == b"bluegreen_shop_blue"  # what njs remembers, as before
    assert color_of_active_file("shop", content) == "blue"
    assert split_of_active_file("shop", content) == split
    assert split_of_active_file("shop", active_file("shop", "blue")) is None


def test_reload_mode_weighs_both_colors_in_one_upstream() -> None:
    upstreams = template_variables("shop", PORTS, "green", None, split=Split("blue", "green", 10, "ip"))[
        "bluegreen_upstreams"
    ]
    assert upstreams.startswith(
        "upstream shop_backend {\n    hash $remote_addr consistent;\n"
        "    server 127.0.0.1:8081 weight=90;\n    server 127.0.0.1:8082 weight=10;\n    keepalive 32;\n}\n"
        'map $host $log_bluegreen_shop {\n    default "1";\n}\n'
    )
