"""The state file is the server's word: State.from_json never raises, whatever it holds."""

import json

from hypothesis import given
from hypothesis import strategies as st

from bluegreen.state import State

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
FIELDS = ("active_color", "previous_color", "image", "previous_image", "deployed_at", "actor")


@given(st.binary())
def test_any_bytes(raw: bytes) -> None:
    check(State.from_json(raw))


@given(st.dictionaries(st.sampled_from(FIELDS), JSON | st.sampled_from(["blue", "green", "purple"])))
def test_any_json_with_the_right_keys(data: dict[str, object]) -> None:
    check(State.from_json(json.dumps(data).encode()))


@given(JSON)
def test_any_json(data: object) -> None:
    check(State.from_json(json.dumps(data).encode()))


def check(state: State | None) -> None:
    if state is None:
        return
    assert state.active_color in ("blue", "green")
    assert state.previous_color in ("", "blue", "green")
    assert state.previous_color != state.active_color
    assert all(isinstance(getattr(state, name), str) for name in FIELDS)


def test_an_unknown_previous_color_counts_as_none() -> None:
    state = State.from_json(b'{"active_color": "blue", "previous_color": "purple", "image": ["x"]}')
    assert state == State(active_color="blue")


def test_hostile_values_that_json_cannot_hold_in_python() -> None:
    for raw in (
        b'{"active_color": "blue", "actor": ' + b"9" * 5000 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"active_color": "green", "deployed_at": "\xff\xfe"}',
        b'{"active_color": ["blue"]}',
    ):
        assert State.from_json(raw) is None


def test_text_fields_lose_control_characters_and_images_must_look_like_images() -> None:
    raw = json.dumps(
        {
            "active_color": "green",
            "previous_color": "blue",
            "actor": "eve\x1b]0;pwned\x07\nline",
            "image": "reg/app:1 --privileged",
            "previous_image": "reg/app:1",
        }
    ).encode()
    state = State.from_json(raw)
    assert state == State("green", "blue", "", "reg/app:1", "", "eve line")


def test_a_good_state_reads_back() -> None:
    state = State("green", "blue", "reg/app:2", "reg/app:1", "2026-01-01T00:00:00Z", "me")
    assert State.from_json(state.to_json()) == state
