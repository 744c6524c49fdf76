import os
import subprocess
import sys
from pathlib import Path

import pytest

from bluegreen.bundle import (
    Bundle,
    Upload,
    _LocalFile,
    _uploads,
    check_shared_services,
    parse_service_list,
    plan_bundle,
)
from bluegreen.errors import InputError

WEB = "services:\n  web:\n    image: app\n"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    workspace = tmp_path.resolve() / "ws"
    workspace.mkdir()
    return workspace


def write(workspace: Path, name: str, text: str = "x\n", mode: int = 0o644) -> Path:
    path = workspace / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def plan(workspace: Path, *names: str, shared: bool = False, max_bytes: int = 1 << 20) -> Bundle:
    files = [workspace / name for name in names]
    return plan_bundle(files, workspace, shared_by_colors=shared, max_bytes=max_bytes)


def remotes(bundle: Bundle) -> list[tuple[str, Path, int]]:
    return [(upload.remote, upload.local, upload.mode) for upload in bundle.uploads]


def refused(workspace: Path, *names: str, shared: bool = False, max_bytes: int = 1 << 20) -> str:
    with pytest.raises(InputError) as caught:
        plan(workspace, *names, shared=shared, max_bytes=max_bytes)
    assert caught.value.input_name == "compose-file"
    return str(caught.value)


# --- what is uploaded, and where -----------------------------------------------------------------


def test_a_lone_compose_file_lands_at_the_root(ws: Path) -> None:
    compose = write(ws, "deploy/compose.yml", WEB)
    bundle = plan(ws, "deploy/compose.yml")
    assert bundle == Bundle(
        uploads=(Upload(compose, "compose.yml", 0o644),),
        compose_files=("compose.yml",),
        services=("web",),
        total_bytes=len(WEB),
        images={"web": "app"},
    )


def test_project_env_config_dir_and_env_files_keep_their_layout(ws: Path) -> None:
    write(
        ws,
        "deploy/compose.yml",
        "services:\n"
        "  web:\n"
        "    image: app\n"
        "    env_file: web.env\n"
        "    volumes: ['./conf:/etc/app:ro', 'data:/var/lib/app', '/var/run/docker.sock:/s', '~/x:/x']\n"
        "  worker:\n"
        "    image: app\n"
        "    env_file: [common.env, {path: local.env, required: false}, {path: web.env}]\n"
        "volumes: {data: {}}\n",
    )
    write(ws, "deploy/.env", "TAG=1\n", mode=0o640)
    write(ws, "deploy/web.env", "A=1\n", mode=0o644)
    write(ws, "deploy/common.env", "B=1\n", mode=0o600)
    write(ws, "deploy/conf/app.ini", "[app]\n")
    write(ws, "deploy/conf/sub/entry.sh", "#!/bin/sh\n", mode=0o755)
    write(ws, ".env", "NOT=uploaded\n")  # the workspace's .env is not the project's
    bundle = plan(ws, "deploy/compose.yml")
    d = ws / "deploy"
    assert remotes(bundle) == [
        ("compose.yml", d / "compose.yml", 0o644),
        (".env", d / ".env", 0o600),
        ("web.env", d / "web.env", 0o644),
        ("conf/app.ini", d / "conf/app.ini", 0o644),
        ("conf/sub/entry.sh", d / "conf/sub/entry.sh", 0o755),
        ("common.env", d / "common.env", 0o600),
    ]
    assert bundle.services == ("web", "worker")
    assert bundle.total_bytes == sum(upload.local.stat().st_size for upload in bundle.uploads)


def test_a_private_executable_keeps_its_owner_execute_bit(ws: Path) -> None:
    write(ws, "compose.yml", "services: {web: {image: a, volumes: ['./run.sh:/run.sh']}}\n")
    write(ws, "run.sh", mode=0o750)
    assert remotes(plan(ws, "compose.yml"))[1] == ("run.sh", ws / "run.sh", 0o700)


