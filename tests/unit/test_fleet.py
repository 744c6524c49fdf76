"""A fleet of fake hosts through the real routine: inputs, prepare on every host, batches, the
fleet-wide undo, one deploy id, the per-host report; `host` stays a fleet of one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bluegreen.cli_inputs import read_config_file
from bluegreen.config import Config, parse_inputs
from bluegreen.deploy import Result, run_command
from bluegreen.errors import BluegreenError, Failure, InputError
from bluegreen.fleet_inputs import Address, BatchSize, batches
from tests.unit.fake_host import FakeHost
from tests.unit.test_config import good
from tests.unit.test_routine_failures import BLUE, GREEN, IMAGE, STATE, Recorder, workspace

__all__ = ["workspace"]  # fixtures

NAMES = ("h1.example.com", "h2.example.com", "h3.example.com")
AUDIT = "/home/deploy/bluegreen/shop/audit.log"


def config(workspace: Path, command: str = "deploy", version: str = "v1", **inputs: str) -> Config:
    timing = {"health-timeout": "1", "drain-timeout": "1", "lock-timeout": "1"}
    raw = good(command=command, image=f"{IMAGE}:{version}", **{"nginx-template": ""}, **timing)
    raw |= {"host": "", "hosts": "\n".join(NAMES)} | inputs
    return parse_inputs(raw, workspace)


@pytest.fixture
def fleet() -> Iterator[list[FakeHost]]:
    hosts = [FakeHost() for _ in NAMES]
    yield hosts
    for host in hosts:
        assert host.unscripted == []
        assert all(held.closed for held in host.holds), "a run left a deploy lock held"


def run(
    fakes: list[FakeHost], workspace: Path, command: str = "deploy", version: str = "v1", **inputs: str
) -> Result:
    return run_command(config(workspace, command, version, **inputs), fakes, Recorder())


def colors(hosts: list[FakeHost]) -> list[str | None]:
    return [host.proxy_route() for host in hosts]


def fails(hosts: list[FakeHost], workspace: Path, version: str = "v2", **inputs: str) -> Failure:
    with pytest.raises(Failure) as caught:
        run(hosts, workspace, "deploy", version, **inputs)
    return caught.value


# ---- inputs ---------------------------------------------------------------------------------------


def test_hosts_are_one_per_line_with_an_optional_port(workspace: Path) -> None:
    parsed = config(workspace, hosts="a.example.com\n  b.example.com:2222\n[2001:db8::1]:23\n10.0.0.4\n")
    assert parsed.hosts == (
        Address("a.example.com", 22),
        Address("b.example.com", 2222),
        Address("2001:db8::1", 23),
        Address("10.0.0.4", 22),
    )
    assert (parsed.host, parsed.port, parsed.parallel, parsed.batch_size, parsed.batch_wait) == (
        "a.example.com", 22, 10, BatchSize(count=1), 0.0,
    )  # fmt: skip


def test_host_alone_is_a_fleet_of_one(workspace: Path) -> None:
    parsed = parse_inputs(good(port="2200", **{"nginx-template": ""}), workspace)
    assert parsed.hosts == (Address("deploy.example.com", 2200),)


@pytest.mark.parametrize(
    ("inputs", "name", "problem"),
    [
        ({"hosts": "a\nb:notaport"}, "hosts", "line 'b:notaport' has port 'notaport'"),
        ({"hosts": "a\nb:70000"}, "hosts", "line 'b:70000' has port '70000'"),
        ({"hosts": "a\n-oProxyCommand=x"}, "hosts", "line '-oProxyCommand=x' is not a host"),
        ({"hosts": "a\na:22"}, "hosts", "names a:22 twice"),
        ({"hosts": "a", "host": "b"}, "hosts", "is set together with `host`"),
        ({"hosts": "", "host": ""}, "host", "is required but empty"),
        ({"parallel": "0"}, "parallel", "is '0'"),
        ({"parallel": "many"}, "parallel", "is 'many'"),
        ({"batch-size": "0"}, "batch-size", "is '0'"),
        ({"batch-size": "150%"}, "batch-size", "is '150%'"),
        ({"batch-size": "half"}, "batch-size", "is 'half'"),
        ({"batch-wait": "-1"}, "batch-wait", "is '-1'"),
        ({"batch-wait": "soon"}, "batch-wait", "is 'soon', not a number"),
    ],
)
def test_bad_fleet_inputs_are_one_error_each(
    workspace: Path, inputs: dict[str, str], name: str, problem: str
) -> None:
    with pytest.raises(InputError) as caught:
        config(workspace, **inputs)
    assert (caught.value.input_name, caught.value.problem) == (name, problem)


def test_batches_cut_by_count_or_percentage() -> None:
    hosts = list(range(5))
    assert batches(hosts, BatchSize(count=1)) == [[0], [1], [2], [3], [4]]
    assert batches(hosts, BatchSize(count=2)) == [[0, 1], [2, 3], [4]]
    assert batches(hosts, BatchSize(percent=50)) == [[0, 1, 2], [3, 4]]
    assert batches(hosts, BatchSize(percent=100)) == [hosts]
    assert batches(hosts, BatchSize(percent=1)) == [[0], [1], [2], [3], [4]]
    assert batches(hosts, BatchSize(count=9)) == [hosts]


def test_a_config_file_takes_a_list_of_hosts(tmp_path: Path) -> None:
    path = tmp_path / "deploy.yml"
    path.write_text("hosts:\n  - a.example.com\n  - b.example.com:2222\nbatch-size: 50%\n")
    assert read_config_file(path) == {"hosts": "a.example.com\nb.example.com:2222", "batch-size": "50%"}


# ---- deploy and rollback across the fleet ----------------------------------------------------------


def audit_lines(host: FakeHost) -> list[dict[str, str]]:
    return [json.loads(line) for line in host.files[AUDIT].decode().splitlines()]


def test_every_host_is_deployed_with_one_deploy_id(fleet: list[FakeHost], workspace: Path) -> None:
    run(fleet, workspace, version="v1")
    result = run(fleet, workspace, version="v2", **{"batch-size": "100%"})

    assert colors(fleet) == ["green", "green", "green"]
    assert [json.loads(host.files[STATE])["image"] for host in fleet] == [f"{IMAGE}:v2"] * 3
    assert (result.status, result.active_color, result.previous_color) == ("deployed", "green", "blue")
    assert [(h.host, h.active_color, h.status, h.failed_phase) for h in result.hosts] == [
        (f"{name}:22", "green", "deployed", "") for name in NAMES
    ]
    ids = {audit_lines(host)[-1]["deploy_id"] for host in fleet}
    assert ids == {result.deploy_id} and result.deploy_id
    assert all(host.engine.statuses(BLUE) == ["exited"] for host in fleet)


def test_the_locks_are_taken_in_sorted_host_order(fleet: list[FakeHost], workspace: Path) -> None:
    order: list[str] = []
    for name, host in zip(NAMES, fleet, strict=True):
        hold = host.hold

        def recorded(argv, ready_line, timeout, name=name, hold=hold):  # type: ignore[no-untyped-def]
            order.append(name)
            return hold(argv, ready_line, timeout)

        host.hold = recorded  # type: ignore[method-assign]
    run(fleet[::-1], workspace, hosts="\n".join(NAMES[::-1]))
    assert order == list(NAMES)


def test_the_release_command_runs_once_on_the_first_host(fleet: list[FakeHost], workspace: Path) -> None:
    run(fleet, workspace, version="v1", **{"release-command": "python manage.py migrate"})
    one_offs = [[c for c in host.compose_calls() if c.subcommand == "run"] for host in fleet]
    assert [len(calls) for calls in one_offs] == [1, 0, 0]
    assert colors(fleet) == ["blue", "blue", "blue"]


def test_a_prepare_failure_on_one_host_changes_no_host(fleet: list[FakeHost], workspace: Path) -> None:
    run(fleet, workspace, version="v1")
    fleet[1].fail_command("compose", GREEN, "up", stderr="no space left on device")

    exc = fails(fleet, workspace)

    assert str(exc).startswith(f"prepare failed on {NAMES[1]}:22 (start): starting green failed")
    assert str(exc).endswith(
        "Every host serves its old color again (the new color was taken away on every host)"
    )
    assert colors(fleet) == ["blue", "blue", "blue"]
    assert all(host.engine.statuses(GREEN) == [] for host in fleet), "the new color is taken away"
    assert all(json.loads(host.files[STATE])["active_color"] == "blue" for host in fleet)
    report = {row["host"]: row for row in json.loads(exc.hosts_json)}
    assert (report[f"{NAMES[1]}:22"]["status"], report[f"{NAMES[1]}:22"]["failed_phase"]) == (
        "failed",
        "start",
    )


def test_a_new_color_that_cannot_be_taken_away_is_named(fleet: list[FakeHost], workspace: Path) -> None:
    """Host 3's engine stops while its new color starts: the error does not claim it was taken away."""
    run(fleet, workspace, version="v1")
    stopped = ConnectionError("Cannot connect to the Docker daemon")
    fleet[2].fail_command("compose", GREEN, "up", effect=lambda: fleet[2].engine.fail("list", stopped))

    exc = fails(fleet, workspace)

    assert str(exc).startswith(f"prepare failed on {NAMES[2]}:22 (start): starting green failed")
    assert str(exc).endswith(
        f"Every host serves its old color again; the new color could not be taken away on {NAMES[2]}:22: "
        "it may still run there beside the old one (check it, then deploy again)"
    ), str(exc)
    assert colors(fleet) == ["blue", "blue", "blue"]
    assert [host.engine.statuses(GREEN) == [] for host in fleet[:2]] == [True, True]


