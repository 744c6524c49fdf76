"""Step 4 on one host: start the new color (the shared services first, then pull, the release
command, `compose up` of the color's own services), or start a kept color's containers again."""

from __future__ import annotations

from collections.abc import Callable

from bluegreen.containers import ensure_network, start_containers
from bluegreen.host_run import HostRun
from bluegreen.overrides import app_network
from bluegreen.records import Release
from bluegreen.registry_login import logged_in, pull, with_docker_config
from bluegreen.release_command import run_release_command


def start_kept(run: HostRun, release: Release) -> None:
    """A rollback: the kept containers, exactly as they were (no pull, no recreate)."""
    start_containers(run.host.docker(), release.running)


def start_new(run: HostRun, release: Release, replacing: Callable[[], None]) -> None:
    """A deploy: the color anew from its uploaded release. `replacing` is called just before the
    color's kept containers are replaced (from then on they are this run's to undo)."""
    config, color = run.config, release.color
    ensure_network(run.host.docker(), app_network(run.app), run.app)
    shared, login = config.shared_services, config.registry_login
    compose = run.compose(release)
    own = [s for s in config.bundles[color].services if s not in shared] if shared else []
    with logged_in(run.host, login, run.layout.app_dir, run.report) as docker_config:
        if shared:
            run.host.run(
                with_docker_config(run.shared_compose(release), docker_config).up_only(*shared)
            ).check("starting the shared services")
        what = f"pulling the images of {color}"
        pull(run.host, with_docker_config(compose, docker_config), own, what, login, config.image)
    if config.release_command:
        run_release_command(run.host, compose, config.release_command, run.report)
    replacing()
    run.host.run(compose.up(*own, no_deps=bool(shared))).check(f"starting {color}")