def test_a_file_above_the_project_moves_the_root_up(ws: Path) -> None:
    write(ws, "deploy/compose.yml", "services: {web: {image: a, volumes: ['../shared/x:/x', 'conf/y:/y']}}\n")
    write(ws, "shared/x")
    write(ws, "deploy/conf/y")
    bundle = plan(ws, "deploy/compose.yml")
    assert [upload.remote for upload in bundle.uploads] == ["deploy/compose.yml", "shared/x", "deploy/conf/y"]
    assert bundle.compose_files == ("deploy/compose.yml",)


def test_long_syntax_bind_mounts_are_uploaded_other_types_are_not(ws: Path) -> None:
    write(
        ws,
        "compose.yml",
        "services:\n"
        "  web:\n"
        "    image: a\n"
        "    volumes:\n"
        "      - {type: bind, source: ./conf, target: /etc/app, read_only: true}\n"
        "      - {type: bind, source: /srv/data, target: /data}\n"
        "      - {type: volume, source: cache, target: /cache}\n"
        "      - {type: tmpfs, target: /tmp}\n"
        "      - /anonymous\n",
    )
    write(ws, "conf/a.ini")
    assert [upload.remote for upload in plan(ws, "compose.yml").uploads] == ["compose.yml", "conf/a.ini"]


def test_build_contexts_are_not_uploaded(ws: Path) -> None:
    write(ws, "compose.yml", "services: {web: {image: a, build: {context: ./src}}, job: {build: .}}\n")
    write(ws, "src/Dockerfile")
    bundle = plan(ws, "compose.yml")
    assert [upload.remote for upload in bundle.uploads] == ["compose.yml"]
    assert bundle.services == ("web", "job")


def test_mounting_the_project_directory_uploads_each_file_once(ws: Path) -> None:
    write(ws, "compose.yml", "services: {web: {image: a, env_file: .env, volumes: ['.:/app']}}\n")
    write(ws, ".env", mode=0o600)
    write(ws, "index.html")
    assert [upload.remote for upload in plan(ws, "compose.yml").uploads] == [
        "compose.yml",
        ".env",
        "index.html",
    ]


def test_secret_and_config_files_are_uploaded(ws: Path) -> None:
    write(
        ws,
        "deploy/compose.yml",
        "services: {web: {image: a, secrets: [db], configs: [site]}}\n"
        "secrets: {db: {file: secrets/db.txt}, token: {environment: TOKEN}, host: {file: /etc/h}}\n"
        "configs: {site: {file: ./site.conf}, ext: {external: true}}\n",
    )
    write(ws, "deploy/secrets/db.txt", mode=0o600)
    write(ws, "deploy/site.conf")
    d = ws / "deploy"
    assert remotes(plan(ws, "deploy/compose.yml"))[1:] == [
        ("secrets/db.txt", d / "secrets/db.txt", 0o600),
        ("site.conf", d / "site.conf", 0o644),
    ]


def test_a_missing_secret_file_names_the_secret_and_the_file(ws: Path) -> None:
    write(ws, "deploy/compose.yml", "services: {web: {image: a}}\nsecrets: {db: {file: ./db.txt}}\n")
    assert refused(ws, "deploy/compose.yml") == (
        "input 'compose-file': secret 'db' needs the file './db.txt', but deploy/db.txt does not exist. "
        "Add the file to the repository"
    )


def test_a_missing_bind_source_is_not_uploaded_but_keeps_its_place(ws: Path) -> None:
    # compose creates it on the host; ../data must stay beside deploy/, inside the color's directory
    write(ws, "deploy/compose.yml", "services: {web: {image: a, volumes: ['../data:/data']}}\n")
    bundle = plan(ws, "deploy/compose.yml")
    assert [upload.remote for upload in bundle.uploads] == ["deploy/compose.yml"]
    assert bundle.compose_files == ("deploy/compose.yml",)


