"""The env file's quoting per compose version (the lab test reads the values back from containers)."""

import pytest

from bluegreen.envfile import env_file_text, quote_for_compose_v1, quote_for_compose_v2

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
