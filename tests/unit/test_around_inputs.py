"""Bad values of the inputs around the switch (issue 20): one InputError each, naming the input,
raised by parse_inputs, that is before anything connects."""

from __future__ import annotations

from pathlib import Path

import pytest

from bluegreen.config import parse_inputs
from bluegreen.errors import InputError
from tests.unit.test_config import good, workspace

__all__ = ["workspace"]  # a fixture


@pytest.mark.parametrize(
    ("inputs", "name", "problem"),
    [
        ({"smoke-paths": "health"}, "smoke-paths", "line 1 has the path 'health'"),
        ({"smoke-paths": "/ok\nBREW /coffee"}, "smoke-paths", "line 2 has the method 'BREW'"),
        ({"smoke-paths": "/x 700"}, "smoke-paths", "line 1 expects the status '700'"),
        ({"smoke-timeout": "0"}, "smoke-timeout", "is '0'"),
        ({"smoke-timeout": "soon"}, "smoke-timeout", "is 'soon', not a number"),
        ({"release-timeout": "-5"}, "release-timeout", "is '-5'"),
        ({"release-timeout": "nan"}, "release-timeout", "is 'nan'"),
        ({"webhook-url": "hooks.slack.com/x"}, "webhook-url", "is not an http(s) URL"),
        ({"webhook-url": "http://h:port/x"}, "webhook-url", "has a port that is not a number"),
        ({"webhook-url": "https://h/x", "webhook-timeout": "0"}, "webhook-timeout", "is '0'"),
        ({"registry-username": "octo"}, "registry-password", "is empty but `registry-username` is set"),
        ({"registry": "ghcr.io"}, "registry", "is set but `registry-username` is empty"),
        (
            {"registry": "ghcr.io/org", "registry-username": "u", "registry-password": "p"},
            "registry",
            "is 'ghcr.io/org'",
        ),
    ],
)
def test_a_bad_value_is_one_error_naming_the_input(
    workspace: Path, inputs: dict[str, str], name: str, problem: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_inputs(good(**inputs), workspace)
    assert (caught.value.input_name, caught.value.problem) == (name, problem)


def test_good_values_are_parsed(workspace: Path) -> None:
    raw = good(
        image="ghcr.io/org/shop:1",
        **{
            "smoke-paths": "/\nPOST /api 201",
            "smoke-timeout": "2.5",
            "registry-username": "octo",
            "registry-password": " token \n",
            "webhook-url": "https://hooks.example.com/x",
            "webhook-timeout": "3",
            "release-command": "migrate",
            "release-timeout": "90",
        },
    )
    config = parse_inputs(raw, workspace)
    assert [str(path) for path in config.smoke_paths] == ["GET /", "POST /api"]
    assert config.smoke_timeout == 2.5
    assert config.registry_login is not None
    assert (config.registry_login.registry, config.registry_login.password) == ("ghcr.io", "token")
    assert config.webhook is not None and config.webhook.timeout == 3.0
    assert config.release_command is not None and config.release_command.timeout == 90.0