def test_paths_of_every_file_are_relative_to_the_first_files_directory(ws: Path) -> None:
    write(ws, "deploy/compose.yml", WEB)
    write(ws, "overrides/compose.yml", "services: {web: {volumes: ['./conf:/c']}, extra: {image: b}}\n")
    write(ws, "deploy/conf/a")
    write(ws, "overrides/conf/a")  # not this one: compose reads ./conf from deploy/
    bundle = plan(ws, "deploy/compose.yml", "overrides/compose.yml")
    assert [upload.remote for upload in bundle.uploads] == [
        "deploy/compose.yml",
        "overrides/compose.yml",
        "deploy/conf/a",
    ]
    assert bundle.compose_files == ("deploy/compose.yml", "overrides/compose.yml")
    assert bundle.services == ("web", "extra")


def test_symlinks_inside_the_workspace_are_followed(ws: Path) -> None:
    write(ws, "compose.yml", "services: {web: {image: a, volumes: ['./conf:/c', './link.ini:/l']}}\n")
    write(ws, "shared/real.ini")
    write(ws, "shared/dir/b")
    (ws / "conf").mkdir()
    (ws / "conf/real.ini").symlink_to(ws / "shared/real.ini")
    (ws / "conf/dir").symlink_to(ws / "shared/dir")
    (ws / "link.ini").symlink_to("shared/real.ini")
    assert remotes(plan(ws, "compose.yml"))[1:] == [
        ("conf/dir/b", ws / "shared/dir/b", 0o644),
        ("conf/real.ini", ws / "shared/real.ini", 0o644),
        ("link.ini", ws / "shared/real.ini", 0o644),
    ]


def test_the_first_compose_files_tree_counts_as_inside(tmp_path: Path) -> None:
    workspace = tmp_path.resolve() / "ws"
    workspace.mkdir()
    write(tmp_path.resolve(), "elsewhere/compose.yml", "services: {web: {image: a, volumes: ['./c:/c']}}\n")
    write(tmp_path.resolve(), "elsewhere/c")
    bundle = plan(workspace, "../elsewhere/compose.yml")
    assert [upload.remote for upload in bundle.uploads] == ["compose.yml", "c"]


# --- ${...} --------------------------------------------------------------------------------------


def test_bluegreens_env_file_and_server_paths_with_variables_are_left_alone(ws: Path) -> None:
    write(
        ws,
        "compose.yml",
        "services:\n"
        "  web:\n"
        "    image: a\n"
        '    env_file: ["${BLUEGREEN_ENV_FILE}"]\n'
        "    volumes:\n"
        '      - "/srv/data-${BLUEGREEN_COLOR}:/data"\n'
        '      - "db-${BLUEGREEN_COLOR}:/db"\n'
        '      - "./conf:/etc/${BLUEGREEN_COLOR:-blue}"\n'
        '      - "${BLUEGREEN_ENV_FILE}:/app.env"\n',
    )
    write(ws, "conf/a")
    assert [upload.remote for upload in plan(ws, "compose.yml").uploads] == ["compose.yml", "conf/a"]


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("{env_file: ['${APP_ENV}']}", "${APP_ENV}"),
        ("{volumes: ['${CONF_DIR:-./conf}:/etc/app']}", "${CONF_DIR:-./conf}"),
        ("{volumes: ['./conf-$COLOR:/etc/app']}", "./conf-$COLOR"),
        ("{volumes: [{type: bind, source: '${PWD}/conf', target: /c}]}", "${PWD}/conf"),
    ],
)
def test_other_variables_in_local_paths_are_refused(ws: Path, service: str, path: str) -> None:
    write(ws, "compose.yml", f"services: {{web: {service}}}\n")
    assert refused(ws, "compose.yml") == (
        f"input 'compose-file': service 'web' names the path '{path}': bluegreen cannot know what "
        "${...} means on the server, so it cannot tell which local file to upload. Use a literal "
        "relative path (e.g. ./conf) for files in the repository, or an absolute path for files on the server"
    )


# --- refusals ------------------------------------------------------------------------------------


