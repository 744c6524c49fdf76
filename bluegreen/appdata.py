"""What the app writes, kept for the app rather than for one color or one release.

A bind source missing from the repository is a data folder: `<app_dir>/data/<path>`, made once,
mounted by both colors, never uploaded over and never cleaned up. A named volume the colors'
services declare is one Docker volume per app (`<app>_<volume>`), mounted by both colors as an
external volume. Data of earlier deploys is adopted, not emptied: the live color's folder (kept in
its release directory) is moved into the data folder, and the live color's per-color volume
(`<app>-<color>_<volume>`) becomes the app's and is recorded as such in volumes.json.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bluegreen import commands
from bluegreen.bundle import Bundle, DataMount
from bluegreen.colors import project_name
from bluegreen.errors import BluegreenError, UnreadableFile
from bluegreen.host import Host
from bluegreen.layout import Layout
from bluegreen.overrides import AppParts
from bluegreen.progress import Reporter
from bluegreen.records import RELEASE_ID, Release
from bluegreen.untrusted import printable

if TYPE_CHECKING:
    import docker

VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
VOLUMES_LIMIT = 64 * 1024
DATABASE_IMAGES = ("postgres", "postgis", "mysql", "mariadb", "mongo", "redis", "valkey", "keydb",
                   "elasticsearch", "opensearch", "influxdb", "cassandra", "neo4j", "couchdb",
                   "clickhouse", "timescale", "cockroach", "memcached", "rabbitmq")  # fmt: skip


def color_services(bundle: Bundle, shared: Sequence[str]) -> tuple[str, ...]:
    return tuple(service for service in bundle.services if service not in shared)


def data_entry(mount: DataMount, host_path: str) -> str | dict[str, Any]:
    """The mount as written, with the data folder as its source (same target and options)."""
    if isinstance(mount.entry, str):
        return host_path + mount.entry[len(mount.source) :]
    return {**mount.entry, "source": host_path}


def app_volume(app: str, volume: str) -> str:
    return f"{app}_{volume}"


def looks_like_database(image: str) -> bool:
    """postgres:16, docker.io/library/mysql, bitnami/redis ... (by the image's last path part)."""
    name = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0].lower()
    return name.startswith(DATABASE_IMAGES)


def database_warnings(bundle: Bundle, shared: Sequence[str]) -> list[str]:
    """Per-color services with a volume whose image looks like a database: two colors would run two
    databases on one set of files (or on two sets, neither complete)."""
    warnings = []
    for service in color_services(bundle, shared):
        image = bundle.images.get(service, "")
        mounts = [m for m in bundle.data_mounts if m.service == service]
        has_volume = service in bundle.project_volumes or bool(mounts)
        if has_volume and looks_like_database(image):
            warnings.append(
                f"service '{service}' ({image}) looks like a database with its files in a volume, and it "
                "runs once per color: during a deploy two of them would use the same files. Run it once "
                f'per app: `shared-services: {service}` (see "Where your app\'s data lives" in the README)'
            )
    return warnings


