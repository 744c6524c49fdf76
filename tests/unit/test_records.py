"""Release records are the server's word: read capped, typed and validated, never raising, and no
record's content can widen what the cleanup after a switch deletes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bluegreen import commands
from bluegreen.deploy import run_command
from bluegreen.errors import BluegreenError
from bluegreen.records import RELEASE_ID, Release, new_release_id
from tests.unit.fake_host import FakeHost
from tests.unit.test_routine_failures import APP_DIR, IMAGE, Recorder, config, deployed, fake, workspace

__all__ = ["fake", "workspace"]  # fixtures

CONTAINER = "a" * 64
GOOD: dict[str, Any] = {
    "color": "blue",
    "release_id": "20260101T120000-0a1b2c",
    "compose_files": [f"{APP_DIR}/blue/releases/20260101T120000-0a1b2c/compose.yml"],
    "environment": {"BLUEGREEN_COLOR": "blue", "BLUEGREEN_PORT": "8081"},
    "image": "registry.example.com/shop:v1",
    "image_ids": {"shop-blue-web-1": "sha256:" + "b" * 64},
    "running": [CONTAINER],
    "started_at": "2026-01-01T12:00:00Z",
    "actor": "ci",
}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


def parsed(**changes: Any) -> Release | None:
    data = {**GOOD, **changes}
    return Release.from_json(json.dumps({k: v for k, v in data.items() if v is not None}).encode(), APP_DIR)


def test_a_good_record_reads_back() -> None:
    release = parsed()
    assert release is not None
    assert Release.from_json(release.to_json(), APP_DIR) == release
    assert release.release_id == "20260101T120000-0a1b2c"


def test_a_new_release_id_is_in_the_format_records_must_have() -> None:
    assert RELEASE_ID.fullmatch(new_release_id())


SLOW_MACHINE = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)


@SLOW_MACHINE
@given(st.binary())
def test_any_bytes_never_raise(raw: bytes) -> None:
    Release.from_json(raw, APP_DIR)


@SLOW_MACHINE
@given(st.dictionaries(st.sampled_from(sorted(GOOD)), JSON))
def test_any_json_with_the_right_keys_never_raises(changes: dict[str, Any]) -> None:
    release = Release.from_json(json.dumps({**GOOD, **changes}).encode(), APP_DIR)
    assert release is None or RELEASE_ID.fullmatch(release.release_id)


@pytest.mark.parametrize("depth", [100_000, 300_000])
def test_deep_json_is_no_record(depth: int) -> None:
    assert Release.parse(b"[" * depth + b"]" * depth, APP_DIR)[0] is None


@pytest.mark.parametrize(
    "changes",
    [
        {"release_id": None},  # seen: the cleanup then removed every release of the color
        {"release_id": ""},
        {"release_id": "*"},
        {"release_id": ".."},
        {"release_id": "../../shop"},
        {"release_id": "20260101T120000-0a1b2c/x"},
        {"release_id": 20260101},
        {"color": "purple"},
        {"image": "reg/app:1 --privileged"},
        {"image": None},
        {"compose_files": []},
        {"compose_files": ["/etc/passwd"]},
        {"compose_files": ["compose.yml"]},
        {"compose_files": [f"{APP_DIR}/../other/compose.yml"]},
        {"compose_files": [f"{APP_DIR}-evil/compose.yml"]},
        {"compose_files": [f"{APP_DIR}/blue/releases/x/compose\x1b[2J.yml"]},
        {"environment": {"LD_PRELOAD": "/tmp/x.so"}},
        {"environment": {"DOCKER_HOST": "tcp://evil:2375"}},
        {"environment": {"BLUEGREEN_PORT": "8081\n"}},
        {"running": ["abc"]},
        {"running": "a" * 64},
        {"image_ids": {"shop-blue-web-1": "latest"}},
        {"image_ids": {"-x": "sha256:" + "b" * 64}},
    ],
    ids=repr,
)
def test_a_field_unlike_what_bluegreen_writes_makes_the_record_malformed(changes: dict[str, Any]) -> None:
    assert parsed(**changes) is None


def test_the_reason_names_the_field_without_quoting_it() -> None:
    release, problem = Release.parse(json.dumps({**GOOD, "release_id": "x\x1b]0;pwned"}).encode(), APP_DIR)
    assert (release, problem) == (None, "its release_id is missing or not what bluegreen writes")


def test_free_text_fields_lose_control_characters() -> None:
    release = parsed(actor="eve\x1b]0;pwned\x07\nline", started_at=["x"])
    assert release is not None
    assert (release.actor, release.started_at) == ("eve line", "")


# ---- the cleanup command refuses to widen ---------------------------------------------------------


def test_the_cleanup_keeps_the_named_entry() -> None:
    argv = commands.remove_older_releases("/srv/shop/blue/releases", "20260101T120000-0a1b2c", ["logs"])
    assert argv[3:] == ["sh", "/srv/shop/blue/releases", "20260101T120000-0a1b2c", "logs"]


@pytest.mark.parametrize("keep", ["", "*", "?", "[a-z]*", ".", "..", "a/b", "-x", " x", "x\n"])
def test_the_cleanup_refuses_a_keep_that_is_not_a_plain_name(keep: str) -> None:
    with pytest.raises(ValueError, match="refusing"):
        commands.remove_older_releases("/srv/shop/blue/releases", keep, [])


@pytest.mark.parametrize("directory", ["", "/", "//", "releases", "./releases"])
def test_the_cleanup_refuses_a_directory_that_is_not_absolute_below_root(directory: str) -> None:
    with pytest.raises(ValueError, match="refusing"):
        commands.remove_older_releases(directory, "20260101T120000-0a1b2c", [])


# ---- through the routine: a malformed record is no record, with one warning ----------------------

BLUE_RECORD = f"{APP_DIR}/blue/release.json"
GREEN_RECORD = f"{APP_DIR}/green/release.json"


def blue_release_files(fake: FakeHost) -> list[str]:
    return sorted(path for path in fake.files if path.startswith(f"{APP_DIR}/blue/releases/"))


def without_release_id(raw: bytes) -> bytes:
    data = json.loads(raw)
    del data["release_id"]
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    "corrupt",
    [without_release_id, lambda raw: b"[" * 300_000, lambda raw: raw.replace(b"/", b"/../", 1)],
    ids=["no release_id", "deep JSON", "compose file outside the app"],
)
def test_rollback_to_a_malformed_record_is_refused_and_deletes_nothing(
    fake: FakeHost, workspace: Path, corrupt: Any
) -> None:
    deployed(fake, workspace, "v1", "v2")  # green live, blue kept
    kept_files = blue_release_files(fake)
    assert kept_files
    fake.files[BLUE_RECORD] = corrupt(fake.files[BLUE_RECORD])
    fake.clear_records()
    reporter = Recorder()

    with pytest.raises(BluegreenError) as caught:
        run_command(config(workspace, "rollback"), fake, reporter)

    assert str(caught.value).startswith("nothing to roll back to: blue is no longer kept on the host")
    assert [w for w in reporter.warnings if "release record" in w] == [
        w for w in reporter.warnings if w.startswith(f"the release record {BLUE_RECORD} is malformed (")
    ]
    assert len([w for w in reporter.warnings if "release record" in w]) == 1
    assert not [argv for argv in fake.argvs if argv[:1] == ("find",)]
    assert blue_release_files(fake) == kept_files
    assert fake.proxy_route() == "green"


def test_status_with_a_deep_record_on_the_live_color_warns_once(fake: FakeHost, workspace: Path) -> None:
    deployed(fake, workspace, "v1", "v2")
    fake.files[GREEN_RECORD] = b"[" * 300_000
    reporter = Recorder()

    result = run_command(config(workspace, "status"), fake, reporter)

    assert (result.status, result.active_color) == ("ok", "green")
    assert len([w for w in reporter.warnings if GREEN_RECORD in w]) == 1


def test_a_deploy_after_a_malformed_live_record_keeps_the_running_release(
    fake: FakeHost, workspace: Path
) -> None:
    deployed(fake, workspace, "v1", "v2")
    fake.files[GREEN_RECORD] = without_release_id(fake.files[GREEN_RECORD])
    deployed(fake, workspace, "v3")  # blue, whose own release is the only one its cleanup keeps
    blue = json.loads(fake.files[BLUE_RECORD])
    assert blue_release_files(fake) and all(blue["release_id"] in p for p in blue_release_files(fake))
    assert blue["image"] == f"{IMAGE}:v3"
