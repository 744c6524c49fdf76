"""Step 4 on one host: start the new color (the shared services first, then pull, the release
command, `compose up` of the color's own services), or start a kept color's containers again."""

from __future__ import annotations

from collections.abc import Callable

from bluegreen.commands import Compose
from bluegreen.containers import ensure_network, start_containers
from bluegreen.errors import RemoteCommandError
from bluegreen.host_run import HostRun
from bluegreen.overrides import app_network
from bluegreen.records import Release
from bluegreen.release_command import RELEASE_TIMEOUT, ReleaseCommand
from bluegreen.untrusted import printable


def start_kept(run: HostRun, release: Release) -> None:
    """A rollback: the kept containers, exactly as they were (no pull, no recreate)."""
    start_containers(run.host.docker(), release.running)


def start_new(run: HostRun, release: Release, replacing: Callable[[], None]) -> None:
    """A deploy: the color anew from its uploaded release. `replacing` is called just before the
    color's kept containers are replaced (from then on they are this run's to undo)."""
    config, color = run.config, release.color
    ensure_network(run.host.docker(), app_network(run.app), run.app)
    shared = config.shared_services
    if shared:
        run.host.run(run.shared_compose(release).up_only(*shared)).check("starting the shared services")
    compose = run.compose(release)
    own = [s for s in config.bundles[color].services if s not in shared] if shared else []
    run.host.run(compose.pull(*own)).check(f"pulling the images of {color}")
    if config.release_command:
        _run_release_command(run, compose, config.release_command)
    replacing()
    run.host.run(compose.up(*own, no_deps=bool(shared))).check(f"starting {color}")


def _run_release_command(run: HostRun, compose: Compose, release: ReleaseCommand) -> None:
    """Before the new color starts; a one-off container, so the kept containers stay as they are."""
    run.report.info(f"release command: {release}")
    result = run.host.run(compose.run_once(release.service, release.argv), timeout=RELEASE_TIMEOUT)
    output = "\n".join(part.strip() for part in (result.stdout, result.stderr) if part.strip())
    if not result.ok:
        raise RemoteCommandError("the release command", str(release), result.exit_code, output)
    for line in output.splitlines()[-15:]:
        run.report.info(f"release command: {printable(line, 500)}")