def test_a_verification_failure_in_the_second_batch_switches_the_first_back(
    fleet: list[FakeHost], workspace: Path
) -> None:
    run(fleet, workspace, version="v1")
    fleet[1].answers[80] = (502, {})  # h2's nginx answers 502 after its switch

    exc = fails(fleet, workspace)

    assert str(exc).startswith(f"switch failed on {NAMES[1]}:22 (verify):")
    assert colors(fleet) == ["blue", "blue", "blue"]
    assert all(host.engine.statuses(GREEN) == [] for host in fleet)
    report = {row["host"]: row["status"] for row in json.loads(exc.hosts_json)}
    assert report == {
        f"{NAMES[0]}:22": "switched back",
        f"{NAMES[1]}:22": "switched back",
        f"{NAMES[2]}:22": "not switched",
    }
    assert exc.live_color == "blue"


def test_a_finish_failure_says_every_host_serves_the_new_color(
    fleet: list[FakeHost], workspace: Path
) -> None:
    run(fleet, workspace, version="v1")
    fleet[2].write_failures[STATE] = PermissionError(13, "Permission denied")

    exc = fails(fleet, workspace)

    assert isinstance(exc, BluegreenError)
    assert str(exc).startswith(f"finish failed on {NAMES[2]}:22 (record): record failed after the switch")
    assert str(exc).endswith("Every host serves green (switched and verified)")
    assert colors(fleet) == ["green", "green", "green"]