def test_a_missing_required_env_file_names_the_service_and_the_file(ws: Path) -> None:
    write(ws, "deploy/compose.yml", "services: {web: {image: a}, worker: {env_file: [{path: w.env}]}}\n")
    assert refused(ws, "deploy/compose.yml") == (
        "input 'compose-file': service 'worker' needs env_file 'w.env', but deploy/w.env does not exist. "
        "Add the file to the repository, or mark it `required: false`"
    )


def test_an_env_file_entry_that_is_not_a_path_is_refused(ws: Path) -> None:
    write(ws, "compose.yml", "services: {web: {env_file: [{required: false}]}}\n")
    assert "service 'web' has an env_file entry that is not a path" in refused(ws, "compose.yml")


def test_a_path_outside_the_workspace_names_the_file_and_the_service(ws: Path) -> None:
    write(ws.parent, "secret")
    write(ws, "compose.yml", "services: {web: {image: a}, db: {volumes: ['../secret:/s']}}\n")
    assert refused(ws, "compose.yml") == (
        f"input 'compose-file': {ws.parent / 'secret'}, used by service 'db', resolves to "
        f"{ws.parent / 'secret'}, outside the workspace. Keep the files the app needs in the repository, "
        "or mount an absolute path on the server"
    )


def test_a_symlink_out_of_the_workspace_is_refused(ws: Path) -> None:
    write(ws.parent, "outside/key")
    write(ws, "compose.yml", "services: {web: {volumes: ['./conf:/c']}}\n")
    write(ws, "conf/ok")
    (ws / "conf/key").symlink_to(ws.parent / "outside/key")
    assert refused(ws, "compose.yml").startswith(
        f"input 'compose-file': conf/key, used by service 'web', resolves to {ws.parent / 'outside/key'}, "
        "outside the workspace."
    )


def test_a_symlinked_source_out_of_the_workspace_is_refused(ws: Path) -> None:
    (ws.parent / "outside").mkdir()
    write(ws, "compose.yml", "services: {web: {env_file: app.env}}\n")
    (ws / "app.env").symlink_to(ws.parent / "outside")
    assert "app.env, used by service 'web', resolves to" in refused(ws, "compose.yml")


def test_broken_symlinks_and_symlink_loops_are_refused(ws: Path) -> None:
    write(ws, "compose.yml", "services: {web: {volumes: ['./conf:/c']}}\n")
    (ws / "conf").mkdir()
    (ws / "conf/gone").symlink_to(ws / "nothing")
    assert "conf/gone, used by service 'web', is a broken symlink" in refused(ws, "compose.yml")
    (ws / "conf/gone").unlink()
    (ws / "conf/loop").symlink_to(ws / "conf")
    assert "conf/loop, used by service 'web', is a symlink to its own parent" in refused(ws, "compose.yml")


def test_a_compose_file_outside_both_trees_is_refused(ws: Path) -> None:
    write(ws, "compose.yml", WEB)
    write(ws.parent, "other/compose.yml", WEB)
    assert "used by the compose files, resolves to" in refused(ws, "compose.yml", "../other/compose.yml")


def test_over_the_size_limit_names_the_biggest_files(ws: Path) -> None:
    compose = write(ws, "compose.yml", "services: {web: {volumes: ['./data:/d']}}\n")
    for name, size in [("a", 300_000), ("b", 700_000), ("c", 100_000), ("d", 500_000)]:
        write(ws, f"data/{name}", "x" * size)
    message = refused(ws, "compose.yml", max_bytes=1_500_000)
    assert message == (
        "input 'compose-file': the files to upload take 1.5 MiB, over the limit of 1.4 MiB; the biggest: "
        "data/b (0.7 MiB), data/d (0.5 MiB), data/a (0.3 MiB). Keep large files out of the mounted paths "
        "(bake them into the image), or raise the limit"
    )
    assert plan(ws, "compose.yml", max_bytes=1_600_100).total_bytes == 1_600_000 + len(compose.read_bytes())


