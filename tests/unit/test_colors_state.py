import pytest

from bluegreen.colors import live_color, other, project_name
from bluegreen.errors import BluegreenError
from bluegreen.state import State


def test_other_color() -> None:
    assert other("blue") == "green"
    assert other("green") == "blue"
    with pytest.raises(ValueError):
        other("red")


def test_project_name() -> None:
    assert project_name("shop", "green") == "shop-green"


@pytest.mark.parametrize(
    ("recorded", "running", "live"),
    [
        (None, set(), None),  # first deploy
        (None, {"green"}, "green"),  # no state file: the one running color
        ("blue", {"blue"}, "blue"),
        ("blue", {"blue", "green"}, "blue"),  # a killed deploy left green running: the record wins
        ("blue", {"green"}, "green"),  # record is stale: blue is gone
        ("blue", set(), None),  # nothing runs: deploy as if first
    ],
)
def test_live_color(recorded: str | None, running: set[str], live: str | None) -> None:
    assert live_color(recorded, running) == live


def test_live_color_refuses_to_guess_between_two_running_colors() -> None:
    with pytest.raises(BluegreenError, match="both colors are running"):
        live_color(None, {"blue", "green"})


def test_state_round_trip() -> None:
    state = State("green", "blue", "reg/app:2", "reg/app:1", "2026-11-25T07:00:00Z", "alice")
    assert State.from_json(state.to_json()) == state
    assert state.to_json().decode().splitlines()[1] == '  "active_color": "green",'


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'{"active_color": "red"}', b"\xff"])
def test_unreadable_state_counts_as_none(raw: bytes) -> None:
    assert State.from_json(raw) is None
