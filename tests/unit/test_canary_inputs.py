"""`strategy: canary` and the canary-* inputs: one error each, before anything connects."""

from pathlib import Path

import pytest

from bluegreen.canary_inputs import CanaryPlan
from bluegreen.config import DEFAULT_TEMPLATE, parse_inputs
from bluegreen.errors import InputError
from tests.unit.test_config import good, workspace  # noqa: F401 (a fixture)


def canary(folder: Path, **overrides: str) -> CanaryPlan | None:
    inputs = good(**{"nginx-template": str(DEFAULT_TEMPLATE), "strategy": "canary"})
    inputs.update(overrides)
    return parse_inputs(inputs, folder).canary


def test_the_defaults(workspace: Path) -> None:  # noqa: F811
    assert canary(workspace) == CanaryPlan((10, 50, 100), 60.0, 0.01, 1.5, 50, "")
    assert canary(workspace, strategy="") is None  # bluegreen by default


def test_every_knob(workspace: Path) -> None:  # noqa: F811
    plan = canary(
        workspace,
        **{
            "canary-steps": "5, 25,pause,100",
            "canary-interval": "2.5",
            "canary-max-error-rate": "0.5%",
            "canary-max-latency-ratio": "2",
            "canary-min-requests": "10",
            "canary-sticky": "session_id",
        },
    )
    assert plan == CanaryPlan((5, 25, "pause", 100), 2.5, 0.005, 2.0, 10, "session_id")
    assert canary(workspace, **{"canary-sticky": "ip"}) == CanaryPlan(sticky="ip")


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("strategy", "rolling", "Use one of: bluegreen, canary"),
        ("canary-steps", "10,50", "the last step must be 100"),
        ("canary-steps", "50,10,100", "10 does not grow"),
        ("canary-steps", "pause,100", "a pause must follow a percent"),
        ("canary-steps", "10,pause,pause,100", "a pause must follow a percent"),
        ("canary-steps", "0,100", "'0' is not a percent"),
        ("canary-steps", "10,,100", "'' is not a percent"),
        ("canary-interval", "soon", "not a number"),
        ("canary-interval", "0", "from 1 to 86400"),
        ("canary-max-error-rate", "200%", "percent from 0 to 100"),
        ("canary-max-latency-ratio", "nan", "from 1 to 1000"),
        ("canary-min-requests", "1.5", "not a number"),
        ("canary-sticky", "a;b", "cookie's name"),
    ],
)
def test_a_bad_value_is_one_error_naming_its_input(
    workspace: Path,  # noqa: F811
    name: str,
    value: str,
    says: str,
) -> None:
    with pytest.raises(InputError) as error:
        canary(workspace, **{name: value})
    assert error.value.input_name == name
    assert says in str(error.value)


def test_a_typo_in_a_canary_input_is_caught_even_for_blue_green(workspace: Path) -> None:  # noqa: F811
    with pytest.raises(InputError, match="canary-steps"):
        canary(workspace, strategy="bluegreen", **{"canary-steps": "10,50"})


def test_a_template_that_cannot_weigh_the_colors_is_refused_for_a_canary_only(
    workspace: Path,  # noqa: F811
) -> None:
    with pytest.raises(InputError) as error:
        canary(workspace, **{"nginx-template": "deploy/nginx.conf.j2"})
    assert error.value.input_name == "nginx-template"
    assert "cannot weigh the colors" in str(error.value)
    assert "bluegreen_upstreams and bluegreen_backend" in str(error.value)
    assert canary(workspace, strategy="bluegreen", **{"nginx-template": "deploy/nginx.conf.j2"}) is None
    silent = workspace / "deploy" / "silent.j2"
    silent.write_text(DEFAULT_TEMPLATE.read_text().replace("http {\n", "http {\n    access_log off;\n"))
    with pytest.raises(InputError, match="access_log off"):
        canary(workspace, **{"nginx-template": "deploy/silent.j2"})