def test_container_name_is_refused_when_one_file_serves_both_colors(ws: Path) -> None:
    write(ws, "compose.yml", "services: {web: {image: a}, db: {image: b, container_name: shop-db}}\n")
    assert refused(ws, "compose.yml", shared=True) == (
        "input 'compose-file': service 'db' sets container_name 'shop-db', but the same compose file runs "
        "both colors, so the second color's container could not start. Use one compose file per color "
        "with {color} in its name (e.g. `compose-file: deploy/docker-compose.{color}.yml`), or drop "
        "`container_name`"
    )
    assert plan(ws, "compose.yml", shared=False).services == ("web", "db")


def test_a_file_where_bluegreen_writes_its_own_is_refused(ws: Path) -> None:
    write(ws, "compose.yml", "services: {web: {env_file: app.env, volumes: ['./state:/s']}}\n")
    write(ws, "app.env")
    write(ws, "state/release.json")
    files = [ws / "compose.yml"]
    assert [u.remote for u in plan_bundle(files, ws, shared_by_colors=False).uploads] == [
        "compose.yml",
        "app.env",
        "state/release.json",
    ]
    for reserved, remote in [("app.env", "app.env"), ("state", "state/release.json")]:
        with pytest.raises(InputError) as caught:
            plan_bundle(files, ws, shared_by_colors=False, reserved={reserved: "bluegreen's own file"})
        assert str(caught.value).startswith(
            f"input 'compose-file': {remote}, used by service 'web', would land on '{remote}' on the host, "
            "where bluegreen's own file goes. Rename or move one of them"
        )


def test_two_files_on_one_remote_path_are_refused(ws: Path) -> None:
    # The common root makes this impossible for real paths; the check guards the invariant.
    write(ws, "a/x")
    write(ws, "b/x")
    first = _LocalFile(ws / "a/x", ws / "a/x", "service 'web'")
    second = _LocalFile(ws / "a/x", ws / "b/x", "service 'db'")
    with pytest.raises(
        InputError, match="a/x, used by service 'db', would land on 'a/x' on the host, where a/x goes"
    ):
        _uploads([first, second], ws, ws, {})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (None, " does not exist. Point `compose-file` at the app's compose file, relative to the workspace"),
        (
            "services: [unclosed\n",
            " is not valid YAML (line 2, column 1: expected ',' or ']', but got '<stream end>'). "
            "Fix the file's syntax",
        ),
        ("version: '3'\n", " defines no services. Add a `services:` section to it"),
        ("services: [web]\n", ": `services` is not a mapping of service names. Write `services:` as "),
    ],
)
def test_compose_file_problems_keep_configs_errors(ws: Path, text: str | None, problem: str) -> None:
    if text is not None:
        write(ws, "compose.yml", text)
    assert refused(ws, "compose.yml").startswith(f"input 'compose-file': {ws / 'compose.yml'}{problem}")


def test_no_compose_file_is_refused(ws: Path) -> None:
    assert (
        refused(ws) == "input 'compose-file': names no file. Set `compose-file` to the app's compose file(s)"
    )


# --- shared services -----------------------------------------------------------------------------


def test_parse_service_list() -> None:
    assert parse_service_list(" db ,\nredis\n\n, db,cache ,") == ("db", "redis", "cache")
    assert parse_service_list("") == ()


def test_check_shared_services(ws: Path) -> None:
    write(ws, "compose.yml", "services: {web: {image: a}, db: {image: b}}\n")
    bundle = plan(ws, "compose.yml")
    check_shared_services(("db",), bundle)
    with pytest.raises(InputError) as caught:
        check_shared_services(("db", "redis", "cache"), bundle)
    assert caught.value.input_name == "shared-services"
    assert str(caught.value) == (
        "input 'shared-services': names 'redis', 'cache', which the compose files do not define. "
        "Use services of the compose files: 'web', 'db'"
    )


def test_the_module_imports_neither_paramiko_nor_docker() -> None:
    code = "import sys, bluegreen.bundle; print(sorted({'paramiko', 'docker'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ}
    )
    assert result.stdout.strip() == "[]"
