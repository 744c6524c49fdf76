"""The nginx template is rendered in jinja2's sandbox: it reaches its variables, not Python."""

from pathlib import Path

import pytest

from bluegreen.config import parse_inputs
from bluegreen.errors import InputError
from bluegreen.render import Route, render_nginx
from tests.unit.test_config import good

ROUTE = Route("shop", "green", "blue", "127.0.0.1", 8082, 80)
ESCAPES = [
    '{{ cycler.__init__.__globals__.os.popen("id").read() }}',
    "{{ joiner.__init__.__globals__ }}",
    "{{ ().__class__.__mro__[1].__subclasses__() }}",
    "{{ app_name.__class__.__base__.__subclasses__() }}",
    "{{ namespace.__init__.__globals__ }}",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_reaching_python_is_one_input_error_naming_the_template(template: str) -> None:
    with pytest.raises(InputError) as caught:
        render_nginx(template, ROUTE, "deploy/nginx.conf.j2")
    assert caught.value.input_name == "nginx-template"
    assert "reaches outside its variables" in str(caught.value)


def test_the_escape_is_refused_by_the_trial_render_before_anything_connects(tmp_path: Path) -> None:
    (tmp_path / "compose.yml").write_text("services:\n  web:\n    image: ${BLUEGREEN_IMAGE}\n")
    marker = tmp_path / "ran"
    (tmp_path / "nginx.conf.j2").write_text(
        f'{{{{ cycler.__init__.__globals__.os.popen("touch {marker}").read() }}}}\n'
    )
    inputs = good(**{"compose-file": "compose.yml", "nginx-template": "nginx.conf.j2"})
    with pytest.raises(InputError) as caught:
        parse_inputs(inputs, tmp_path)
    assert caught.value.input_name == "nginx-template"
    assert not marker.exists()


@pytest.mark.parametrize("template", ["{{ 1 / 0 }}", "{{ range(10**9) | list }}"])
def test_an_expression_that_fails_is_an_input_error_not_a_traceback(template: str) -> None:
    with pytest.raises(InputError, match="fails to render"):
        render_nginx(template, ROUTE)


def test_ordinary_templates_still_render() -> None:
    template = (
        "{% for c in ['blue', 'green'] %}{{ c | upper }}{% endfor %} {{ upstream | replace(':', ' ') }}"
    )
    assert render_nginx(template, ROUTE) == "BLUEGREEN 127.0.0.1 8082"
