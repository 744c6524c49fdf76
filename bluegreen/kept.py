"""The kept color: the release a rollback goes back to, stopped in the color a deploy starts anew.

A deploy notes it before it uploads over it; when that deploy fails, `put_back` restores it as it
was: its env file and compose override, its containers (recreated, stopped, from its recorded
release files when the deploy had replaced them) and its release record. So `rollback` still works
after a failed deploy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bluegreen.colors import project_name
from bluegreen.containers import project_states
from bluegreen.errors import UnreadableFile
from bluegreen.host_run import HostRun
from bluegreen.records import Release
from bluegreen.stopped_color import stop_color

ENV_FILE_MODE = 0o600


@dataclass(frozen=True)
class Kept:
    release: Release
    services: tuple[str, ...]
    """The services of its kept containers."""
    files: dict[str, bytes]
    """bluegreen's files of the color (env file, compose override) as they were."""


def note_kept(run: HostRun, color: str) -> Kept | None:
    """The color's kept release, if a rollback could go back to it now (None: nothing is kept)."""
    release = run.records.release(color)
    if release is None or not release.running:
        return None
    states = {s.id: s for s in project_states(run.host.docker(), project_name(run.app, color))}
    if not set(release.running) <= set(states):
        return None
    files: dict[str, bytes] = {}
    for path in (run.layout.env_file(color), run.layout.override_file(color)):
        try:
            content = run.host.read_file(path)
        except UnreadableFile:
            content = None
        if content is not None:
            files[path] = content
    services = tuple(sorted({states[i].service for i in release.running if states[i].service}))
    return Kept(release, services, files)


def put_back(run: HostRun, kept: Kept, containers_replaced: bool) -> None:
    """Restore the kept release in its color, stopped. Its containers must be gone already when
    `containers_replaced` (this deploy's were removed)."""
    color = kept.release.color
    for path, content in kept.files.items():
        mode = ENV_FILE_MODE if path == run.layout.env_file(color) else 0o644
        run.host.write_file(path, content, mode=mode)
    if not containers_replaced:
        return
    project = project_name(run.app, color)
    create = run.compose(kept.release).create(*kept.services, no_deps=bool(run.config.shared_services))
    run.host.run(create).check(f"recreating the kept release of {color}")
    states = [s for s in project_states(run.host.docker(), project) if s.service in kept.services]
    image_ids = {s.name: s.image_id for s in states}
    run.records.write_release(replace(kept.release, running=tuple(s.id for s in states), image_ids=image_ids))
    if sorted(image_ids.values()) != sorted(kept.release.image_ids.values()):
        run.report.warning(
            f"{color}'s kept release is recreated from its files, but its image tag now names another "
            "image than it ran: a rollback would run that one"
        )
    stop_color(run.host, run.layout, run.app, color)  # created with its restart policy: taken away
    run.report.info(f"{color} holds its kept release again, stopped: a rollback still goes back to it")
