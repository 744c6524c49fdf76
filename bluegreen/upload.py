"""Step 3 on one host: the new color's files, in a directory of this release's own (the kept
color's files are not touched), with bluegreen's env file and compose override beside them."""

from __future__ import annotations

from bluegreen import commands
from bluegreen.appdata import AppData
from bluegreen.colors import project_name
from bluegreen.config import env_file_text
from bluegreen.host_run import SHARED, HostRun, now_iso
from bluegreen.overrides import project_override
from bluegreen.records import Release, new_release_id


def upload(run: HostRun, target: str) -> Release:
    """Upload the target color's files; returns its release (not yet started, not recorded)."""
    layout, bundle, config = run.layout, run.config.bundles[target], run.config
    release_id = new_release_id()
    files_dir = layout.files_dir(target, release_id)
    roots = [files_dir, layout.shared_dir] if config.shared_services else [files_dir]
    parents = {f"{root}/{u.remote}".rsplit("/", 1)[0] for root in roots for u in bundle.uploads}
    run.host.run(commands.make_dirs(*sorted(parents))).check("creating directories")
    for root in roots:
        for upload in bundle.uploads:
            run.host.write_file(f"{root}/{upload.remote}", upload.local.read_bytes(), mode=upload.mode)
    compose_v1 = run.compose_cmd() == commands.COMPOSE_V1  # the env file's quoting differs
    env_text = env_file_text(config.app_env, compose_v1=compose_v1).encode()
    shared = config.shared_services
    shared_volumes = bundle.volumes_of(shared)
    live_release = run.records.release(run.live) if run.live else None
    parts = AppData(run.host, layout, run.app, run.report).prepare(
        bundle, target, shared, live_release, bool(config.app_env)
    )
    overrides = {target: project_override(run.app, project_name(run.app, SHARED), shared_volumes, parts)}
    if shared:
        overrides[SHARED] = project_override(run.app)
    for owner, override in overrides.items():
        run.host.write_file(layout.env_file(owner), env_text, mode=0o600)
        run.host.write_file(layout.override_file(owner), override.encode())
    return Release(
        color=target,
        release_id=release_id,
        compose_files=tuple(f"{files_dir}/{name}" for name in bundle.compose_files),
        environment=color_environment(run, target),
        image=config.image,
        started_at=now_iso(),
        actor=run.actor,
    )


def color_environment(run: HostRun, color: str) -> dict[str, str]:
    """The BLUEGREEN_* variables the color's compose runs with."""
    env = {
        "BLUEGREEN_COLOR": color,
        "BLUEGREEN_PORT": str(run.ports[color]),
        "BLUEGREEN_APP": run.app,
        "BLUEGREEN_ENV_FILE": run.layout.env_file(color),
    }
    if run.config.image:
        env["BLUEGREEN_IMAGE"] = run.config.image
    return env
