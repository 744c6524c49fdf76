"""The pure parts of entrypoint.py: workflow commands, the outputs file, the summary, the log."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

import entrypoint
from bluegreen.config import ACTION_YML
from bluegreen.deploy import Result

KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\r\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\r\n"
    "\r\n"
    "  QyNTUxOQAAACDs%2Ftail  \n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def test_escape_data_follows_the_workflow_command_rules() -> None:
    assert entrypoint.escape_data("50% done\r\nnext: a,b") == "50%25 done%0D%0Anext: a,b"
    assert entrypoint.escape_data("%0A") == "%250A"


def test_each_non_empty_line_of_a_secret_is_masked() -> None:
    assert entrypoint.mask_commands(KEY) == [
        "::add-mask::-----BEGIN OPENSSH PRIVATE KEY-----",
        "::add-mask::b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
        "::add-mask::QyNTUxOQAAACDs%252Ftail",
        "::add-mask::-----END OPENSSH PRIVATE KEY-----",
    ]
    assert entrypoint.mask_commands("pass phrase%") == ["::add-mask::pass phrase%25"]
    assert entrypoint.mask_commands("") == []
    assert entrypoint.mask_commands("A=1\nB=two words\n", key_value_lines=True) == [
        "::add-mask::A=1", "::add-mask::1", "::add-mask::B=two words", "::add-mask::two words",
    ]  # fmt: skip
    assert entrypoint.mask_commands("QUJD==") == ["::add-mask::QUJD=="]
    assert entrypoint.mask_commands(" \n\n") == []


def test_text_from_the_server_is_never_a_workflow_command() -> None:
    assert entrypoint.plain("::error::injected") == "> ::error::injected"
    assert entrypoint.plain("   ::add-mask::x") == ">    ::add-mask::x"
    assert entrypoint.plain("##[error]legacy") == "> ##[error]legacy"
    assert entrypoint.plain("nginx: worker :: ok") == "nginx: worker :: ok"


def test_inputs_are_read_back_from_the_runners_names() -> None:
    env = {
        "INPUT_SSH-KEY": "k",
        "INPUT_APP-NAME": "shop",
        "INPUT_HOST": "example.com",
        "INPUT_": "nameless",
        "HOME": "/github/home",
        "GITHUB_OUTPUT": "/x",
    }
    assert entrypoint.inputs_from_env(env) == {"ssh-key": "k", "app-name": "shop", "host": "example.com"}


def test_outputs_file_uses_heredoc_blocks_safe_for_multi_line_values() -> None:
    text = entrypoint.outputs_text(
        {"status": "ok", "lock-holder": 'line 1\nline 2\n{"a": 1}', "e": ""}, "EOF1"
    )
    assert text == (
        'status<<EOF1\nok\nEOF1\nlock-holder<<EOF1\nline 1\nline 2\n{"a": 1}\nEOF1\ne<<EOF1\n\nEOF1\n'
    )


def test_outputs_delimiter_is_random_and_never_in_a_value() -> None:
    text = entrypoint.outputs_text({"a": "x"})
    match = re.fullmatch(r"a<<(ghadelimiter_[0-9a-f]{32})\nx\n\1\n", text)
    assert match
    assert entrypoint.outputs_text({"a": "x"}) != text
    with pytest.raises(ValueError):
        entrypoint.outputs_text({"a": "xx EOF yy"}, "EOF")


def _result(**changes: Any) -> Result:
    fields: dict[str, Any] = {
        "command": "deploy",
        "status": "deployed",
        "app_name": "shop",
        "active_color": "green",
        "previous_color": "blue",
        "image": "registry.example.com/shop:2",
        "duration_seconds": 12.5,
        "phases": {"lock": 12.0},
        "deployed_at": "2026-11-25T07:00:00Z",
        "deployed_by": "octocat (github run 42)",
        "switch_mode": "seamless",
    }
    fields.update(changes)
    return Result(**fields)


def test_declared_outputs_are_exactly_the_ones_written() -> None:
    declared = yaml.safe_load(ACTION_YML.read_text())["outputs"]
    assert tuple(declared) == entrypoint.OUTPUTS
    assert tuple(entrypoint.result_outputs(_result(), 1.0)) == entrypoint.OUTPUTS
    assert set(entrypoint.failure_outputs(1.0)) <= set(entrypoint.OUTPUTS)


def test_result_outputs() -> None:
    assert entrypoint.result_outputs(_result(), 13.26) == {
        "active-color": "green",
        "previous-color": "blue",
        "status": "deployed",
        "duration-seconds": "13.3",
        "image": "registry.example.com/shop:2",
        "deployed-at": "2026-11-25T07:00:00Z",
        "deployed-by": "octocat (github run 42)",
        "lock-holder": "",
        "certificate-expires": "",
        "switch-mode": "seamless",
        "deploy-id": "",
        "hosts-json": "[]",
        "canary": "",
    }
    assert (
        entrypoint.result_outputs(_result(certificate_expires="2027-01-31T12:00:00Z"), 1.0)[
            "certificate-expires"
        ]
        == "2027-01-31T12:00:00Z"
    )
    assert entrypoint.failure_outputs(2.04) == {"status": "failed", "duration-seconds": "2.0"}
    assert entrypoint.failure_outputs(2.04, "blue", "green answered 60 request(s)") == {
        "status": "failed",
        "duration-seconds": "2.0",
        "active-color": "blue",
        "canary": "green answered 60 request(s)",
    }


def test_log_groups_each_phase_and_never_nests_groups() -> None:
    out = io.StringIO()
    log = entrypoint.GitHubReporter(out)
    log.phase_started("lock")
    log.phase_started("detect")
    log.info("live color: none\n::warning::from the server")
    log.phase_ended("detect", 0.1, True)
    log.phase_started("upload")
    log.phase_ended("upload", 0.2, True)
    log.phase_started("health")
    log.warning("slow: 50%")
    log.phase_ended("health", 3.0, False)
    log.phase_ended("lock", 4.0, False)
    log.error("bluegreen deploy failed: green was not healthy\nlogs: ...")
    assert out.getvalue().splitlines() == [
        "::group::detect",
        "live color: none",
        "> ::warning::from the server",
        "detect: done in 0.10 s",
        "::endgroup::",
        "::group::upload",
        "upload: done in 0.20 s",
        "::endgroup::",
        "::group::health",
        "::warning::slow: 50%25",
        "health: FAILED in 3.00 s",
        "::endgroup::",
        "lock: FAILED in 4.00 s",
        "::error::bluegreen deploy failed: green was not healthy%0Alogs: ...",
    ]
    assert [(r.name, r.depth, r.seconds, r.ok) for r in log.rows] == [
        ("lock", 0, 4.0, False),
        ("detect", 1, 0.1, True),
        ("upload", 1, 0.2, True),
        ("health", 1, 3.0, False),
    ]


def test_summary_of_a_deploy() -> None:
    rows = [
        entrypoint.PhaseRow("lock", 0, 9.5, True),
        entrypoint.PhaseRow("detect", 1, 0.25, True),
        entrypoint.PhaseRow("verify", 1, None, None),
    ]
    text = entrypoint.summary_markdown(
        command_name="deploy",
        app="shop",
        host="203.0.113.7:22",
        status="deployed",
        before="blue",
        after="green",
        image="registry.example.com/shop:2",
        seconds=10.04,
        phases=rows,
    )
    assert text == (
        "### bluegreen deploy of `shop`: deployed\n"
        "\n"
        "| | |\n"
        "|---|---|\n"
        "| Status | deployed |\n"
        "| Server | `203.0.113.7:22` |\n"
        "| Color before | blue |\n"
        "| Color after | green |\n"
        "| Image | `registry.example.com/shop:2` |\n"
        "| Duration | 10.0 s |\n"
        "\n"
        "| Phase | Result | Seconds |\n"
        "|---|---|---:|\n"
        "| lock | ok | 9.50 |\n"
        "| ↳ detect | ok | 0.25 |\n"
        "| ↳ verify | — | — |\n"
        "\n"
    )


def test_summary_names_the_certificate_the_verification_saw() -> None:
    now = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)
    line = entrypoint.certificate_line(" https://shop.example.com/health ", "2027-01-31T12:00:00Z", now)
    assert line == "TLS certificate of `shop.example.com`: expires 2027-01-31 (30 days)"
    assert entrypoint.certificate_line("", "", now) == ""
    text = entrypoint.summary_markdown(
        command_name="deploy",
        app="shop",
        host="h",
        status="deployed",
        before="blue",
        after="green",
        image="",
        seconds=1.0,
        phases=[],
        certificate=line,
    )
    assert text.endswith(f"| Duration | 1.0 s |\n\n{line}\n\n")


def test_summary_of_a_failure_quotes_the_error_safely() -> None:
    text = entrypoint.summary_markdown(
        command_name="rollback",
        app="a|b",
        host="",
        status="failed",
        before="—",
        after="—",
        image="",
        seconds=0.3,
        phases=[],
        error="compose said:\n```\nboom | x\n```",
    )
    assert text == (
        "### bluegreen rollback of `a\\|b`: failed\n"
        "\n"
        "| | |\n"
        "|---|---|\n"
        "| Status | failed |\n"
        "| Server | — |\n"
        "| Color before | — |\n"
        "| Color after | — |\n"
        "| Image | — |\n"
        "| Duration | 0.3 s |\n"
        "\n"
        "**Error**\n"
        "\n"
        "````text\n"
        "compose said:\n```\nboom | x\n```\n"
        "````\n"
    )


def test_summary_shows_each_smoke_path_as_a_row() -> None:
    from bluegreen.smoke import SmokeCheck

    checks = [
        SmokeCheck("GET", "/api/items?limit=1", "200 ~ 'items'", "HTTP 200", True, 12),
        SmokeCheck("POST", "/echo", "2xx", "HTTP 201", True, 3),
    ]
    text = entrypoint.summary_markdown(
        command_name="deploy",
        app="shop",
        host="h",
        status="deployed",
        before="blue",
        after="green",
        image="",
        seconds=1.0,
        phases=[entrypoint.PhaseRow("smoke", 0, 0.02, True)],
        smoke=checks,
    )
    assert text.endswith(
        "| smoke | ok | 0.02 |\n"
        "\n"
        "| Smoke path | Expected | Answer | ms |\n"
        "|---|---|---|---:|\n"
        "| `GET /api/items?limit=1` | 200 ~ 'items' | HTTP 200 | 12 |\n"
        "| `POST /echo` | 2xx | HTTP 201 | 3 |\n"
        "\n"
    )


def test_hosts_outputs_and_the_summary_table_per_host() -> None:
    from bluegreen.result import HostOutcome

    hosts = (
        HostOutcome("10.0.0.1:22", "green", "deployed", 12.34),
        HostOutcome("10.0.0.2:22", "blue", "switched back", 8.0, "verify"),
    )
    outputs = entrypoint.result_outputs(_result(hosts=hosts, deploy_id="20261125T070000-abc123"), 1.0)
    assert outputs["deploy-id"] == "20261125T070000-abc123"
    assert json.loads(outputs["hosts-json"]) == [
        {"host": "10.0.0.1:22", "active_color": "green", "status": "deployed", "duration_seconds": 12.34,
         "failed_phase": ""},
        {"host": "10.0.0.2:22", "active_color": "blue", "status": "switched back", "duration_seconds": 8.0,
         "failed_phase": "verify"},
    ]  # fmt: skip
    summary = entrypoint.summary_markdown(
        command_name="deploy", app="shop", host="", status="failed", before="blue", after="blue",
        image="", seconds=1.0, phases=[], hosts=entrypoint.hosts_rows(outputs["hosts-json"]),
    )  # fmt: skip
    assert "| `10.0.0.1:22` | green | deployed | — | 12.3 |" in summary
    assert "| `10.0.0.2:22` | blue | switched back | verify | 8.0 |" in summary
    assert (
        entrypoint.failure_outputs(1.0, "blue", hosts_json=outputs["hosts-json"])["hosts-json"]
        == outputs["hosts-json"]
    )
