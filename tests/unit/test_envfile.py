"""The env file's quoting per compose version (the lab test reads the values back from containers)."""

import pytest

from bluegreen.envfile import (
    EnvSyntaxError,
    env_file_text,
    quote_for_compose_v1,
    quote_for_compose_v2,
    read_env,
)

CASES = [
    # value, as compose v2 reads it, as docker-compose 1.29 reads it
    ("plain", '"plain"', '"plain"'),
    ('s3cr3t$HOME"q', '"s3cr3t$$HOME\\"q"', '"s3cr3t$HOME\\"q"'),
    ("a${X}b$$c", '"a$${X}b$$$$c"', '"a${:-$}{X}b$$c"'),
    ("back\\slash\\", '"back\\\\slash\\\\"', '"back\\\\slash\\\\${}"'),
    ("cr\rlf\n", '"cr\rlf\n"', '"cr\\rlf\n"'),
    ("'$USER' #x ", "\"'$$USER' #x \"", "\"'$USER' #x \""),
]


@pytest.mark.parametrize(("value", "v2", "v1"), CASES)
def test_quoting(value: str, v2: str, v1: str) -> None:
    assert quote_for_compose_v2(value) == v2
    assert quote_for_compose_v1(value) == v1


def test_one_line_per_pair_in_the_dialect_asked_for() -> None:
    pairs = [("A", "$x"), ("B", "")]
    assert env_file_text(pairs) == 'A="$$x"\nB=""\n'
    assert env_file_text(pairs, compose_v1=True) == 'A="$x"\nB=""\n'


# ---- reading the env text as users write it (dotenv) -------------------------------------------

READ_CASES = [
    # the line as written, the value the container must see
    ('GREETING="hello world"', "hello world"),
    ("KEY='literal $x'", "literal $x"),
    ('A="a\\nb\\rc\\td"', "a\nb\rc\td"),
    ('A="q\\"uote"', 'q"uote'),
    ('A="back\\\\slash"', "back\\slash"),
    ('A="\\$HOME $HOME ${X} $$"', "$HOME $HOME ${X} $$"),  # `$` is never expanded
    ('A="keep \\q \\0 \\\'"', "keep \\q \\0 \\'"),
    ("A='it\\'s'", "it's"),
    ("A='a\\\\b \\n \"x\"'", 'a\\\\b \\n "x"'),
    ('A="x" # a comment', "x"),
    ("A='x'\t#", "x"),
    ('A=  "x"', "x"),
    ('export A="x"', "x"),
    ('A=""', ""),
    ("A=''", ""),
    ('A="# not a comment"', "# not a comment"),
    # unquoted: byte for byte, as before
    ("A=pass #word", "pass #word"),
    ("A=$HOME ${X}", "$HOME ${X}"),
    ("A= x ", " x "),
    ('A=x"y"', 'x"y"'),
    ("A=it's", "it's"),
]


@pytest.mark.parametrize(("line", "value"), READ_CASES)
def test_read_env_removes_quotes_as_compose_does(line: str, value: str) -> None:
    assert read_env(f"{line}\n") == ((line.split("=")[0].removeprefix("export ").strip(), value),)


def test_a_quoted_value_may_span_lines_lf_or_crlf() -> None:
    text = 'KEY="-----BEGIN-----\r\nAAAA\r\n-----END-----"\r\nNEXT=1\r\n'
    assert read_env(text) == (("KEY", "-----BEGIN-----\nAAAA\n-----END-----"), ("NEXT", "1"))


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('A="open\nB=1\n', EnvSyntaxError(1, "A", 'opens a " quote that is never closed')),
        ("B=1\nA='open\n", EnvSyntaxError(2, "A", "opens a ' quote that is never closed")),
        ('A="x"y\n', EnvSyntaxError(1, "A", "has text after its closing quote")),
        ('A="x\ny" z\n', EnvSyntaxError(2, "A", "has text after its closing quote")),
        ("NOT A LINE\n", EnvSyntaxError(1, "", "is not KEY=VALUE")),
    ],
)
def test_read_env_names_the_line_and_key_never_the_value(text: str, error: EnvSyntaxError) -> None:
    with pytest.raises(EnvSyntaxError) as caught:
        read_env(text)
    assert caught.value == error
