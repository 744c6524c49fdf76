"""The README's inputs/outputs section is generated from action.yml and cannot drift."""

from __future__ import annotations

import pytest
import yaml

from bluegreen import action_docs
from bluegreen.config import ACTION_YML


def test_readme_section_is_what_action_yml_generates() -> None:
    readme = action_docs.README.read_text()
    assert action_docs.updated(readme) == readme, "README.md is stale: run `python -m bluegreen.action_docs`"


def test_every_input_and_output_is_in_the_tables() -> None:
    action = yaml.safe_load(ACTION_YML.read_text())
    text = action_docs.section()
    for name in [*action["inputs"], *action["outputs"]]:
        assert f"| `{name}` |" in text
    host = "Server to deploy to (hostname or IP address). Either this or `hosts` is required."
    assert f"| `host` | no |  | {host} |" in text
    assert "| `port` | no | `22` | SSH port of the server. |" in text


def test_only_the_section_between_the_markers_is_rewritten() -> None:
    readme = f"# Title\n\nintro\n\n{action_docs.START}\nold table\n{action_docs.END}\n\n## More\n"
    assert action_docs.updated(readme) == (
        f"# Title\n\nintro\n\n{action_docs.START}\n{action_docs.section()}\n{action_docs.END}\n\n## More\n"
    )


@pytest.mark.parametrize(
    "readme",
    ["no markers", f"{action_docs.END}\n{action_docs.START}", f"{action_docs.START}{action_docs.START}"],
)
def test_markers_must_be_one_ordered_pair(readme: str) -> None:
    with pytest.raises(ValueError):
        action_docs.updated(readme)
