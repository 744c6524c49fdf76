import pytest

from bluegreen.colors import live_color, mark_route, other, project_name, routed_color
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
    ("routed", "recorded", "running", "live"),
    [
        (None, None, set(), None),  # first deploy
        (None, None, {"green"}, "green"),  # no state file: the one running color
        (None, "blue", {"blue"}, "blue"),
        (None, "blue", {"blue", "green"}, "blue"),  # a killed deploy left green running: the record wins
        ("blue", "blue", {"blue", "green"}, "blue"),
        ("green", "blue", {"blue", "green"}, "green"),  # killed after the swap: nginx's config wins
        ("green", "blue", {"blue"}, "blue"),  # config names a color that is gone
        (None, "blue", {"green"}, "green"),  # record is stale: blue is gone
        (None, "blue", set(), None),  # nothing runs: deploy as if first
    ],
)
def test_live_color(routed: str | None, recorded: str | None, running: set[str], live: str | None) -> None:
    assert live_color(routed, recorded, running) == live


def test_live_color_refuses_to_guess_between_two_running_colors() -> None:
    with pytest.raises(BluegreenError, match="both colors are running"):
        live_color(None, None, {"blue", "green"})


def test_the_live_config_says_which_color_it_routes_to() -> None:
    config = mark_route("events {}\n", "green")
    assert config == "# bluegreen-active-color: green\nevents {}\n"
    assert routed_color(config.encode()) == "green"
    assert routed_color(b"events {}\n") is None
    assert routed_color(b"# bluegreen-active-color: red\n") is None
    assert routed_color(None) is None


def test_state_round_trip() -> None:
    state = State("green", "blue", "reg/app:2", "reg/app:1", "2026-11-25T07:00:00Z", "alice")
    assert State.from_json(state.to_json()) == state
    assert state.to_json().decode().splitlines()[1] == '  "active_color": "green",'


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'{"active_color": "red"}', b"\xff"])
def test_unreadable_state_counts_as_none(raw: bytes) -> None:
    assert State.from_json(raw) is None
