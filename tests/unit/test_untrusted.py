"""Text from the server is printed without its control characters, and decoding never fails."""

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from bluegreen.errors import RemoteCommandError
from bluegreen.untrusted import decode, printable

HOSTILE_HOLDER = '{"actor": "x"}\x1b]0;pwned\x07\x1b[2J\x1b[H\rdeployed: shop live color green\x1b[0m'


def test_the_hostile_lock_holder_cannot_retitle_clear_or_overwrite() -> None:
    shown = printable(HOSTILE_HOLDER)
    assert shown == '{"actor": "x"}deployed: shop live color green'
    assert "pwned" not in shown


def test_newlines_and_tabs_stay() -> None:
    assert printable("a\tb\nc") == "a\tb\nc"


def test_bidi_overrides_c1_controls_and_bel_go() -> None:
    assert printable("safe\u202etxt.exe\u2066x\u2069\x85\x9b31m\x07\x00\x7f") == "safetxt.exex"


def test_length_is_capped() -> None:
    assert printable("x" * 50, limit=10) == "x" * 9 + "…"
    assert len(printable("y" * 10_000)) == 4000


@given(st.text())
def test_nothing_printable_controls_survive(text: str) -> None:
    shown = printable(text, limit=100)
    assert len(shown) <= 100
    for char in shown:
        assert char in "\n\t" or unicodedata.category(char) != "Cc"
        assert char not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"


@given(st.binary())
def test_decode_never_raises(raw: bytes) -> None:
    assert isinstance(decode(raw), str)


def test_decode_keeps_valid_utf8_and_marks_the_rest() -> None:
    assert decode("héllo".encode() + b"\xff") == "héllo\ufffd"


def test_a_remote_command_error_shows_the_servers_output_without_escape_sequences() -> None:
    output = "pulling\n\x1b]0;pwned\x07\x1b[2Jerror: manifest unknown\r\n"
    error = RemoteCommandError("pulling green", "docker compose pull", 1, output)
    shown = "pulling green failed (exit 1): docker compose pull\npulling\nerror: manifest unknown"
    assert str(error) == shown