def test_rollback_and_status_across_the_fleet(fleet: list[FakeHost], workspace: Path) -> None:
    run(fleet, workspace, version="v1")
    run(fleet, workspace, version="v2")
    rolled = run(fleet, workspace, "rollback")
    assert (rolled.status, rolled.active_color) == ("rolled-back", "blue")
    assert colors(fleet) == ["blue", "blue", "blue"]

    recorder = Recorder()
    status = run_command(config(workspace, "status"), fleet, recorder)
    assert status.active_color == "blue"
    assert [h.active_color for h in status.hosts] == ["blue", "blue", "blue"]
    assert not [w for w in recorder.warnings if "disagree" in w]


def test_status_says_when_the_hosts_disagree(fleet: list[FakeHost], workspace: Path) -> None:
    run(fleet, workspace, version="v1")
    run(fleet[:1], workspace, version="v2", hosts=NAMES[0])
    recorder = Recorder()

    status = run_command(config(workspace, "status"), fleet, recorder)

    assert status.active_color == ""
    assert [h.active_color for h in status.hosts] == ["green", "blue", "blue"]
    from bluegreen.cli import summary_lines

    assert summary_lines(status)[-3:] == [
        f"  {NAMES[0]}:22: green (ok)", f"  {NAMES[1]}:22: blue (ok)", f"  {NAMES[2]}:22: blue (ok)",
    ]  # fmt: skip
    assert (
        f"the hosts disagree on the live color: {NAMES[0]}:22 green, {NAMES[1]}:22 blue, {NAMES[2]}:22 blue"
        in recorder.warnings
    )


