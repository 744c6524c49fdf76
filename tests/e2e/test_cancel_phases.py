"""A deploy cancelled at every phase boundary (SIGTERM as `docker stop` sends, SIGKILL as a lost
runner; SIGINT, which a cancelled workflow sends first, at a few), each followed by `status`,
`rollback` and a new deploy, all under load.

One app for the whole module: each case starts from whatever the previous case left, which is the
point: whatever a cancelled run leaves, the next commands tell the truth and lose nothing.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest

from lab.traffic import Record, describe_failures, failures
from tests.e2e.apps import App, live, reset, under_load
from tests.e2e.test_truth import run_and_cancel_in, state_of

pytestmark = pytest.mark.lab

PHASES = ("lock", "detect", "upload", "start", "health", "validate", "switch", "verify", "record", "drain",
          "stop-old")  # fmt: skip
SIGNALS = {"sigterm": signal.SIGTERM, "sigkill": signal.SIGKILL, "sigint": signal.SIGINT}
CASES = [(phase, name) for name in ("sigterm", "sigkill") for phase in PHASES] + [
    (phase, "sigint") for phase in ("health", "switch", "drain")
]


@pytest.fixture(scope="module")
def app(lab: dict[str, Any]) -> Iterator[App]:
    app = App(lab, name="cancels", http_port=18900, blue_port=18901, green_port=18902)
    reset(app)
    app.deploy(lab["images"]["v1"]).expect_ok()
    yield app
    reset(app)


def other_version(version: str) -> str:
    return "v2" if version == "v1" else "v1"


@pytest.mark.parametrize(("phase", "signal_name"), CASES)
def test_cancelled_at_a_phase_then_status_rollback_and_deploy_tell_the_truth(
    app: App, lab: dict[str, Any], phase: str, signal_name: str
) -> None:
    version_before, color_before = live(app)
    wanted = other_version(version_before)
    seen: list[Record] = []

    cancelled, records = under_load(
        lambda: run_and_cancel_in(app, lab["images"][wanted], phase, SIGNALS[signal_name]), app
    )
    seen += records
    assert cancelled.exit_code != 0, cancelled.stderr
    assert "Traceback" not in cancelled.stderr, cancelled.stderr
    serving = live(app)
    assert serving in (
        (version_before, color_before),
        (wanted, "blue" if color_before == "green" else "green"),
    )

    status = app.run("status").expect_ok()
    assert status["active_color"] == serving[1], status

    rollback, records = under_load(lambda: app.run("rollback"), app)
    seen += records
    assert "Traceback" not in rollback.stderr, rollback.stderr
    if rollback.exit_code == 0:
        assert live(app)[1] != serving[1]
        assert state_of(app)["active_color"] == live(app)[1]
    else:
        assert "nothing to roll back to" in rollback.stderr, rollback.stderr
        assert live(app) == serving

    now_version = live(app)[0]
    deploy, records = under_load(lambda: app.deploy(lab["images"][other_version(now_version)]), app)
    seen += records
    assert deploy.exit_code == 0, deploy.stderr
    assert live(app)[0] == other_version(now_version)
    assert state_of(app)["active_color"] == live(app)[1]
    assert failures(seen) == [], describe_failures(seen)