class AppData:
    """Prepares, for the color about to start, what belongs to the app: data folders, volumes and
    the env file. Runs after the upload, before the color starts; it never removes anything."""

    def __init__(self, host: Host, layout: Layout, app: str, reporter: Reporter) -> None:
        self.host, self.layout, self.app, self.report = host, layout, app, reporter

    def prepare(
        self,
        bundle: Bundle,
        target: str,
        shared: Sequence[str],
        live_release: Release | None,
        env_given: bool,
    ) -> AppParts:
        for warning in database_warnings(bundle, shared):
            self.report.warning(warning)
        services = color_services(bundle, shared)
        mounts = [m for m in bundle.data_mounts if m.service in services]
        for remote in dict.fromkeys(m.remote for m in mounts):
            self._make_data_dir(remote, live_release)
        shared_volumes = set(bundle.volumes_of(shared))
        volumes = [v for v in bundle.volumes_of(services) if v not in shared_volumes]
        names = self._volumes(volumes, live_release.color if live_release else None)
        env_file = ""
        if env_given and not bundle.mentions_env_file:
            env_file = self.layout.env_file(target)
            self.report.info(
                "no compose file names ${BLUEGREEN_ENV_FILE}: every service of the color gets the `env` "
                "values (env_file added by bluegreen's override)"
            )
        return AppParts(
            mounts=tuple((m.service, data_entry(m, self.layout.data_path(m.remote))) for m in mounts),
            volumes=names,
            env_file=env_file,
            env_services=services,
        )

    def _make_data_dir(self, remote: str, live_release: Release | None) -> None:
        target = self.layout.data_path(remote)
        earlier, image = "", ""
        if live_release and RELEASE_ID.fullmatch(live_release.release_id):
            earlier = f"{self.layout.files_dir(live_release.color, live_release.release_id)}/{remote}"
            image = next(iter(live_release.image_ids.values()), "")
        argv = commands.make_data_dir(target, earlier, image, self.layout.app_dir)
        result = self.host.run(argv)
        if not result.ok:
            raise BluegreenError(
                f"could not make the app's data folder {target}"
                + (f" from {earlier}" if earlier else "")
                + f": {printable(result.stderr.strip(), 500)}. Nothing was started; move the folder "
                f"there by hand (e.g. `sudo mv {earlier or 'FOLDER'} {target}`) and deploy again"
            )
        if "bluegreen-adopted" in result.stdout:
            self.report.info(f"adopted the data of earlier deploys: {earlier} moved to {target}")

    def _volumes(self, volumes: Sequence[str], live: str | None) -> dict[str, str]:
        """Each volume's Docker name for the app: recorded, or the app's own, or (first deploy after
        an upgrade) the live color's per-color volume, adopted with its data. Made when missing."""
        if not volumes:
            return {}
        client = self.host.docker()
        recorded = self._recorded()
        names: dict[str, str] = {}
        for volume in volumes:
            name = recorded.get(volume, "")
            if not name:
                name = app_volume(self.app, volume)
                per_color = f"{project_name(self.app, live)}_{volume}" if live else ""
                if per_color and not _exists(client, name) and _exists(client, per_color):
                    name = per_color
                    self.report.info(f"adopted the live color's volume {per_color} as the app's '{volume}'")
            if not _exists(client, name):
                client.volumes.create(name, labels={"bluegreen.app": self.app, "bluegreen.volume": volume})
            names[volume] = name
        if any(recorded.get(volume) != name for volume, name in names.items()):
            merged = {**recorded, **names}
            self.host.write_file(self.layout.volumes_file, (json.dumps(merged, indent=2) + "\n").encode())
        return names

    def _recorded(self) -> dict[str, str]:
        try:
            raw = self.host.read_file(self.layout.volumes_file, limit=VOLUMES_LIMIT)
        except UnreadableFile as exc:
            self.report.warning(f"the app's volume record is unreadable ({exc}); it is written anew")
            return {}
        return _volume_record(raw) if raw else {}


def _volume_record(raw: bytes) -> dict[str, str]:
    try:
        data: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(key): value
        for key, value in data.items()
        if isinstance(value, str) and VOLUME_NAME.fullmatch(value) and VOLUME_NAME.fullmatch(str(key))
    }


def _exists(client: docker.DockerClient, name: str) -> bool:
    import docker.errors

    try:
        client.volumes.get(name)
    except docker.errors.NotFound:
        return False
    return True


def kept_releases(stdout: str) -> list[str]:
    """The release directories the cleanup left because they hold what an app wrote."""
    prefix = commands.KEPT_RELEASE + " "
    return [line[len(prefix) :] for line in stdout.splitlines() if line.startswith(prefix)]


def data_paths(bundle: Bundle) -> tuple[str, ...]:
    return tuple(dict.fromkeys(mount.remote for mount in bundle.data_mounts))


def refuse_include_on_v1(
    bundles: Mapping[str, Bundle], compose_program: Callable[[], tuple[str, ...]], host_name: str
) -> None:
    """compose v1 cannot read a top-level `include:`: one error before anything changes. The
    compose program is asked only when a file includes another."""
    if any(bundle.uses_include for bundle in bundles.values()) and compose_program() == commands.COMPOSE_V1:
        raise BluegreenError(
            f"the compose files use `include:`, which docker-compose 1.x on {host_name} cannot read; "
            "nothing was changed. Install Docker Compose v2 (`docker compose`) there, or list the "
            "included files in `compose-file` instead"
        )