def test_the_cli_takes_hosts_repeated_or_as_lines() -> None:
    from bluegreen.cli import build_parser, flag_values

    argv = ["deploy", "--hosts", "a.example.com", "--hosts", "b.example.com:2222"]
    repeated = build_parser().parse_args(argv)
    assert flag_values(repeated)["hosts"] == "a.example.com\nb.example.com:2222"
    lines = build_parser().parse_args(["deploy", "--hosts", "a.example.com\nb.example.com"])
    assert flag_values(lines)["hosts"] == "a.example.com\nb.example.com"


def test_a_signal_while_hosts_prepare_undoes_every_host_then_cancels(
    fleet: list[FakeHost], workspace: Path
) -> None:
    """The signal lands in the main thread (the only one Python runs handlers in) while the hosts
    prepare in threads: every thread is waited for, every host's new color is taken away."""
    import os
    import signal

    from bluegreen import cancellation
    from bluegreen.errors import Cancelled

    run(fleet, workspace, version="v1")

    def terminate() -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    fleet[1].fail_command("compose", GREEN, "up", exit_code=0, effect=terminate)
    saved = {signum: signal.getsignal(signum) for signum in cancellation.CANCELLING_SIGNALS}
    cancellation.install()
    try:
        with pytest.raises(Cancelled):
            run(fleet, workspace, version="v2")
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    assert colors(fleet) == ["blue", "blue", "blue"]
    assert all(host.engine.statuses(GREEN) == [] for host in fleet), "the new color is taken away everywhere"
    assert all(json.loads(host.files[STATE])["active_color"] == "blue" for host in fleet)


def test_a_lock_held_on_one_host_fails_naming_it_and_releases_the_others(
    fleet: list[FakeHost], workspace: Path
) -> None:
    run(fleet, workspace, version="v1")
    fleet[1].lock_taken_by_other = True

    exc = fails(fleet, workspace)

    assert str(exc).startswith(f"lock failed on {NAMES[1]}:22 (lock): another deploy of shop holds the lock")
    assert str(exc).endswith("Nothing was changed on any host")
    assert colors(fleet) == ["blue", "blue", "blue"]
    assert all(host.engine.statuses(GREEN) == [] for host in fleet)
    assert [len(host.holds) for host in fleet] == [2, 1, 1]  # the first host's lock was taken, then released


class SignalAt(Recorder):
    """A Recorder that sends this process SIGTERM as the named phase starts (as a cancelled
    workflow does at any moment: here between two batches)."""

    def __init__(self, phase: str) -> None:
        super().__init__()
        self.phase = phase

    def phase_started(self, name: str) -> None:
        import os
        import signal

        if name == self.phase:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.parametrize("phase", ["switch 2/3", "switch 3/3", "finish"])
def test_a_signal_between_two_batches_switches_the_switched_hosts_back(
    fleet: list[FakeHost], workspace: Path, phase: str
) -> None:
    import signal

    from bluegreen import cancellation
    from bluegreen.errors import Cancelled

    run(fleet, workspace, version="v1")
    saved = {signum: signal.getsignal(signum) for signum in cancellation.CANCELLING_SIGNALS}
    cancellation.install()
    try:
        with pytest.raises(Cancelled):
            run_command(config(workspace, "deploy", "v2"), fleet, SignalAt(phase))
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    assert colors(fleet) == ["blue", "blue", "blue"]
    assert all(host.engine.statuses(GREEN) == [] for host in fleet)
